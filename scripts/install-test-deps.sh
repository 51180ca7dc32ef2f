#!/usr/bin/env bash
# Installs the real clients the end-to-end tests drive, when missing:
# skopeo, podman, buildah (Debian), and what the benchmark harness needs
# (crates/bench/install.sh: CNCF Distribution, fontconfig). The Docker
# Engine is the machine's own; if its daemon is installed but not running,
# it is started.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

scripts/apt-install.sh skopeo podman buildah
crates/bench/install.sh >/dev/null

# The docker tests need a running daemon on this machine's loopback.
if command -v docker >/dev/null 2>&1 && ! docker info >/dev/null 2>&1; then
  if command -v dockerd >/dev/null 2>&1; then
    echo "starting dockerd (log: /tmp/berth-dockerd.log)"
    $SUDO sh -c 'nohup dockerd >/tmp/berth-dockerd.log 2>&1 &'
    for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  fi
  docker info >/dev/null 2>&1 || echo "  docker daemon: NOT RUNNING (the docker tests will fail under CI=true)"
fi

for tool in skopeo podman buildah docker docker-registry; do
  if command -v "$tool" >/dev/null 2>&1; then
    echo "  $tool: $("$tool" --version 2>/dev/null | head -n1)"
  else
    echo "  $tool: MISSING"
  fi
done
