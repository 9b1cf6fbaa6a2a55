#!/usr/bin/env bash
# run.sh - sets up, builds and starts soketi-c on its embedded defaults:
# local adapter, app app-id / app-key / app-secret, port 6001.
# Extra arguments go to `soketi start` (e.g. --config=/etc/soketi.conf).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/deps.sh"
"$top/scripts/build.sh" "$top/build"
exec "$top/build/soketi" start --plugin-dir="$top/build/plugins/.libs" "$@"
