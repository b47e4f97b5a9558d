#!/usr/bin/env bash
# Run every check and test of the workspace against a real, throwaway
# PostgreSQL cluster.
#
#   scripts/test.sh                          # everything
#   SKIP_LINT=1 scripts/test.sh              # skip rustfmt + clippy
#   scripts/test.sh -E 'test(some_name)'     # extra args go to `cargo nextest run`
#
# The cluster lives in the ignored folder .peers/postgres/ (data/, sock/, log),
# is created once and reused, listens on 127.0.0.1 only on a free port, and is
# always stopped by PID when this script exits. Tests find it through
# WINVENTORY_TEST_POSTGRES_URL and create their own databases inside it.
#
# Environment:
#   SKIP_LINT=1   skip `cargo fmt --check` and `cargo clippy`
#   CI=true       use the nextest `ci` profile (.config/nextest.toml)
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"

PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"
PG_ROOT="$REPO_ROOT/.peers/postgres"
PG_DATA="$PG_ROOT/data"
PG_SOCK="$PG_ROOT/sock"
PG_LOG="$PG_ROOT/log"
PG_FIRST_PORT=54329
PG_USER=postgres

banner() {
    printf '\n\033[1m==> %s\033[0m\n' "$*"
}

die() {
    printf 'error: %s\n' "$*" >&2
    exit 1
}

# Run a command as the postgres OS user (initdb refuses root). When the script
# is not run as root, the current user owns the cluster instead.
as_pg() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u "$PG_USER" -- "$@"
    else
        "$@"
    fi
}

# PID of a postmaster running on our data dir, or nothing.
running_pg_pid() {
    local pid
    [ -f "$PG_DATA/postmaster.pid" ] || return 0
    pid="$(head -n 1 "$PG_DATA/postmaster.pid" 2>/dev/null || true)"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 0
    kill -0 "$pid" 2>/dev/null || return 0
    # Guard against PID reuse: it must be a postgres process on our data dir.
    if [ -r "/proc/$pid/cmdline" ] && ! grep -qaF -- "$PG_DATA" "/proc/$pid/cmdline"; then
        return 0
    fi
    echo "$pid"
}

stop_postgres() {
    local pid i
    pid="$(running_pg_pid)"
    [ -n "$pid" ] || return 0
    echo "Stopping PostgreSQL (pid $pid)"
    kill -INT "$pid" 2>/dev/null || true # fast shutdown
    for ((i = 0; i < 200; i++)); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    echo "PostgreSQL (pid $pid) still running after 20 s; sending SIGKILL" >&2
    kill -KILL "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    # Backends exit on their own once the postmaster is gone; the stale
    # postmaster.pid is cleaned up by the next run.
}

