#!/usr/bin/env bash
# Headless Chromium and its WebDriver from Debian's packages, for the console's browser tests
# (tests/e2e/test_console.py). Idempotent: does nothing when both are already installed.
# Called by `make test`; needs root (or sudo) on a machine without them.
set -euo pipefail
if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
  exit 0
fi
as_root=()
[ "$(id -u)" = 0 ] || as_root=(sudo)
echo "install_browser: installing chromium and chromium-driver (Debian packages)"
"${as_root[@]}" apt-get update -q
DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -q --no-install-recommends chromium chromium-driver
