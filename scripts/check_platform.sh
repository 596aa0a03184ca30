#!/usr/bin/env bash
# Checks that this machine can run the TFX 1.21 wheels, and fixes it where that is safe.
#
#   scripts/check_platform.sh                  the C library and libstdc++ (make platform)
#   scripts/check_platform.sh --python CMD     that CMD is the supported interpreter, Python 3.11
#                                              (pyproject.toml: >=3.11,<3.12), before make
#                                              creates .venv with it (make's PYTHON, python3)
#
# ml-metadata 1.21.0 and tensorflow-data-validation 1.21.0 ship only manylinux_2_39 wheels:
# they need glibc >= 2.39 and a libstdc++ from GCC >= 13 (GLIBCXX_3.4.32, CXXABI_1.3.15).
# On Debian 12 (glibc 2.36, GCC 12), run as root, this script installs libc6 and libstdc++6
# from Debian 13 (trixie), pinned so that nothing else is taken from trixie. Anywhere else
# it stops with a message naming the requirement and the fix.
set -euo pipefail

need_glibc="2.39"
need_python="3.11"

if [ "${1:-}" = "--python" ]; then
  python="${2:?check_platform: --python needs a command}"
  if ! command -v "$python" >/dev/null 2>&1; then
    echo "check_platform: PYTHON=$python: no such command. This project runs on Python $need_python;" \
         "name one, e.g. make run PYTHON=python$need_python" >&2
    exit 1
  fi
  found=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || echo unknown)
  if [ "$found" != "$need_python" ]; then
    cat >&2 <<MSG
check_platform: PYTHON=$python is Python $found; this project supports Python $need_python only
  (pyproject.toml: requires-python >=3.11,<3.12; the pinned TFX 1.21 wheels are built for it).
  Fix: install Python $need_python and name it, e.g. make run PYTHON=python$need_python
       (make creates .venv with it once; later commands use .venv/bin/python).
MSG
    exit 1
  fi
  exit 0
fi

glibc_version() { getconf GNU_LIBC_VERSION 2>/dev/null | awk '{print $2}'; }

libstdcxx_path() {
  /sbin/ldconfig -p 2>/dev/null | awk '/libstdc\+\+\.so\.6 .*x86-64|libstdc\+\+\.so\.6 .*AArch64/ {print $NF; exit}'
}

version_ge() { [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" = "$2" ]; }

platform_ok() {
  local g lib
  g=$(glibc_version)
  [ -n "$g" ] && version_ge "$g" "$need_glibc" || return 1
  lib=$(libstdcxx_path)
  [ -n "$lib" ] && grep -qa 'GLIBCXX_3.4.32' "$lib" && grep -qa 'CXXABI_1.3.15' "$lib"
}

if platform_ok; then
  exit 0
fi

found_glibc=$(glibc_version || true)
debian=$(cat /etc/debian_version 2>/dev/null || echo none)

if [ "$(id -u)" = 0 ] && [[ "$debian" == 12* ]]; then
  echo "check_platform: glibc ${found_glibc:-unknown} and this libstdc++ are too old for the TFX 1.21 wheels" >&2
  echo "check_platform: (they need glibc >= $need_glibc and libstdc++ with GLIBCXX_3.4.32)." >&2
  echo "check_platform: Debian $debian as root: installing libc6 and libstdc++6 from Debian 13 (trixie)..." >&2
  cat > /etc/apt/sources.list.d/trixie-runtime.list <<'LIST'
deb http://deb.debian.org/debian trixie main
LIST
  # Take nothing from trixie unless asked for by name with -t trixie.
  cat > /etc/apt/preferences.d/trixie-runtime.pref <<'PREF'
Package: *
Pin: release n=trixie
Pin-Priority: 100
PREF
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >&2
  apt-get install -y -q -t trixie libc6 libstdc++6 >&2
  if platform_ok; then
    echo "check_platform: done: glibc $(glibc_version) and a new libstdc++ are installed." >&2
    exit 0
  fi
  echo "check_platform: the trixie runtime install did not give glibc >= $need_glibc; see the apt output above." >&2
  exit 1
fi

cat >&2 <<MSG
check_platform: this machine cannot run the TFX 1.21 stack.
  Needed: glibc >= $need_glibc and libstdc++ from GCC >= 13 (GLIBCXX_3.4.32, CXXABI_1.3.15),
          because ml-metadata and tensorflow-data-validation 1.21.0 exist only as manylinux_2_39 wheels.
  Found:  glibc ${found_glibc:-unknown}, Debian ${debian}, user $(id -un).
  Fix:    use Ubuntu 24.04 or Debian 13; or, on Debian 12, run 'make setup' as root, which installs
          libc6 and libstdc++6 from Debian 13 (trixie).
MSG
exit 1
