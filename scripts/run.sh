#!/usr/bin/env bash
# `make run`: vault-dev in dev mode beside Berth (both from dist/), wired together, and how to reach them.
set -euo pipefail
# The node make uses (the machine's if new enough, else the one in .tools/), also when this script runs on its own.
PATH="$(bash scripts/node-toolchain.sh):$PATH"
token=$(cat .run/admin-token)
root=$(cat .run/vault-root-token)
listen=${BERTH_LISTEN:-127.0.0.1:4646}
vault_listen=${VAULT_DEV_LISTEN:-127.0.0.1:8200}
vault_addr="http://${vault_listen}"

node dist/vault-dev/src/main.js server --dev --listen="${vault_listen}" --dev-root-token-id="${root}" > .run/vault-dev.log 2>&1 &
vault_pid=$!
trap 'kill ${vault_pid} 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  grep -q 'vault-dev listening' .run/vault-dev.log 2>/dev/null && break
  kill -0 ${vault_pid} 2>/dev/null || { cat .run/vault-dev.log; exit 1; }
  sleep 0.1
done

# vault-dev in dev mode keeps nothing: give it back the tokens of the sites `make run SITE=...` set up here.
for token_file in .run/sites/*/admin-token; do
  [ -s "$token_file" ] || continue
  site_name=$(basename "$(dirname "$token_file")")
  curl -sSf -o /dev/null -X POST -H "X-Vault-Token: ${root}" "${vault_addr}/v1/secret/data/berth-sites/${site_name}" \
    --data-binary "{\"data\":{\"token\":\"$(cat "$token_file")\"}}"
done

cat <<MSG
Berth API:    http://${listen}/v1   (contract: http://${listen}/openapi.yaml, site registry: http://${listen}/v2/)
Admin token:  ${token}
Secret store: vault-dev (dev mode, in memory) at ${vault_addr}, root token ${root}
              unseal key and log: .run/vault-dev.log

Store a registry secret, then point a remote registry's credentials at it:
  curl -X POST -H "X-Vault-Token: ${root}" ${vault_addr}/v1/secret/data/registry-example \\
       -d '{"data": {"username": "robot", "password": "change-me"}}'
  curl -X POST -H "Authorization: Bearer ${token}" -H 'Content-Type: application/yaml' \\
       http://${listen}/v1/config/image-registry/remote-registries --data-binary \$'address: registry.example.com\ncredentials:\n  - repository: "*"\n    vault: secret\n    secret: registry-example\n'
  curl -H "Authorization: Bearer ${token}" -H 'Accept: application/yaml' http://${listen}/v1/config/image-registry/remote-registries

The same with the berth CLI (dist/src/cli/main.js; 'npm link' puts it on PATH as berth):
  alias berth="node $(pwd)/dist/src/cli/main.js"
  berth login http://${listen} --token ${token}
  berth show image-registry remote-registries
  berth --help

Sites on this machine: make run SITE=a LABELS=region=eu   (another terminal each; see README, "A fleet on one machine")
MSG

# Sites started with `make run SITE=...` listen on loopback over http://, so the tower may send their tokens there.
export BERTH_ADMIN_TOKEN="$token" VAULT_ADDR="$vault_addr" VAULT_TOKEN="$root" BERTH_SITES_ALLOW_HTTP=true
# V8's young generation capped, WebAssembly left at its baseline compiler, two V8 workers (see README): the same command as in production.
node --max-semi-space-size=2 --no-wasm-tier-up --no-wasm-dynamic-tiering --v8-pool-size=2 dist/src/main.js
