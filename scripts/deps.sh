#!/usr/bin/env bash
# deps.sh - installs what building and testing soketi-c needs, from Debian 12 packages.
# Idempotent: installs only what is missing. Run as root (or with sudo available).
set -euo pipefail

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

pkgs=(build-essential autoconf automake libtool pkg-config
      libevent-dev libhiredis-dev libinih-dev libjansson-dev libssl-dev zlib1g-dev
      libcurl4-openssl-dev libnats-dev check clang clang-format valgrind curl ca-certificates
      redis-server nats-server)
if [ "${1:-}" = "--test" ]; then
    # chromium: browser tests; python3: the systemd notify test; dpkg-dev to lintian: the
    # Debian packages test (tests/package.sh: make deb, lintian); libclang-rt-dev: libFuzzer
    # for the fuzz smoke (tests/fuzz); iproute2: the network namespaces of the cluster
    # adapter tests; redis-sentinel: the redis adapter's Sentinel tests.
    pkgs+=(chromium python3 dpkg-dev debhelper fakeroot lintian libclang-rt-dev iproute2
           redis-sentinel)
    command -v node >/dev/null 2>&1 || pkgs+=(nodejs npm)
fi

missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
    echo "deps: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# redis-server, redis-sentinel and nats-server are installed for the Redis and NATS adapter
# tests; the packages' own services are not needed (tests start their own servers on loopback).
