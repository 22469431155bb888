# Sourced by demo.sh and test.sh. setup.py compiles the data path with mypyc, which needs a C
# compiler and the interpreter's Python.h. native_missing PY prints the Debian packages that
# are missing for that; native_or_pure PY falls back to the pure-Python build (slower, same
# behaviour) with a notice when they are still missing.

native_missing() {
    local py=$1 pkgs=()
    command -v gcc >/dev/null 2>&1 || pkgs+=(gcc libc6-dev)
    "$py" -c 'import os, sys, sysconfig
sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' \
        2>/dev/null || pkgs+=(python3-dev)
    echo "${pkgs[*]}"
}

native_or_pure() {
    local missing
    missing=$(native_missing "$1")
    if [ -n "$missing" ] && [ -z "${ODOO_ROUTER_PURE:-}" ]; then
        echo "note: no C toolchain for the compiled data path (missing: $missing);" \
            "building pure Python (ODOO_ROUTER_PURE=1), which is slower" >&2
        export ODOO_ROUTER_PURE=1
    fi
}

# The package is reinstalled (and its data path recompiled, ~30 s) only when a source file,
# setup.py, pyproject.toml or the build kind changed since the last install, or when the last
# install lacked the extras asked for ('.[test]' serves '.' too), so that a second start of the
# demo or of the tests is quick.
sources_hash() {  # names and contents: a module moved between packages is a change too
    {
        find src \( -name '*.py' -o -name '*.c' \) | sort
        find src \( -name '*.py' -o -name '*.c' \) -print0 | sort -z | xargs -0 cat setup.py pyproject.toml
    } | sha256sum
}

install_if_changed() {
    local py=$1 spec=$2 stamp=.venv/.odoo-router-install-stamp base have
    native_or_pure "$py"
    base="$(sources_hash) pure=${ODOO_ROUTER_PURE:-}"
    have=$(cat "$stamp" 2>/dev/null || true)
    if [ "$have" = "$base $spec" ] || { [ "$spec" = . ] && [ "${have#"$base "}" != "$have" ]; }; then
        "$py" -c 'import odoo_router' 2>/dev/null && return 0
    fi
    "$py" -m pip install -q -e "$spec" >/dev/null
    echo "$base $spec" >"$stamp"
}
