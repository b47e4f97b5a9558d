# Shared shell functions: a private Synapse (Matrix homeserver) for tests.
# Source after setting REPO_ROOT (and after postgres.sh, for die). Synapse is
# installed once with pip into a venv under .peers/synapse/venv; each start
# gets a fresh data directory (SQLite), listens on 127.0.0.1 only with the
# client API (no federation), lets tests register users with the shared
# secret, and has its rate limits raised. start_synapse sets SYNAPSE_PORT,
# SYNAPSE_URL and SYNAPSE_SECRET; stop_synapse stops it by PID.
# shellcheck shell=bash

SYNAPSE_ROOT="${SYNAPSE_ROOT:-$REPO_ROOT/.peers/synapse}"
SYNAPSE_VENV="${SYNAPSE_VENV:-$SYNAPSE_ROOT/venv}"
SYNAPSE_DATA="$SYNAPSE_ROOT/data"
SYNAPSE_PID_FILE="$SYNAPSE_ROOT/synapse.pid"
SYNAPSE_LOG="$SYNAPSE_ROOT/synapse.log"

install_synapse() {
    mkdir -p "$SYNAPSE_ROOT"
    if [ ! -x "$SYNAPSE_VENV/bin/python" ] || ! "$SYNAPSE_VENV/bin/python" -c 'import synapse' 2>/dev/null; then
        echo "Installing Synapse into $SYNAPSE_VENV (once, about a minute)"
        rm -rf "$SYNAPSE_VENV"
        python3 -m venv "$SYNAPSE_VENV"
        "$SYNAPSE_VENV/bin/pip" install --quiet --disable-pip-version-check matrix-synapse
    fi
}

stop_synapse() {
    local pid i
    [ -f "$SYNAPSE_PID_FILE" ] || return 0
    pid="$(cat "$SYNAPSE_PID_FILE" 2>/dev/null || true)"
    rm -f "$SYNAPSE_PID_FILE"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 0
    kill -0 "$pid" 2>/dev/null || return 0
    # Guard against PID reuse: it must be our homeserver.
    grep -qa synapse "/proc/$pid/cmdline" 2>/dev/null || return 0
    echo "Stopping Synapse (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
}

# Every rate limit Synapse has, raised far past what tests do.
synapse_rate_limits() {
    local big='{per_second: 10000, burst_count: 100000}'
    cat <<YAML
rc_message: $big
rc_registration: $big
rc_registration_token_validity: $big
rc_login:
  address: $big
  account: $big
  failed_attempts: $big
rc_joins:
  local: $big
  remote: $big
rc_joins_per_room: $big
rc_invites:
  per_room: $big
  per_user: $big
  per_issuer: $big
rc_admin_redaction: $big
rc_3pid_validation: $big
rc_third_party_invite: $big
rc_media_create: $big
rc_federation:
  window_size: 1000
  sleep_limit: 1000
  sleep_delay: 1
  reject_limit: 1000
  concurrent: 1000
rc_key_requests: $big
rc_room_creation: $big
rc_reports: $big
rc_presence:
  per_user: $big
rc_delayed_event_mgmt: $big
YAML
}

start_synapse() {
    install_synapse
    stop_synapse # a left-over one from a killed run
    rm -rf "$SYNAPSE_DATA"
    mkdir -p "$SYNAPSE_DATA/media"
    SYNAPSE_PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')"
    SYNAPSE_SECRET="$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
    SYNAPSE_URL="http://127.0.0.1:$SYNAPSE_PORT"
    cat >"$SYNAPSE_DATA/homeserver.yaml" <<YAML
server_name: "localhost"
public_baseurl: "$SYNAPSE_URL/"
pid_file: "$SYNAPSE_DATA/homeserver.pid"
listeners:
  - port: $SYNAPSE_PORT
    bind_addresses: ["127.0.0.1"]
    type: http
    tls: false
    x_forwarded: false
    resources:
      - names: [client]
        compress: false
database:
  name: sqlite3
  args:
    database: "$SYNAPSE_DATA/homeserver.db"
media_store_path: "$SYNAPSE_DATA/media"
signing_key_path: "$SYNAPSE_DATA/signing.key"
registration_shared_secret: "$SYNAPSE_SECRET"
macaroon_secret_key: "$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
form_secret: "$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
report_stats: false
enable_registration: false
trusted_key_servers: []
suppress_key_server_warning: true
federation_domain_whitelist: []
enable_metrics: false
presence:
  enabled: false
$(synapse_rate_limits)
YAML
    (cd "$SYNAPSE_DATA" && "$SYNAPSE_VENV/bin/python" -m synapse.app.homeserver \
        -c "$SYNAPSE_DATA/homeserver.yaml" --generate-keys >>"$SYNAPSE_LOG" 2>&1)
    (cd "$SYNAPSE_DATA" && exec "$SYNAPSE_VENV/bin/python" -m synapse.app.homeserver \
        -c "$SYNAPSE_DATA/homeserver.yaml" >"$SYNAPSE_LOG" 2>&1) &
    echo $! >"$SYNAPSE_PID_FILE"
    local i
    for ((i = 0; i < 300; i++)); do
        if curl -fsS "$SYNAPSE_URL/_matrix/client/versions" >/dev/null 2>&1; then
            echo "Synapse ready: $SYNAPSE_URL (pid $(cat "$SYNAPSE_PID_FILE"))"
            return 0
        fi
        kill -0 "$(cat "$SYNAPSE_PID_FILE")" 2>/dev/null || break
        sleep 0.1
    done
    tail -n 40 "$SYNAPSE_LOG" >&2
    die "Synapse did not start; see $SYNAPSE_LOG"
}
