# Shared shell functions: a private OpenID Connect provider (oidc-provider 9,
# run by scripts/lib/oidc-provider.mjs) for tests. Source after setting
# REPO_ROOT (and after postgres.sh, for die). oidc-provider is installed once
# with npm into .peers/oidc/; the signing keys live in .peers/oidc/jwks.json
# (made on first start, kept across runs; the first key signs). start_oidc
# sets OIDC_PORT, OIDC_ISSUER (http://127.0.0.1:PORT, no trailing slash),
# OIDC_JWKS, OIDC_SCRIPT (the .mjs, for its genkey/sign subcommands) and
# OIDC_MODULES (the folder whose node_modules holds oidc-provider);
# stop_oidc stops it by PID. Key rotation: stop_oidc, put a new key (from
# `node "$OIDC_SCRIPT" genkey KID`) first in jwks.json, start_oidc "$OIDC_PORT".
#
# Clients: winventory / winventory-secret (code flow, PKCE S256 required,
# redirect http(s)://winventory.test/auth/callback plus OIDC_EXTRA_REDIRECTS),
# collector-ci / collector-secret and viewer-ci / viewer-secret (client
# credentials: a JWT access token for audience winventory-api with roles
# ["collector"] or ["viewer"]). Users: alice, bob, carol, dave, erin,
# stranger, any password. The HTTP walk-through of login and logout is at the
# top of oidc-provider.mjs.
# shellcheck shell=bash

OIDC_ROOT="${OIDC_ROOT:-$REPO_ROOT/.peers/oidc}"
OIDC_PID_FILE="$OIDC_ROOT/oidc.pid"
OIDC_LOG="$OIDC_ROOT/oidc.log"
OIDC_JWKS="${OIDC_JWKS:-$OIDC_ROOT/jwks.json}"
OIDC_SCRIPT="$REPO_ROOT/scripts/lib/oidc-provider.mjs"
OIDC_MODULES="$OIDC_ROOT"

install_oidc() {
    mkdir -p "$OIDC_ROOT"
    if [ ! -f "$OIDC_ROOT/node_modules/oidc-provider/package.json" ]; then
        echo "Installing oidc-provider 9 into $OIDC_ROOT (once)"
        (cd "$OIDC_ROOT" && npm install --no-audit --no-fund --silent oidc-provider@9 >/dev/null)
    fi
}

stop_oidc() {
    local pid i
    [ -f "$OIDC_PID_FILE" ] || return 0
    pid="$(cat "$OIDC_PID_FILE" 2>/dev/null || true)"
    rm -f "$OIDC_PID_FILE"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 0
    kill -0 "$pid" 2>/dev/null || return 0
    # Guard against PID reuse: it must be our provider.
    grep -qa oidc-provider.mjs "/proc/$pid/cmdline" 2>/dev/null || return 0
    echo "Stopping oidc-provider (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
}

# start_oidc [PORT]: a free port unless PORT is given; give the old port to
# restart with the same issuer (after changing jwks.json, say).
start_oidc() {
    install_oidc
    stop_oidc # a left-over one from a killed run
    OIDC_PORT="${1:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')}"
    OIDC_ISSUER="http://127.0.0.1:$OIDC_PORT"
    # serve makes OIDC_JWKS with one new RS256 key when it does not exist.
    OIDC_PORT="$OIDC_PORT" OIDC_JWKS="$OIDC_JWKS" OIDC_MODULES="$OIDC_MODULES" \
        OIDC_EXTRA_REDIRECTS="${OIDC_EXTRA_REDIRECTS:-}" node "$OIDC_SCRIPT" serve >"$OIDC_LOG" 2>&1 &
    echo $! >"$OIDC_PID_FILE"
    local i
    for ((i = 0; i < 100; i++)); do
        if curl -fsS "$OIDC_ISSUER/.well-known/openid-configuration" >/dev/null 2>&1; then
            echo "oidc-provider ready: issuer $OIDC_ISSUER, keys $OIDC_JWKS (pid $(cat "$OIDC_PID_FILE"))"
            export OIDC_PORT OIDC_ISSUER OIDC_JWKS OIDC_SCRIPT OIDC_MODULES
            return 0
        fi
        kill -0 "$(cat "$OIDC_PID_FILE")" 2>/dev/null || break
        sleep 0.1
    done
    cat "$OIDC_LOG" >&2
    die "oidc-provider did not start; see $OIDC_LOG"
}
