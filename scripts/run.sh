#!/usr/bin/env bash
# `make run`: starts Berth from dist/ on its embedded defaults and prints how to reach it.
set -euo pipefail
token=$(cat .run/admin-token)
listen=${BERTH_LISTEN:-127.0.0.1:4646}
cat <<MSG
Berth API:   http://${listen}/v1   (contract: http://${listen}/openapi.yaml)
Admin token: ${token}
Try:         curl -H "Authorization: Bearer ${token}" -H 'Accept: application/yaml' http://${listen}/v1/config/image-registry/remote-registries
MSG
export BERTH_ADMIN_TOKEN="$token"
exec node dist/src/main.js
