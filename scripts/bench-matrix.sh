#!/usr/bin/env bash
# Matrix benchmark (run by hand, never by CI): digests per second delivered
# to a local Synapse beside a plain matrix-sdk send loop, and the time from
# an owner's poll vote reaching the homeserver to the answer being
# committed. See bot/benches/matrix.rs and docs/benchmarks.md.
#
#   scripts/bench-matrix.sh                      # SQLite, 10 owners x 20 digests, 10 x 20 votes
#   BENCH_BACKEND=postgres scripts/bench-matrix.sh
#   BENCH_OWNERS=20 BENCH_DIGESTS=10 BENCH_VOTES=10 scripts/bench-matrix.sh
#
# Starts its own Synapse (fresh data, rate limits raised), maildev and
# PostgreSQL under .peers/*-bench (the installs of scripts/test.sh are
# reused), so it can run beside a test run; stops them by PID on exit.
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"

PG_ROOT="$REPO_ROOT/.peers/postgres-matrix-bench"
SYNAPSE_ROOT="$REPO_ROOT/.peers/synapse-bench"
SYNAPSE_VENV="$REPO_ROOT/.peers/synapse/venv"
MAILDEV_PID_FILE="$REPO_ROOT/.peers/maildev/bench.pid"
MAILDEV_LOG="$REPO_ROOT/.peers/maildev/bench.log"
# shellcheck source=lib/postgres.sh
source "$REPO_ROOT/scripts/lib/postgres.sh"
# shellcheck source=lib/maildev.sh
source "$REPO_ROOT/scripts/lib/maildev.sh"
# shellcheck source=lib/synapse.sh
source "$REPO_ROOT/scripts/lib/synapse.sh"

mkdir -p "$PG_ROOT"
trap 'rc=$?; stop_synapse; stop_maildev; stop_postgres; exit $rc' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

banner "Building the benchmark (release)"
cargo bench --locked -p winventory --bench matrix --no-run

banner "Starting the peers"
PG_PORT=
start_postgres
export WINVENTORY_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres"
start_maildev
export WINVENTORY_TEST_SMTP_URL="smtp://127.0.0.1:$MAILDEV_SMTP_PORT"
export WINVENTORY_TEST_MAILDEV_API="http://127.0.0.1:$MAILDEV_WEB_PORT"
start_synapse
export WINVENTORY_TEST_SYNAPSE_URL="$SYNAPSE_URL"
export WINVENTORY_TEST_SYNAPSE_SECRET="$SYNAPSE_SECRET"

banner "Running (${BENCH_BACKEND:-sqlite})"
mkdir -p bench-data
cargo bench --locked -p winventory --bench matrix | tee "bench-data/results-matrix-${BENCH_BACKEND:-sqlite}.txt"
