#!/usr/bin/env bash
# Install wrk (Debian package `wrk`), the HTTP load generator of benchmarks/auth.py, when it is
# not on PATH; idempotent. Used by `make bench` (benchmarks/common.require also tries apt-get).
set -euo pipefail
if command -v wrk >/dev/null 2>&1; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "wrk is missing and apt-get is not available: install wrk (https://github.com/wg/wrk)" >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends wrk >/dev/null
command -v wrk >/dev/null
