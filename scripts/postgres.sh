#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests, on a free loopback port.
#   eval "$(scripts/postgres.sh start DIR)"   # exports BERTH_TEST_POSTGRES
#   scripts/postgres.sh stop DIR      # immediate stop (a crash, as far as clients see)
#   scripts/postgres.sh resume DIR    # starts it again on the same port
# BERTH_PG_FSYNC=on makes the cluster durable (benchmarks; the default, off,
# suits tests, whose data is thrown away).
# Uses Debian's postgresql (initdb and pg_ctl from /usr/lib/postgresql/*/bin),
# run as the postgres user when called as root (PostgreSQL refuses root).
# The tests create a database each under BERTH_TEST_POSTGRES's server.
set -euo pipefail

cmd=${1:?usage: postgres.sh start|stop|resume DIR}
dir=${2:?usage: postgres.sh start|stop DIR}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)
if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
  echo "postgres.sh: PostgreSQL is not installed (Debian package postgresql)" >&2
  exit 1
fi

as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# Starts the cluster in DIR on the port and with the fsync setting that
# `start` recorded there.
serve() {
  as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/data/server.log" -w \
    -o "-c listen_addresses=127.0.0.1 -p $(cat "$dir/port") -k $dir/data -c fsync=$(cat "$dir/fsync") -c max_connections=400" start >&2
}

case "$cmd" in
  start)
    mkdir -p "$dir"
    if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$dir"; fi
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    as_pg "$bin/initdb" -A trust -U postgres --no-sync -D "$dir/data" >"$dir/initdb.log" 2>&1 ||
      { cat "$dir/initdb.log" >&2; exit 1; }
    echo "$port" >"$dir/port"
    # fsync off by default: the tests' data is thrown away; berth's own
    # durability is PostgreSQL's commit, which the crash tests exercise on
    # the embedded store.
    echo "${BERTH_PG_FSYNC:-off}" >"$dir/fsync"
    serve
    echo "export BERTH_TEST_POSTGRES=postgres://postgres@127.0.0.1:$port/postgres"
    ;;
  stop)
    [ -d "$dir/data" ] && as_pg "$bin/pg_ctl" -D "$dir/data" -m immediate stop >&2 || true
    ;;
  resume)
    serve
    ;;
  *)
    echo "usage: postgres.sh start|stop|resume DIR" >&2
    exit 2
    ;;
esac
