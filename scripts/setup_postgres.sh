#!/usr/bin/env bash
# Starts the PostgreSQL server the tune storage test needs (tests/tune/test_postgres_workers.py): Debian's
# postgresql, installed with apt-get where missing, one cluster of its own in $SLOTUNE_PG_DATA on 127.0.0.1,
# port $SLOTUNE_PG_PORT, trust authentication on loopback only, and an empty database slotune_test.
# Idempotent: with the server running it only checks. Needs root (or sudo) to install and to run as postgres.
set -euo pipefail

PORT="${SLOTUNE_PG_PORT:-54329}"
DATA="${SLOTUNE_PG_DATA:-/tmp/slotune-postgres}"
DB="slotune_test"

SUDO=""
if [[ "$(id -u)" -ne 0 ]]; then
    SUDO="sudo"
fi

pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }

if [[ -z "$(pg_bin)" ]]; then
    echo "tune storage: installing Debian's postgresql"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -q
    $SUDO apt-get install -y -q postgresql
fi
BIN="$(pg_bin)"

# initdb and the server refuse to run as root: they run as the postgres user the package creates.
as_postgres() {
    if [[ "$(id -un)" == "postgres" ]]; then
        "$@"
    elif [[ "$(id -u)" -eq 0 ]]; then
        runuser -u postgres -- "$@"
    else
        sudo -u postgres -- "$@"
    fi
}

if ! as_postgres "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
    if [[ ! -f "$DATA/PG_VERSION" ]]; then
        $SUDO mkdir -p "$DATA"
        $SUDO chown postgres:postgres "$DATA"
        as_postgres "$BIN/initdb" -D "$DATA" -A trust -U postgres >/dev/null
    fi
    as_postgres "$BIN/pg_ctl" -D "$DATA" -l "$DATA/server.log" -w \
        -o "-p $PORT -c listen_addresses=127.0.0.1 -k /tmp" start >/dev/null
fi
if ! as_postgres "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname = '$DB'" | grep -q 1; then
    as_postgres "$BIN/createdb" -h 127.0.0.1 -p "$PORT" -U postgres "$DB"
fi
echo "tune storage: postgresql://postgres@127.0.0.1:$PORT/$DB ($("$BIN/postgres" --version))"
