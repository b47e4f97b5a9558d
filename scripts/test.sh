#!/usr/bin/env bash
# Run every check and test of the workspace against real, throwaway peers:
# a PostgreSQL cluster and a maildev SMTP server (with its HTTP API).
#
#   scripts/test.sh                          # everything
#   SKIP_LINT=1 scripts/test.sh              # skip rustfmt + clippy
#   scripts/test.sh -E 'test(some_name)'     # extra args go to `cargo nextest run`
#
# The cluster lives in the ignored folder .peers/postgres/ (data/, sock/, log),
# is created once and reused, listens on 127.0.0.1 only on a free port, and is
# always stopped by PID when this script exits. Tests find it through
# WINVENTORY_TEST_POSTGRES_URL and create their own databases inside it.
# maildev is installed once with npm into .peers/maildev/ and started on free
# ports; tests find it through WINVENTORY_TEST_SMTP_URL and
# WINVENTORY_TEST_MAILDEV_API. aiosmtpd (pip, into .peers/aiosmtpd/) runs
# scripts/lib/picky_smtp.py: a real SMTP server that refuses and is slow on
# demand; tests find it through WINVENTORY_TEST_PICKY_SMTP_URL and read what
# it accepted from WINVENTORY_TEST_PICKY_MAILDIR. Synapse (pip, into a venv
# under .peers/synapse/) runs with a fresh SQLite database per run; tests
# register their users with WINVENTORY_TEST_SYNAPSE_SECRET on
# WINVENTORY_TEST_SYNAPSE_URL. All are stopped by PID when this script exits.
# oidc-provider (npm, into .peers/oidc/; scripts/lib/oidc-provider.mjs) is a
# real OpenID provider with users and groups; tests find it through
# WINVENTORY_TEST_OIDC_ISSUER and start their own from
# WINVENTORY_TEST_OIDC_SCRIPT when they rotate its keys.
# openapi-spec-validator (pip, into .peers/openapi/) is no server: the API
# tests run it on the generated document (WINVENTORY_TEST_OPENAPI_VALIDATOR),
# and its jsonschema on real answers (WINVENTORY_TEST_OPENAPI_RESPONSES).
# deploy/ is checked offline first (scripts/lib/deploy.sh): the Kubernetes
# manifests rendered with kubectl kustomize and validated against the
# Kubernetes schemas (kubernetes-validate, pip into .peers/deploy/), the
# compose file parsed by podman-compose (podman from apt, once per machine).
# Headless Chromium (apt, once per machine) with playwright-core and axe-core
# (npm, into .peers/browser/) runs the web pages' browser test
# (bot/tests/browser/pages.mjs, started by the e2e test `browser`); Chromium
# is started and stopped by that test.
#
# Environment:
#   SKIP_LINT=1   skip `cargo fmt --check` and `cargo clippy`
#   CI=true       use the nextest `ci` profile (.config/nextest.toml)
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"

# Tests trade durability for speed; the cluster is thrown away anyway.
PG_EXTRA_OPTS="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
# shellcheck source=lib/postgres.sh
source "$REPO_ROOT/scripts/lib/postgres.sh"
# shellcheck source=lib/maildev.sh
source "$REPO_ROOT/scripts/lib/maildev.sh"
# shellcheck source=lib/aiosmtpd.sh
source "$REPO_ROOT/scripts/lib/aiosmtpd.sh"
# shellcheck source=lib/synapse.sh
source "$REPO_ROOT/scripts/lib/synapse.sh"
# shellcheck source=lib/oidc.sh
source "$REPO_ROOT/scripts/lib/oidc.sh"
# shellcheck source=lib/openapi.sh
source "$REPO_ROOT/scripts/lib/openapi.sh"
# shellcheck source=lib/browser.sh
source "$REPO_ROOT/scripts/lib/browser.sh"
# shellcheck source=lib/deploy.sh
source "$REPO_ROOT/scripts/lib/deploy.sh"

# --- main -------------------------------------------------------------------

mkdir -p "$PG_ROOT"
# One run at a time per checkout: a second run would otherwise stop the
# first run's server as "left over".
exec 9>"$PG_ROOT/.lock"
if ! flock -n 9; then
    echo "Another scripts/test.sh run is using $PG_ROOT; waiting for it..."
    flock 9
fi

trap 'rc=$?; stop_oidc; stop_synapse; stop_aiosmtpd; stop_maildev; stop_postgres; exit $rc' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

banner "Checking deploy/ (Kubernetes manifests, compose file) offline"
check_deploy

banner "Starting PostgreSQL"
PG_PORT=
start_postgres
export WINVENTORY_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres"
echo "WINVENTORY_TEST_POSTGRES_URL=$WINVENTORY_TEST_POSTGRES_URL"

banner "Starting maildev"
start_maildev
export WINVENTORY_TEST_SMTP_URL="smtp://127.0.0.1:$MAILDEV_SMTP_PORT"
export WINVENTORY_TEST_MAILDEV_API="http://127.0.0.1:$MAILDEV_WEB_PORT"

banner "Starting aiosmtpd (refuses nobody*@, slow once for slow*@)"
start_aiosmtpd
export WINVENTORY_TEST_PICKY_SMTP_URL="smtp://127.0.0.1:$AIOSMTPD_PORT"
export WINVENTORY_TEST_PICKY_MAILDIR="$AIOSMTPD_MAILDIR"

banner "Starting Synapse (Matrix homeserver)"
start_synapse
export WINVENTORY_TEST_SYNAPSE_URL="$SYNAPSE_URL"
export WINVENTORY_TEST_SYNAPSE_SECRET="$SYNAPSE_SECRET"

banner "Installing headless Chromium, playwright-core and axe-core (the web pages' browser test)"
install_browser
export WINVENTORY_TEST_CHROMIUM="$BROWSER_CHROMIUM"
export WINVENTORY_TEST_BROWSER_MODULES="$BROWSER_MODULES"
# The browser test's server port, known to the provider as a redirect URI.
WINVENTORY_TEST_BROWSER_PORT="$(browser_port)"
export WINVENTORY_TEST_BROWSER_PORT
export OIDC_EXTRA_REDIRECTS="http://127.0.0.1:$WINVENTORY_TEST_BROWSER_PORT/auth/callback"

banner "Starting oidc-provider (OpenID Connect provider)"
start_oidc
export WINVENTORY_TEST_OIDC_ISSUER="$OIDC_ISSUER"
export WINVENTORY_TEST_OIDC_SCRIPT="$OIDC_SCRIPT"
export WINVENTORY_TEST_OIDC_MODULES="$OIDC_MODULES"
export WINVENTORY_TEST_OIDC_JWKS="$OIDC_JWKS"

banner "Installing openapi-spec-validator (the API document's independent check)"
install_openapi_validator
export WINVENTORY_TEST_OPENAPI_VALIDATOR="$OPENAPI_VALIDATOR"
export WINVENTORY_TEST_OPENAPI_RESPONSES="$OPENAPI_RESPONSE_VALIDATOR"

if [ "${SKIP_LINT:-0}" = "1" ]; then
    banner "Skipping cargo fmt and cargo clippy (SKIP_LINT=1)"
else
    banner "cargo fmt --all -- --check"
    cargo fmt --all -- --check

    # One pass with the bench subcommands' feature on (no code is built
    # only without it), so every target and the benchmarks are linted once.
    banner "cargo clippy --workspace --all-targets --features winventory/bench --locked -- -D warnings"
    cargo clippy --workspace --all-targets --features winventory/bench --locked -- -D warnings
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
