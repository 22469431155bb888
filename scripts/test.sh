#!/usr/bin/env bash
# The whole test suite on a fresh Debian machine: system packages where missing, a venv with
# the package and its test extras, then pytest. README's command 2 and CI both run this.
set -euo pipefail
cd "$(dirname "$0")/.."

source scripts/native-build.sh
PY=${PYTHON:-python3}

need=()
read -r -a need <<<"$(native_missing "$PY")"
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need+=(nginx-light)
command -v wrk >/dev/null 2>&1 || need+=(wrk)
[ -x /usr/lib/postgresql/15/bin/initdb ] || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
[ -x /bin/busybox ] || need+=(busybox-static)
# The status page's browser test (tests/runtime/test_status_chromium.py); it fails in CI without it.
command -v chromium >/dev/null 2>&1 || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
    else
        echo "missing system packages: ${need[*]} (run as root or install them)" >&2
    fi
fi
# Debian's nginx package starts a system nginx on :80; the tests run their own.
if command -v systemctl >/dev/null 2>&1; then systemctl stop nginx >/dev/null 2>&1 || true; fi

[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
install_if_changed .venv/bin/python '.[test]'
exec .venv/bin/python -m pytest "$@"
