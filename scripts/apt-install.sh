#!/usr/bin/env bash
# Installs Debian packages that are missing. Usage: apt-install.sh PKG...
# A first install can fail part-way on these machines (a cleanup hook
# removes downloaded packages between steps); a second attempt succeeds.
set -euo pipefail

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

missing=()
for pkg in "$@"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ "${#missing[@]}" -eq 0 ] && exit 0

install() {
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"
}
echo "installing Debian packages: ${missing[*]}"
install "${missing[@]}" || { echo "apt-get failed; retrying once"; sleep 3; install "${missing[@]}"; }
