#!/usr/bin/env bash
# Remove what install.sh put in place (same --prefix). Conversations, settings and API keys stay:
# they live in SnapAsk's data and config folders and the OS keyring, not in the install.
#
#   ./uninstall.sh [--prefix DIR]    default DIR: ~/.local
set -euo pipefail

prefix="$HOME/.local"
while (($#)); do
  case "$1" in
    --prefix) prefix="${2:?--prefix needs a folder}"; shift 2 ;;
    --prefix=*) prefix="${1#--prefix=}"; shift ;;
    -h | --help) sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "uninstall.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
data_home="${XDG_DATA_HOME:-}"
[[ "$data_home" == /* ]] || data_home="$HOME/.local/share"

# Only a link that points into our own app folder is ours to remove.
link="$prefix/bin/snapask"
if [[ -L "$link" && "$(readlink "$link")" == */lib/snapask/snapask ]]; then
  rm -f "$link"
fi
rm -rf "$prefix/lib/snapask"
rm -f "$data_home/applications/snapask.desktop"
rm -f "$data_home"/icons/hicolor/*/apps/snapask.png "$data_home"/icons/hicolor/scalable/apps/snapask.svg
command -v update-desktop-database >/dev/null && update-desktop-database -q "$data_home/applications" || true
echo "SnapAsk removed from $prefix (your conversations and settings are kept)"
