#!/usr/bin/env bash
# A throwaway PostgreSQL server on loopback, for the shared-study test of `lstmctl tune`.
#
#   scripts/test-postgres.sh install    # apt-get install postgresql if missing (root only)
#   scripts/test-postgres.sh start      # initdb + start; prints "URL DIR" on one line
#   scripts/test-postgres.sh stop DIR   # stop that server and remove DIR
#
# `make test` runs `install`; tests/test_tune_postgres.py runs `start` and
# `stop` around its test. The server listens on 127.0.0.1 only, on a free
# port, with trust authentication for one throwaway role: nothing outside this
# machine can reach it, and it lives only as long as the test.
set -euo pipefail

find_bin() {
  if command -v pg_ctl >/dev/null 2>&1 && command -v initdb >/dev/null 2>&1; then
    dirname "$(command -v pg_ctl)"
    return 0
  fi
  # Debian keeps the server binaries out of PATH.
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -n "$d" ] && [ -x "$d/pg_ctl" ]; then
    echo "$d"
    return 0
  fi
  return 1
}

install() {
  if find_bin >/dev/null; then
    return 0
  fi
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "test-postgres: PostgreSQL is not installed and apt-get cannot run here (needs root);" \
      "the PostgreSQL test will be skipped" >&2
    return 0
  fi
  echo "test-postgres: installing the Debian package postgresql" >&2
  export DEBIAN_FRONTEND=noninteractive
  if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends postgresql; } \
    >/tmp/lstmctl-apt-postgres.log 2>&1; then
    echo "test-postgres: apt-get install postgresql failed (see /tmp/lstmctl-apt-postgres.log);" \
      "the PostgreSQL test will be skipped" >&2
  fi
}

# Run a server binary as a user PostgreSQL accepts: it refuses to run as root.
as_server_user() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

start() {
  local bin dir port
  bin=$(find_bin) || { echo "PostgreSQL server binaries not found (install the Debian package postgresql)" >&2; exit 3; }
  if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
    echo "running as root but there is no 'postgres' user to run the server as" >&2
    exit 3
  fi
  dir=$(mktemp -d "${TMPDIR:-/tmp}/lstmctl-pg.XXXXXX")
  chmod 755 "$dir"
  [ "$(id -u)" = 0 ] && chown postgres "$dir"
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  if ! as_server_user "$bin/initdb" -D "$dir/data" -U lstmctl --auth=trust -E UTF8 \
    >"$dir/initdb.log" 2>&1; then
    echo "initdb failed: $(tail -n 3 "$dir/initdb.log" | tr '\n' ' ')" >&2
    rm -rf "$dir"
    exit 3
  fi
  if ! as_server_user "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $dir" start >/dev/null 2>&1; then
    echo "the server did not start: $(tail -n 3 "$dir/server.log" 2>/dev/null | tr '\n' ' ')" >&2
    rm -rf "$dir"
    exit 3
  fi
  echo "postgresql://lstmctl@127.0.0.1:$port/postgres $dir"
}

stop() {
  local dir=${1:?usage: test-postgres.sh stop DIR}
  local bin
  bin=$(find_bin) || exit 0
  if [ -d "$dir/data" ]; then
    as_server_user "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  case "$dir" in
    */lstmctl-pg.*) rm -rf "$dir" ;;
  esac
}

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop "${2:-}" ;;
  *) echo "usage: $0 install | start | stop DIR" >&2; exit 2 ;;
esac
