#!/usr/bin/env bash
# The Bull Board test drives Debian's Chromium (playwright-core downloads no browser). Installs it when
# missing; needs root and Debian's package mirror.
set -u
if [ -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ]; then exit 0; fi
echo "== installing Debian's chromium"
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q chromium >/dev/null 2>&1 || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium >/dev/null 2>&1; }
[ -x /usr/bin/chromium ] || { echo "could not install chromium"; exit 1; }
