#!/usr/bin/env bash
# `make run SITE=NAME [LABELS=k=v,...]`: a Berth site beside the tower of `make run` on this machine, to try fleets.
# Everything of the site lives in .run/sites/NAME/ (tokens, ports, data, logs): its own vault-dev, its own ports,
# a `site` token from the tower, its admin token in the tower's secret store (secret/berth-sites/NAME), registered
# at the tower and following it. Needs the tower running (`make run` in another terminal).
set -euo pipefail
site=${1:?usage: run-site.sh NAME [LABELS]}
labels=${2:-}
[[ "$site" =~ ^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$ ]] || { echo "SITE=$site: 1 to 63 lowercase letters, digits and inner '-'" >&2; exit 2; }
[[ "$site" != control-tower ]] || { echo "SITE=control-tower is the tower's own name" >&2; exit 2; }
dir=.run/sites/$site
tower_listen=${BERTH_LISTEN:-127.0.0.1:4646}
tower=http://${tower_listen}
tower_vault=http://${VAULT_DEV_LISTEN:-127.0.0.1:8200}
[ -s .run/admin-token ] && [ -s .run/vault-root-token ] || { echo "no tower here: start it first with 'make run'" >&2; exit 1; }
tower_admin=$(cat .run/admin-token)
tower_root=$(cat .run/vault-root-token)

mkdir -p "$dir/data" && chmod 700 .run/sites "$dir"
free_port() { node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"; }
# Ports are chosen once and kept, so the tower's api-url for the site stays right across restarts.
[ -s "$dir/ports" ] || echo "$(free_port) $(free_port)" > "$dir/ports"
read -r port vault_port < "$dir/ports"
[ -s "$dir/admin-token" ] || (umask 077; echo "berth-$site-admin-$(openssl rand -hex 20)" > "$dir/admin-token")
[ -s "$dir/vault-root-token" ] || (umask 077; echo "vault-$site-root-$(openssl rand -hex 16)" > "$dir/vault-root-token")
admin=$(cat "$dir/admin-token")
root=$(cat "$dir/vault-root-token")

# Calls the tower's API as its admin; prints the body, fails on an unexpected status.
tower_api() {
  local method=$1 path=$2 body=${3:-} expect=${4:-2..}
  local out status
  out=$(curl -sS -o - -w '\n%{http_code}' -X "$method" -H "Authorization: Bearer $tower_admin" -H 'Content-Type: application/json' \
    ${body:+--data-binary "$body"} "$tower$path") || { echo "the tower at $tower does not answer: is 'make run' up?" >&2; exit 1; }
  status=${out##*$'\n'}
  [[ "$status" =~ ^$expect$ ]] || { echo "tower: $method $path answered $status: ${out%$'\n'*}" >&2; exit 1; }
  printf '%s' "${out%$'\n'*}"
}

# The token this site follows the tower with: role `site`, bound to it. Made again when the tower no longer knows it.
token_works() {
  [ -s "$dir/tower-token" ] && [ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $(cat "$dir/tower-token")" \
    "$tower/v1/state/system/changes?wait=0&site-name=$site")" = 200 ]
}
if ! token_works; then
  tower_api DELETE "/v1/config/system/tokens/site-$site" '' '(204|404)' > /dev/null
  created=$(tower_api POST /v1/config/system/tokens "{\"name\":\"site-$site\",\"role\":\"site\",\"site\":\"$site\"}")
  (umask 077; node -e 'process.stdout.write(JSON.parse(process.argv[1]).token + "\n")' "$created" > "$dir/tower-token")
fi

# The tower reaches the site with the site's admin token, kept in the tower's secret store.
curl -sSf -o /dev/null -X POST -H "X-Vault-Token: $tower_root" "$tower_vault/v1/secret/data/berth-sites/$site" \
  --data-binary "{\"data\":{\"token\":\"$admin\"}}" || { echo "cannot write to the tower's vault-dev at $tower_vault" >&2; exit 1; }

# Registered at the tower: created once, then only its address is brought up to date (its labels stay as set there).
labels_json=""
if [ -n "$labels" ]; then
  IFS=, read -ra pairs <<< "$labels"
  for pair in "${pairs[@]}"; do
    [[ "$pair" == *=* ]] || { echo "LABELS: expected key=value,..., got '$pair'" >&2; exit 2; }
    labels_json+="${labels_json:+,}\"${pair%%=*}\":\"${pair#*=}\""
  done
  labels_json=",\"labels\":{$labels_json}"
fi
registration="{\"name\":\"$site\",\"api-url\":\"http://127.0.0.1:$port\",\"vault\":\"secret\",\"secret\":\"berth-sites/$site\"$labels_json}"
if [ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $tower_admin" "$tower/v1/config/sites/$site")" = 200 ]; then
  tower_api PATCH "/v1/config/sites/$site" "$registration" > /dev/null
else
  tower_api PUT "/v1/config/sites/$site" "$registration" > /dev/null
fi

node dist/vault-dev/src/main.js server --dev --listen="127.0.0.1:$vault_port" --dev-root-token-id="$root" > "$dir/vault-dev.log" 2>&1 &
vault_pid=$!
trap 'kill ${vault_pid} 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  grep -q 'vault-dev listening' "$dir/vault-dev.log" 2>/dev/null && break
  kill -0 ${vault_pid} 2>/dev/null || { cat "$dir/vault-dev.log"; exit 1; }
  sleep 0.1
done

cat <<MSG
Site '$site':  http://127.0.0.1:$port/v1   (site registry: http://127.0.0.1:$port/v2/), data in $dir/data
Admin token:  $admin
Secret store: vault-dev (dev mode) at http://127.0.0.1:$vault_port, root token $root
Following:    the tower at $tower (token in $dir/tower-token)

From the tower:  curl -H "Authorization: Bearer $tower_admin" '$tower/v1/state/sites/$site'
Label it:        curl -X PATCH -H "Authorization: Bearer $tower_admin" -H 'Content-Type: application/yaml' \\
                      $tower/v1/config/sites/$site --data-binary \$'labels:\n  region: eu\n'
MSG

export BERTH_ADMIN_TOKEN="$admin" VAULT_ADDR="http://127.0.0.1:$vault_port" VAULT_TOKEN="$root"
export BERTH_SITE_NAME="$site" BERTH_TOWER_URL="$tower" BERTH_TOWER_TOKEN="$(cat "$dir/tower-token")"
export BERTH_LISTEN="127.0.0.1:$port" BERTH_DATA_DIR="$dir/data" BERTH_SITES_ALLOW_HTTP=true
# V8's young generation capped, WebAssembly left at its baseline compiler, two V8 workers (see README): the same command as in production.
node --max-semi-space-size=2 --no-wasm-tier-up --no-wasm-dynamic-tiering --v8-pool-size=2 dist/src/main.js
