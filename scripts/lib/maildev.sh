# Shared shell functions: a private maildev (SMTP + HTTP API) for tests.
# Source after setting REPO_ROOT. start_maildev sets MAILDEV_SMTP_PORT and
# MAILDEV_WEB_PORT; stop_maildev stops it by PID.
# shellcheck shell=bash

MAILDEV_ROOT="${MAILDEV_ROOT:-$REPO_ROOT/.peers/maildev}"
MAILDEV_PID_FILE="${MAILDEV_PID_FILE:-$MAILDEV_ROOT/maildev.pid}"
MAILDEV_LOG="${MAILDEV_LOG:-$MAILDEV_ROOT/maildev.log}"

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

install_maildev() {
    mkdir -p "$MAILDEV_ROOT"
    if [ ! -x "$MAILDEV_ROOT/node_modules/.bin/maildev" ]; then
        echo "Installing maildev 3 into $MAILDEV_ROOT (once)"
        (cd "$MAILDEV_ROOT" && npm install --no-audit --no-fund --silent maildev@3 >/dev/null)
    fi
}

stop_maildev() {
    local pid i
    [ -f "$MAILDEV_PID_FILE" ] || return 0
    pid="$(cat "$MAILDEV_PID_FILE" 2>/dev/null || true)"
    rm -f "$MAILDEV_PID_FILE"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 0
    kill -0 "$pid" 2>/dev/null || return 0
    # Guard against PID reuse: it must be our maildev.
    grep -qa maildev "/proc/$pid/cmdline" 2>/dev/null || return 0
    echo "Stopping maildev (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
}

start_maildev() {
    install_maildev
    stop_maildev # a left-over one from a killed run
    MAILDEV_SMTP_PORT="$(free_port)"
    MAILDEV_WEB_PORT="$(free_port)"
    "$MAILDEV_ROOT/node_modules/.bin/maildev" --ip 127.0.0.1 --smtp "$MAILDEV_SMTP_PORT" \
        --web-ip 127.0.0.1 --web "$MAILDEV_WEB_PORT" >"$MAILDEV_LOG" 2>&1 &
    echo $! >"$MAILDEV_PID_FILE"
    local i
    for ((i = 0; i < 300; i++)); do
        if curl -fsS "http://127.0.0.1:$MAILDEV_WEB_PORT/api/healthz" >/dev/null 2>&1; then
            echo "maildev ready: SMTP 127.0.0.1:$MAILDEV_SMTP_PORT, API http://127.0.0.1:$MAILDEV_WEB_PORT (pid $(cat "$MAILDEV_PID_FILE"))"
            return 0
        fi
        sleep 0.1
    done
    cat "$MAILDEV_LOG" >&2
    die "maildev did not start; see $MAILDEV_LOG"
}
