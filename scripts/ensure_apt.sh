#!/usr/bin/env bash
# Install the Debian packages rnnmcu needs (compilers, cross compilers, QEMU, venv support),
# but only those missing: a machine that has them all never calls apt.
# Usage: scripts/ensure_apt.sh PKG...
set -euo pipefail

if [ "${RNNMCU_SKIP_APT:-0}" = "1" ]; then
    echo "rnnmcu: RNNMCU_SKIP_APT=1, not checking system packages" >&2
    exit 0
fi

if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "error: dpkg-query not found: this setup expects Debian 12 (or a derivative)." >&2
    echo "next: install these by hand (names are Debian's): $*" >&2
    echo "      then rerun with RNNMCU_SKIP_APT=1" >&2
    exit 3
fi

missing=()
for pkg in "$@"; do
    status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    if [ "$status" != "install ok installed" ]; then
        missing+=("$pkg")
    fi
done

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi

echo "rnnmcu: missing system packages: ${missing[*]}" >&2
if [ "$(id -u)" != "0" ]; then
    echo "error: installing system packages needs root." >&2
    echo "next: sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
    echo "      then rerun make" >&2
    exit 3
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
