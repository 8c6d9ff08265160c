#!/usr/bin/env bash
# pg-test-cluster.sh: a throwaway PostgreSQL cluster for tests (trust auth, private socket dir,
# optionally 127.0.0.1:PORT, fsync off). Not for anything but tests.
#
#   pg-test-cluster.sh start DIR [PORT]   init a fresh cluster in DIR and start it; prints the URL
#                                         and writes it to DIR/url (unix socket) and DIR/tcp_url
#   pg-test-cluster.sh stop DIR           stop it and delete its data
#   pg-test-cluster.sh pause DIR          stop the server immediately, keep the data
#   pg-test-cluster.sh resume DIR         start a paused server again (same port and socket)
#
# The URL always uses the socket in DIR/sock, so it is known before start when PORT is given:
#   postgresql:///postgres?host=DIR/sock&port=PORT&user=postgres
# Without PORT a free TCP port is chosen. With PORT and that TCP port taken by someone else, the
# cluster listens on the socket only (same port number, no clash in a private dir).
# Server binaries: $PG_BIN, else the newest /usr/lib/postgresql/*/bin. When they are missing,
# `start` prints a notice and exits 0 (the tests then skip) unless VHSM_REQUIRE_PG is set, in
# which case it fails. initdb refuses to run as root, so as root the server runs as the
# `postgres` user via runuser; DIR is made accessible to it (or, when a parent directory is not
# searchable by postgres, the data lives in a private /tmp directory linked from DIR).
set -euo pipefail

usage() { echo "usage: $0 start|stop|pause|resume DIR [PORT]" >&2; exit 2; }
[ $# -ge 2 ] || usage
cmd=$1
dir=$2
port=${3:-}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

find_bin() {
  if [ -n "${PG_BIN:-}" ] && [ -x "$PG_BIN/initdb" ]; then echo "$PG_BIN"; return; fi
  local best=""
  for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/initdb" ] && best=$d
  done
  echo "$best"
}
bin=$(find_bin)

as_pg() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

tcp_port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

free_port() {
  local p
  for _ in $(seq 1 50); do
    p=$(( 20000 + (RANDOM % 30000) ))
    if ! tcp_port_busy "$p"; then echo "$p"; return; fi
  done
  echo "pg-test-cluster: no free TCP port found" >&2
  exit 1
}

pg_start() {  # uses $dir/opts; the log sits beside the real data dir, where postgres can write
  local opts log
  opts=$(cat "$dir/opts")
  log="$(dirname "$(readlink -f "$dir/data")")/server.log"
  if ! as_pg "$bin/pg_ctl" -D "$(readlink -f "$dir/data")" -l "$log" -w -t 60 -o "$opts" start >/dev/null; then
    echo "pg-test-cluster: server failed to start; log follows" >&2
    tail -n 30 "$log" >&2 || true
    exit 1
  fi
}

pg_stop() {  # $1: fast|immediate
  if [ -n "$bin" ] && [ -f "$dir/data/postmaster.pid" ]; then
    as_pg "$bin/pg_ctl" -D "$(readlink -f "$dir/data")" -m "$1" -w -t 60 stop >/dev/null 2>&1 || true
  fi
}

case "$cmd" in
  start)
    if [ -z "$bin" ]; then
      if [ -n "${VHSM_REQUIRE_PG:-}" ]; then
        echo "pg-test-cluster: PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin) and VHSM_REQUIRE_PG is set" >&2
        exit 1
      fi
      echo "pg-test-cluster: PostgreSQL server binaries not found; PostgreSQL tests will be skipped" >&2
      rm -f "$dir/url" "$dir/tcp_url"
      exit 0
    fi
    # A fresh cluster every time: stop and remove what an earlier run may have left.
    pg_stop immediate
    if [ -L "$dir/data" ]; then rm -rf "$(readlink "$dir/data")"; fi
    rm -rf "$dir/data" "$dir/sock" "$dir/url" "$dir/tcp_url" "$dir/opts" "$dir/server.log"
    if [ -z "$port" ]; then port=$(free_port); fi
    listen=127.0.0.1
    if tcp_port_busy "$port"; then
      echo "pg-test-cluster: 127.0.0.1:$port is taken; listening on the unix socket only" >&2
      listen=""
    fi
    if [ "$(id -u)" -eq 0 ]; then
      chown postgres: "$dir"
      if ! runuser -u postgres -- test -w "$dir"; then
        # A parent of DIR is not searchable by postgres (e.g. a 0700 temp or home directory).
        real=$(mktemp -d /tmp/vhsm-pg.XXXXXX)
        chown postgres: "$real"
        mkdir -p "$real/data" "$real/sock"
        chown postgres: "$real/data" "$real/sock"
        ln -s "$real/data" "$dir/data"
        ln -s "$real/sock" "$dir/sock"
      fi
    fi
    [ -e "$dir/sock" ] || mkdir -p "$dir/sock"
    [ -e "$dir/data" ] || mkdir -p "$dir/data"
    if [ "$(id -u)" -eq 0 ]; then chown postgres: "$dir/sock" "$dir/data" "$(readlink -f "$dir/sock")" "$(readlink -f "$dir/data")"; fi
    chmod 700 "$(readlink -f "$dir/data")"
    as_pg "$bin/initdb" -D "$(readlink -f "$dir/data")" -A trust -U postgres -E UTF8 --locale=C --no-sync \
      >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
    echo "-c listen_addresses='$listen' -c port=$port -c unix_socket_directories='$(readlink -f "$dir/sock")' -c fsync=off -c full_page_writes=off -c max_connections=200" >"$dir/opts"
    pg_start
    url="postgresql:///postgres?host=$dir/sock&port=$port&user=postgres"
    echo "$url" >"$dir/url"
    if [ -n "$listen" ]; then echo "postgresql://postgres@127.0.0.1:$port/postgres" >"$dir/tcp_url"; fi
    echo "$url"
    ;;
  pause)
    pg_stop immediate
    ;;
  resume)
    [ -f "$dir/opts" ] || { echo "pg-test-cluster: no cluster in $dir" >&2; exit 1; }
    pg_start
    cat "$dir/url"
    ;;
  stop)
    pg_stop fast
    if [ -L "$dir/data" ]; then rm -rf "$(dirname "$(readlink "$dir/data")")"; fi
    rm -rf "$dir/data" "$dir/sock" "$dir/url" "$dir/tcp_url" "$dir/opts" "$dir/server.log" "$dir/initdb.log"
    ;;
  *)
    usage
    ;;
esac
