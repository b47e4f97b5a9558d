# Shared shell functions: a private aiosmtpd SMTP server for tests, with the
# refusals and slowness of scripts/lib/picky_smtp.py. Source after setting
# REPO_ROOT (and after postgres.sh, for banner/die). start_aiosmtpd sets
# AIOSMTPD_PORT and AIOSMTPD_MAILDIR; stop_aiosmtpd stops it by PID.
# shellcheck shell=bash

AIOSMTPD_ROOT="${AIOSMTPD_ROOT:-$REPO_ROOT/.peers/aiosmtpd}"
AIOSMTPD_PID_FILE="$AIOSMTPD_ROOT/aiosmtpd.pid"
AIOSMTPD_LOG="$AIOSMTPD_ROOT/aiosmtpd.log"
AIOSMTPD_MAILDIR="$AIOSMTPD_ROOT/maildir"

install_aiosmtpd() {
    mkdir -p "$AIOSMTPD_ROOT"
    if [ ! -f "$AIOSMTPD_ROOT/lib/aiosmtpd/__init__.py" ]; then
        echo "Installing aiosmtpd into $AIOSMTPD_ROOT/lib (once)"
        python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --target "$AIOSMTPD_ROOT/lib" aiosmtpd
    fi
}

stop_aiosmtpd() {
    local pid i
    [ -f "$AIOSMTPD_PID_FILE" ] || return 0
    pid="$(cat "$AIOSMTPD_PID_FILE" 2>/dev/null || true)"
    rm -f "$AIOSMTPD_PID_FILE"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 0
    kill -0 "$pid" 2>/dev/null || return 0
    # Guard against PID reuse: it must be our aiosmtpd.
    grep -qa aiosmtpd "/proc/$pid/cmdline" 2>/dev/null || return 0
    echo "Stopping aiosmtpd (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
}

start_aiosmtpd() {
    install_aiosmtpd
    stop_aiosmtpd # a left-over one from a killed run
    rm -rf "$AIOSMTPD_MAILDIR"
    AIOSMTPD_PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')"
    PYTHONPATH="$AIOSMTPD_ROOT/lib:$REPO_ROOT/scripts/lib" \
        python3 -m aiosmtpd -n -l "127.0.0.1:$AIOSMTPD_PORT" -c picky_smtp.Picky "$AIOSMTPD_MAILDIR" \
        >"$AIOSMTPD_LOG" 2>&1 &
    echo $! >"$AIOSMTPD_PID_FILE"
    local i
    for ((i = 0; i < 100; i++)); do
        if python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', $AIOSMTPD_PORT), 1)" 2>/dev/null; then
            echo "aiosmtpd ready: SMTP 127.0.0.1:$AIOSMTPD_PORT, Maildir $AIOSMTPD_MAILDIR (pid $(cat "$AIOSMTPD_PID_FILE"))"
            return 0
        fi
        sleep 0.1
    done
    cat "$AIOSMTPD_LOG" >&2
    die "aiosmtpd did not start; see $AIOSMTPD_LOG"
}
