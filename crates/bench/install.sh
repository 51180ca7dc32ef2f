#!/usr/bin/env bash
# Installs what berth-bench needs: CNCF Distribution (Debian's
# docker-registry, the peer), skopeo (the 20-layer image workload), and
# fontconfig with a font (text in the PNG chart). The harness itself and
# the berth it measures are built by cargo.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
"$here/../../scripts/apt-install.sh" docker-registry skopeo libfontconfig1-dev fonts-dejavu-core
# The package enables a registry service on :5000; the harness starts its own.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet docker-registry 2>/dev/null; then
  systemctl stop docker-registry || true
fi
for tool in docker-registry skopeo; do
  printf '  %s: %s\n' "$tool" "$("$tool" --version 2>/dev/null | head -n1)"
done
