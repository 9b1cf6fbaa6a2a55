#!/usr/bin/env bash
# build.sh - configures and builds soketi-c out of tree in build/ (or $1).
#   scripts/build.sh [BUILD_DIR] [configure args...]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
bdir=${1:-$top/build}
shift || true
cd "$top"
[ -x configure ] && [ configure -nt configure.ac ] && [ configure -nt Makefile.am ] || autoreconf -fi >/dev/null
mkdir -p "$bdir"
cd "$bdir"
[ -f Makefile ] && [ "$#" -eq 0 ] || "$top/configure" -q "$@"
make -j"$(nproc)" >/dev/null
echo "build: $bdir/soketi"