port_in_use() {
    # A successful connect means something is listening there.
    timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

start_postgres() {
    local port attempt i pid

    [ -x "$PG_BIN/pg_ctl" ] || die "PostgreSQL binaries not found in $PG_BIN (set PG_BIN)"

    mkdir -p "$PG_DATA" "$PG_SOCK"
    chmod go+x "$REPO_ROOT/.peers"
    if [ "$(id -u)" -eq 0 ]; then
        id "$PG_USER" >/dev/null 2>&1 || die "OS user '$PG_USER' does not exist"
        chown -R "$PG_USER:$PG_USER" "$PG_ROOT"
        as_pg test -w "$PG_DATA" ||
            die "user '$PG_USER' cannot write to $PG_DATA (is a parent directory of $REPO_ROOT private?)"
    fi
    chmod 700 "$PG_DATA"

    # A server left behind by an interrupted run: stop it by PID.
    pid="$(running_pg_pid)"
    if [ -n "$pid" ]; then
        echo "A previous PostgreSQL (pid $pid) is still running; stopping it"
        stop_postgres
    fi
    rm -f "$PG_DATA/postmaster.pid"

    if [ ! -f "$PG_DATA/PG_VERSION" ]; then
        echo "Creating throwaway cluster in $PG_DATA"
        # initdb needs an empty directory; clear any half-made one.
        find "$PG_DATA" -mindepth 1 -delete
        as_pg "$PG_BIN/initdb" -D "$PG_DATA" -U postgres -A trust -E UTF8 \
            --locale=C.UTF-8 --no-sync >"$PG_ROOT/initdb.log" 2>&1 || {
            cat "$PG_ROOT/initdb.log" >&2
            die "initdb failed"
        }
    fi

    # Pick a free port; retry a few times in case another process grabs it
    # between the check and the bind.
    port=$PG_FIRST_PORT
    for ((attempt = 1; attempt <= 5; attempt++)); do
        while port_in_use "$port"; do
            port=$((port + 1))
            [ "$port" -lt $((PG_FIRST_PORT + 200)) ] || die "no free port from $PG_FIRST_PORT upward"
        done
        # 9>&- : the postmaster must not inherit the run lock (see below).
        if as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -t 30 -w \
            -o "-p $port -k $PG_SOCK -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
            start >/dev/null 9>&-; then
            break
        fi
        if tail -n 20 "$PG_LOG" 2>/dev/null | grep -q "could not bind\|already in use"; then
            echo "Port $port was taken; trying the next one" >&2
            stop_postgres
            rm -f "$PG_DATA/postmaster.pid"
            port=$((port + 1))
            continue
        fi
        echo "--- tail of $PG_LOG ---" >&2
        tail -n 40 "$PG_LOG" >&2 || true
        die "pg_ctl start failed"
    done
    [ "$attempt" -le 5 ] || die "could not start PostgreSQL on a free port"

    for ((i = 0; i < 300; i++)); do
        if pg_isready -q -h 127.0.0.1 -p "$port" -U postgres; then
            PG_PORT=$port
            echo "PostgreSQL ready on 127.0.0.1:$port (pid $(running_pg_pid))"
            return 0
        fi
        sleep 0.1
    done
    echo "--- tail of $PG_LOG ---" >&2
    tail -n 40 "$PG_LOG" >&2 || true
    die "PostgreSQL did not become ready on 127.0.0.1:$port within 30 s"
}

# --- main -------------------------------------------------------------------

mkdir -p "$PG_ROOT"
# One run at a time per checkout: a second run would otherwise stop the
# first run's server as "left over".
exec 9>"$PG_ROOT/.lock"
if ! flock -n 9; then
    echo "Another scripts/test.sh run is using $PG_ROOT; waiting for it..."
    flock 9
fi

trap 'rc=$?; stop_postgres; exit $rc' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

banner "Starting PostgreSQL"
PG_PORT=
start_postgres
export WINVENTORY_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres"
echo "WINVENTORY_TEST_POSTGRES_URL=$WINVENTORY_TEST_POSTGRES_URL"

if [ "${SKIP_LINT:-0}" = "1" ]; then
    banner "Skipping cargo fmt and cargo clippy (SKIP_LINT=1)"
else
    banner "cargo fmt --all -- --check"
    cargo fmt --all -- --check

    banner "cargo clippy --workspace --all-targets --locked -- -D warnings"
    cargo clippy --workspace --all-targets --locked -- -D warnings
fi

if cargo nextest --version >/dev/null 2>&1; then
    nextest_args=(--workspace --locked --no-fail-fast)
    if [ "${CI:-}" = "true" ]; then
        nextest_args+=(--profile ci)
    fi
    banner "cargo nextest run ${nextest_args[*]} $*"
    cargo nextest run "${nextest_args[@]}" "$@"

    banner "cargo test --workspace --doc --locked"
    cargo test --workspace --doc --locked
else
    # cargo test also runs the doc tests, so no separate step is needed.
    banner "cargo-nextest not found; falling back to cargo test --workspace --locked --no-fail-fast $*"
    cargo test --workspace --locked --no-fail-fast "$@"
fi

banner "All tests passed"
