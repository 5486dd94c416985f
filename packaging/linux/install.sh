#!/usr/bin/env bash
# Install SnapAsk for this user from the unpacked Linux tarball: the app folder, a `snapask`
# command, the application-menu entry and the icons. No root needed; run it again to update.
#
#   ./install.sh [--prefix DIR]      default DIR: ~/.local (app in DIR/lib/snapask, command in DIR/bin)
#
# Menu entries and icons go to $XDG_DATA_HOME (default ~/.local/share). ./uninstall.sh undoes it.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
prefix="$HOME/.local"
while (($#)); do
  case "$1" in
    --prefix) prefix="${2:?--prefix needs a folder}"; shift 2 ;;
    --prefix=*) prefix="${1#--prefix=}"; shift ;;
    -h | --help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
[[ -x "$here/snapask/snapask" ]] || { echo "install.sh: $here/snapask/snapask is missing; run me from the unpacked tarball" >&2; exit 1; }
mkdir -p "$prefix"
prefix=$(cd "$prefix" && pwd)
case "$prefix" in
  *[\"\`\$\\]* | *$'\n'*) echo "install.sh: the prefix may not contain \" \` \$ \\ or newlines: $prefix" >&2; exit 2 ;;
esac

data_home="${XDG_DATA_HOME:-}"
[[ "$data_home" == /* ]] || data_home="$HOME/.local/share"  # the XDG spec: ignore a relative value
app_dir="$prefix/lib/snapask"
bin_dir="$prefix/bin"
exe="$app_dir/snapask"

# Copy the new app beside the old one, then swap: a failed copy leaves the old install working.
mkdir -p "$prefix/lib" "$bin_dir"
staging=$(mktemp -d "$prefix/lib/.snapask-new.XXXXXX")
trap 'rm -rf "$staging"' EXIT
cp -R "$here/snapask/." "$staging/"
chmod 755 "$staging"
rm -rf "$app_dir.old"
[[ -e "$app_dir" ]] && mv "$app_dir" "$app_dir.old"
mv "$staging" "$app_dir"
rm -rf "$app_dir.old"
trap - EXIT
ln -sfn "$exe" "$bin_dir/snapask"

# The menu entry runs the installed executable by its full path (quoted if it has spaces).
exec_path="$exe"
[[ "$exe" == *[[:space:]\'\>\<\~\|\&\;\*\?\#\(\)]* ]] && exec_path="\"$exe\""
exec_path=${exec_path//%/%%}
mkdir -p "$data_home/applications"
while IFS= read -r line; do
  case "$line" in
    Exec=snapask*) printf 'Exec=%s%s\n' "$exec_path" "${line#Exec=snapask}" ;;
    *) printf '%s\n' "$line" ;;
  esac
done <"$here/share/applications/snapask.desktop" >"$data_home/applications/snapask.desktop"

for icon in "$here"/share/icons/hicolor/*/apps/snapask.*; do
  size_dir=$(basename "$(dirname "$(dirname "$icon")")")
  mkdir -p "$data_home/icons/hicolor/$size_dir/apps"
  cp "$icon" "$data_home/icons/hicolor/$size_dir/apps/"
done

# Refresh the menu's cache where the tool exists; menus also notice the file without it. (No
# icon cache is written: a user-level one would hide icons that other apps add later.)
command -v update-desktop-database >/dev/null && update-desktop-database -q "$data_home/applications" || true

echo "SnapAsk installed in $app_dir"
echo "  command:    $bin_dir/snapask"
echo "  menu entry: $data_home/applications/snapask.desktop"
case ":$PATH:" in *":$bin_dir:"*) ;; *) echo "  note: $bin_dir is not on your PATH" ;; esac
