#!/usr/bin/env bash
# Qt's xcb platform plugin needs these system libraries; a fresh Debian/Ubuntu lacks some.
# Installs them when we are root with apt-get, otherwise prints the exact command.
set -u
pkgs=(libxcb-icccm4 libxcb-cursor0 libxkbcommon-x11-0 libxcb-keysyms1 libxcb-image0
      libxcb-render-util0 libxcb-shape0 libxcb-xinerama0 libegl1)
libs=(libxcb-icccm.so.4 libxcb-cursor.so.0 libxkbcommon-x11.so.0 libxcb-keysyms.so.1
      libxcb-image.so.0 libxcb-render-util.so.0 libxcb-shape.so.0 libxcb-xinerama.so.0 libEGL.so.1)
[ "$(uname -s)" = "Linux" ] || exit 0
command -v ldconfig >/dev/null 2>&1 || exit 0
missing=()
for i in "${!libs[@]}"; do
  ldconfig -p 2>/dev/null | grep -q "${libs[$i]}" || missing+=("${pkgs[$i]}")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing Qt's xcb system libraries: ${missing[*]}"
  (apt-get install -y "${missing[@]}" >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y "${missing[@]}" >/dev/null; }) \
    || echo "Could not install them; run: sudo apt-get install -y ${missing[*]}"
else
  echo "Qt needs system libraries that are missing. Run:"
  echo "  sudo apt-get install -y ${missing[*]}"
fi
