# Sourced by scripts/setup and scripts/uv: the Python that SnapAsk's virtualenv is made with.

find_python() {
  local candidate
  for candidate in python3.13 python3.12 python3.11 python3; do
    if command -v "$candidate" >/dev/null &&
      "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      command -v "$candidate"
      return 0
    fi
  done
  echo "setup: SnapAsk needs Python 3.11 or newer" >&2
  return 1
}
