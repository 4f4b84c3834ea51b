#!/usr/bin/env bash
# Debian's Chromium for the console's browser tests (tests/console), which Playwright drives
# instead of a browser download of its own.
#
#   scripts/chromium.sh ensure   install chromium with apt-get when it is missing (as root, or
#                                with sudo), then print its path
#   scripts/chromium.sh path     print its path; exit 1 when it is missing
#
# Override the binary with PARLEY_CHROMIUM.
set -euo pipefail

SCRIPT_NAME="chromium.sh"
ENV_FILE=/dev/null
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

find_chromium() {
  local cand
  for cand in "${PARLEY_CHROMIUM:-}" /usr/bin/chromium /usr/bin/chromium-browser; do
    if [ -n "$cand" ] && [ -x "$cand" ]; then
      printf '%s\n' "$cand"
      return 0
    fi
  done
  return 1
}

install_chromium() {
  local sudo=()
  if ! is_root; then
    command -v sudo >/dev/null 2>&1 || die "chromium not found and not root: apt-get install chromium"
    sudo=(sudo)
  fi
  log "installing chromium with apt-get"
  "${sudo[@]}" apt-get update -qq >&2
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    chromium fonts-dejavu-core >&2
}

case "${1:-}" in
  ensure)
    find_chromium || { install_chromium && find_chromium; } || die "chromium is still missing after apt-get"
    ;;
  path)
    find_chromium
    ;;
  *)
    echo "usage: $0 {ensure|path}" >&2
    exit 2
    ;;
esac
