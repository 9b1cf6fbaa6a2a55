#!/bin/sh
# tests/integration/run.sh — run the integration suite against the daemon in $SOKETI_BIN
# (plugins from $SOKETI_PLUGIN_DIR_TEST), or against soketi 1.6 with SOKETI_REFERENCE=1.
# `make check` exports both variables. Installs the npm dependencies on first use: beside
# this script when it can, else (a read-only source tree, as in `make distcheck`) in a copy
# under the current directory.
#
# Sanitizer reports of a daemon built with --enable-sanitizers fail the test file whose
# daemon printed them (harness.mjs cleanup() reads each daemon's stderr after it exits).
set -e
here=$(cd "$(dirname "$0")" && pwd)

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

dir=$here
if [ ! -d "$here/node_modules" ] && [ ! -w "$here" ]; then
    dir=$PWD/integration-work
    mkdir -p "$dir"
    cp "$here"/package.json "$here"/package-lock.json "$here"/*.mjs "$dir"/
fi
cd "$dir"
if [ ! -d node_modules ]; then
    npm ci --no-audit --no-fund --loglevel=error
fi

if [ "$#" -eq 0 ]; then
    set -- *.test.mjs
fi
exec node --test --test-concurrency=2 --test-reporter=spec "$@"
