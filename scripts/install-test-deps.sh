#!/usr/bin/env bash
# Installs the real clients the end-to-end tests drive, when missing.
# Debian packages: skopeo, podman, buildah. The Docker Engine must already
# run on the machine (tests fail loudly under CI=true when it does not).
set -euo pipefail

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

need=()
for tool in skopeo podman buildah; do
  command -v "$tool" >/dev/null 2>&1 || need+=("$tool")
done

apt_install() {
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"
}

if [ "${#need[@]}" -gt 0 ]; then
  echo "installing test clients: ${need[*]}"
  # A first install can fail part-way on these machines (a cleanup hook
  # removes downloaded packages between steps); a second attempt succeeds.
  apt_install "${need[@]}" || { echo "apt-get failed; retrying once"; sleep 3; apt_install "${need[@]}"; }
fi

for tool in skopeo podman buildah docker; do
  if command -v "$tool" >/dev/null 2>&1; then
    echo "  $tool: $("$tool" --version 2>/dev/null | head -n1)"
  else
    echo "  $tool: MISSING"
  fi
done
