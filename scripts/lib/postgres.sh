# Shared shell functions: a private PostgreSQL cluster for tests and benchmarks.
# Source after setting REPO_ROOT (and optionally PG_ROOT, PG_FIRST_PORT,
# PG_EXTRA_OPTS). start_postgres sets PG_PORT; stop_postgres stops it by PID.
# shellcheck shell=bash

PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"
PG_ROOT="${PG_ROOT:-$REPO_ROOT/.peers/postgres}"
PG_DATA="$PG_ROOT/data"
PG_SOCK="$PG_ROOT/sock"
PG_LOG="$PG_ROOT/log"
PG_FIRST_PORT="${PG_FIRST_PORT:-54329}"
PG_USER=postgres

# Each banner says how long the script has run, so a slow CI run shows
# which step took the time.
banner() {
    printf '\n\033[1m==> [%dm%02ds] %s\033[0m\n' $((SECONDS / 60)) $((SECONDS % 60)) "$*"
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
            -o "-p $port -k $PG_SOCK -c listen_addresses=127.0.0.1 -c max_connections=200 ${PG_EXTRA_OPTS:-}" \
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

