# shellcheck shell=bash
# Source from a benchmark script after setting REPO_ROOT: starts the private
# benchmark cluster (.peers/postgres-bench; durable: fsync and synchronous
# commit on) on a free port from 54429, stops it by PID when the script
# exits, and sets PGURL (postgres://postgres@127.0.0.1:PORT, no database).
# Set PG_EXTRA_OPTS before to change the server settings (default:
# shared_buffers=512MB, max_wal_size=4GB).
PG_ROOT="$REPO_ROOT/.peers/postgres-bench"
PG_FIRST_PORT=54429
PG_EXTRA_OPTS="${PG_EXTRA_OPTS:--c shared_buffers=512MB -c max_wal_size=4GB}"
# shellcheck source=postgres.sh
source "$REPO_ROOT/scripts/lib/postgres.sh"
mkdir -p "$PG_ROOT"
trap 'stop_postgres' EXIT
PG_PORT=
start_postgres >/dev/null
PGURL="postgres://postgres@127.0.0.1:$PG_PORT"
