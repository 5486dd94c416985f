#!/usr/bin/env bash
# Pack a built Linux bundle into snapask-<version>-linux-<arch>.tar.gz: the app folder plus
# install.sh, uninstall.sh, the menu entry and the icons. Prints the tarball's path.
#
#   packaging/linux/make-tarball.sh [BUNDLE_DIR] [OUT_DIR]    defaults: dist/snapask and dist
#
# BUNDLE_DIR comes from `pyinstaller snapask.spec`. Its version is read by running it, so a
# bundle that cannot start is not packed.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bundle=$(cd "${1:-$root/dist/snapask}" && pwd)
out_dir="${2:-$root/dist}"
[[ -x "$bundle/snapask" ]] || { echo "make-tarball.sh: no executable at $bundle/snapask" >&2; exit 1; }

version_line=$("$bundle/snapask" --version)
version=${version_line#snapask }
[[ "$version" =~ ^[0-9A-Za-z.+-]+$ ]] || { echo "make-tarball.sh: odd version: $version_line" >&2; exit 1; }
name="snapask-$version-linux-$(uname -m)"

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
top="$stage/$name"
mkdir -p "$top/share/applications" "$top/share/icons/hicolor/scalable/apps"
cp -R "$bundle" "$top/snapask"
cp "$here/install.sh" "$here/uninstall.sh" "$top/"
cp "$here/snapask.desktop" "$top/share/applications/"
cp "$root/resources/icons/snapask.svg" "$top/share/icons/hicolor/scalable/apps/"
for png in "$here"/icons/snapask-*.png; do
  size=${png##*/snapask-}
  size=${size%.png}
  mkdir -p "$top/share/icons/hicolor/${size}x${size}/apps"
  cp "$png" "$top/share/icons/hicolor/${size}x${size}/apps/snapask.png"
done
cat >"$top/README.txt" <<TEXT
SnapAsk $version for Linux ($(uname -m))

Install for this user (no root needed):   ./install.sh            (or ./install.sh --prefix DIR)
Then start SnapAsk from the application menu or run:   snapask
Run the sync server without installing:   ./snapask/snapask --sync-server --help
Remove:   ./uninstall.sh   (conversations and settings are kept)
TEXT

mkdir -p "$out_dir"
tarball="$(cd "$out_dir" && pwd)/$name.tar.gz"
tar -C "$stage" --owner=0 --group=0 --numeric-owner -czf "$tarball" "$name"
echo "$tarball"
