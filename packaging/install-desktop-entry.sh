#!/bin/sh
# Put Brainfit Workbench in the desktop's application menu (current user, no root):
# the .desktop file into ~/.local/share/applications with Exec pointing at this bundle, and the
# icon into the hicolor theme. Run it from the unpacked bundle; run it again after moving it.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
data=${XDG_DATA_HOME:-$HOME/.local/share}
mkdir -p "$data/applications"
for size in 16 24 32 48 64 128 256 512; do
  src="$here/_internal/resources/icons/brainfit-$size.png"
  [ -f "$src" ] || continue
  mkdir -p "$data/icons/hicolor/${size}x${size}/apps"
  cp "$src" "$data/icons/hicolor/${size}x${size}/apps/brainfit.png"
done
sed -e "s|^Exec=brainfit|Exec=\"$here/brainfit\"|" -e "s|^TryExec=brainfit|TryExec=$here/brainfit|" \
  "$here/brainfit.desktop" > "$data/applications/brainfit.desktop"
command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database "$data/applications" || true
echo "installed $data/applications/brainfit.desktop"
