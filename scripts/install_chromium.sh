#!/usr/bin/env bash
# Makes sure Debian's chromium is installed (the report test renders the report in it).
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "install_chromium: installing Debian's chromium for the report test..." >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >&2
  apt-get install -y -q chromium >&2
  exit 0
fi
echo "install_chromium: the report test needs Chromium at /usr/bin/chromium." >&2
echo "  Install it (Debian/Ubuntu: 'sudo apt-get install chromium') and run make test again." >&2
exit 1
