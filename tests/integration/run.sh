#!/bin/sh
# tests/integration/run.sh — run the integration suite against the daemon in $SOKETI_BIN
# (plugins from $SOKETI_PLUGIN_DIR_TEST), or against soketi 1.6 with SOKETI_REFERENCE=1.
# `make check` exports both variables. Installs the npm dependencies on first use.
set -e
cd "$(dirname "$0")"

if [ -z "$SOKETI_REFERENCE" ]; then
    if [ -z "$SOKETI_BIN" ]; then
        echo "run.sh: SOKETI_BIN is not set; point it at the built daemon (make check exports it)," >&2
        echo "        e.g. SOKETI_BIN=/path/to/build/soketi SOKETI_PLUGIN_DIR_TEST=/path/to/build/plugins/.libs $0" >&2
        exit 2
    fi
    if [ ! -x "$SOKETI_BIN" ]; then
        echo "run.sh: SOKETI_BIN=$SOKETI_BIN is not an executable file" >&2
        exit 2
    fi
fi

if [ ! -d node_modules ]; then
    npm ci --no-audit --no-fund
fi

if [ "$#" -eq 0 ]; then
    set -- *.test.mjs
fi
exec node --test --test-concurrency=2 --test-reporter=spec "$@"
