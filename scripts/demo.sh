#!/usr/bin/env bash
# README command 1: the router on config/router.demo.yaml (the production profile) in front
# of a fake Odoo on loopback, so real routing decisions show without an Odoo.
# Ctrl-C, or a signal to this script's PID, stops both. A second start with nothing changed
# skips the install and its compile (install_if_changed, scripts/native-build.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/native-build.sh
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv

install_if_changed .venv/bin/python .

pids=()
stop() {
    trap - INT TERM HUP EXIT
    [ ${#pids[@]} -eq 0 ] || kill -TERM "${pids[@]}" 2>/dev/null || true
    wait || true
}
trap 'stop; exit 130' INT
trap 'stop; exit 143' TERM HUP
trap stop EXIT

.venv/bin/python -m odoo_router.ops.demo \
    --listen 127.0.0.1:18069=tenant --listen 127.0.0.1:18072=tenant_lp \
    --listen 127.0.0.1:18169=admin --listen 127.0.0.1:18172=admin_lp &
pids+=($!)
cat <<'TXT'

odoo-router demo on http://127.0.0.1:8080 (Ctrl-C stops it). In another shell try:
  curl -H 'Host: acme.erp.seisei.tokyo' http://127.0.0.1:8080/jsonrpc -d '{}'
  curl -i -H 'Host: acme.erp.seisei.tokyo' http://127.0.0.1:8080/web/database/manager
  curl -i -H 'Host: acme.erp.seisei.tokyo' http://127.0.0.1:8080/web/login
  curl -i -H 'Host: nobody.example' http://127.0.0.1:8080/
  curl -i -H 'Host: acme.erp.seisei.tokyo' -H 'Content-Type: application/json' \
       http://127.0.0.1:8080/web/session/authenticate \
       -d '{"jsonrpc":"2.0","method":"call","params":{"db":"ten_other","login":"a","password":"b"}}'
  curl -H 'Host: admin.erp.seisei.tokyo' http://127.0.0.1:8080/web/database/manager
  .venv/bin/odoo-router explain --config config/router.demo.yaml acme.erp.seisei.tokyo /jsonrpc
  curl http://127.0.0.1:9145/metrics

TXT
.venv/bin/odoo-router --config config/router.demo.yaml &
pids+=($!)
# Either one ending (the router refused its config, the fake Odoo's port was taken) ends both.
set +e
wait -n
rc=$?
stop
exit $rc
