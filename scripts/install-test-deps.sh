#!/usr/bin/env bash
# Installs the real clients the end-to-end tests drive, when missing.
# Debian packages: skopeo, podman, buildah. The Docker Engine is the
# machine's own; if its daemon is installed but not running, it is started.
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

# The docker tests need a running daemon on this machine's loopback.
if command -v docker >/dev/null 2>&1 && ! docker info >/dev/null 2>&1; then
  if command -v dockerd >/dev/null 2>&1; then
    echo "starting dockerd (log: /tmp/berth-dockerd.log)"
    $SUDO sh -c 'nohup dockerd >/tmp/berth-dockerd.log 2>&1 &'
    for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  fi
  docker info >/dev/null 2>&1 || echo "  docker daemon: NOT RUNNING (the docker tests will fail under CI=true)"
fi

for tool in skopeo podman buildah docker; do
  if command -v "$tool" >/dev/null 2>&1; then
    echo "  $tool: $("$tool" --version 2>/dev/null | head -n1)"
  else
    echo "  $tool: MISSING"
  fi
done
