#!/usr/bin/env bash
# REST API benchmark (run by hand, never by CI; needs `oha`:
# `cargo install oha --locked`).
#
#   scripts/bench-api.sh [MACHINES] [PROGRAMS]     # default 100000 150
#   NO_BUILD=1 scripts/bench-api.sh ...            # the release binary already built
#   ONLY=postgres scripts/bench-api.sh ...         # one backend (sqlite or postgres)
#
# For one generated fleet, on SQLite and on PostgreSQL, in the same run:
#   1. `winventory serve --no-worker`, then oha at a fixed 1,000 requests a
#      second for 20 s (latency corrected for coordinated omission):
#      - `/healthz` (no authentication: the baseline);
#      - `GET /api/v1/machines/{host}` with a viewer's API token, hosts drawn
#        at random from the fleet (one machine with its programs);
#   2. every machine read through the paginated API (`bench api-pages`,
#      5,000 a page);
#   3. bearer verification per request (`bench auth`): an API token through
#      the cache, the same token read from the database (the baseline), and
#      a client-credentials JWT of a real OpenID provider (oidc-provider,
#      started from .peers/oidc like the tests') against its cached JWKS.
# Results go to bench-data/results-api-MACHINES-PROGRAMS.txt.
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"
N="${1:-100000}"
P="${2:-150}"
OUT="$REPO_ROOT/bench-data/api"
FLEET="$REPO_ROOT/bench-data/fleet-$N-$P.jsonl"
BIN="$REPO_ROOT/target/release/winventory"
RESULTS="$REPO_ROOT/bench-data/results-api-$N-$P.txt"
OHA="${OHA:-$(command -v oha || echo "$HOME/.cargo/bin/oha")}"
[ -x "$OHA" ] || { echo "oha not found: cargo install oha --locked" >&2; exit 1; }
mkdir -p "$OUT"
[ -n "${NO_BUILD:-}" ] || cargo build --release --locked -p winventory --features bench >/dev/null
[ -f "$FLEET" ] || "$BIN" generate --machines "$N" --programs "$P" --seed 7 --stale 0.03 --at "2026-11-27T00:00:00Z" --out "$FLEET"

# One URL per machine, for oha to draw from.
python3 - "$FLEET" "$OUT/hosts.txt" <<'PY'
import json, sys
with open(sys.argv[1]) as f, open(sys.argv[2], "w") as o:
    for line in f:
        o.write(json.loads(line)["hostname"] + "\n")
PY

export RUST_LOG=error
export WINVENTORY_LINK_KEYS="k1:bench-key-0123456789abcdef0123456789"
LISTEN=127.0.0.1:18093

# The OpenID provider of the tests, for the JWT figure.
# shellcheck source=lib/postgres.sh
source "$REPO_ROOT/scripts/lib/postgres.sh"
# shellcheck source=lib/oidc.sh
source "$REPO_ROOT/scripts/lib/oidc.sh"
start_oidc >/dev/null
trap 'stop_oidc' EXIT

wait_healthz() {
    for _ in $(seq 1 300); do
        curl -fs "http://$1/healthz" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "server on $1 did not start" >&2
    return 1
}

# The hypervisor's share of the CPU (steal) while a measurement ran: on a
# shared virtual machine it is the noise floor of every p99 here.
cpu_ticks() { awk '/^cpu /{print $2+$3+$4+$5+$6+$7+$8+$9, $9}' /proc/stat; }
steal_since() { # "TOTAL STEAL" from cpu_ticks -> percent
    python3 - "$1" "$(cpu_ticks)" <<'PY'
import sys
t0, s0 = map(int, sys.argv[1].split()); t1, s1 = map(int, sys.argv[2].split())
print(f"{100 * (s1 - s0) / max(1, t1 - t0):.0f} %")
PY
}

pct() { # JSON file, key -> milliseconds
    python3 - "$1" "$2" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
k = sys.argv[2]
if k == "rps":
    print(f'{d["summary"]["requestsPerSec"]:.0f}')
elif k == "ok":
    codes = d.get("statusCodeDistribution", {})
    print(" ".join(f"{c}:{n}" for c, n in sorted(codes.items())))
else:
    print(f'{d["latencyPercentiles"][k] * 1000:.2f}')
PY
}

echo "API benchmark; $N machines x $P programs; $(nproc) cores; $(date -u +%FT%TZ); $("$OHA" --version)" | tee "$RESULTS"

run() { # LABEL DATABASE_URL
    export WINVENTORY_DATABASE_URL="$2"
    "$BIN" ingest "$FLEET" --now 2026-11-27T12:00:00Z >/dev/null
    # Measured at rest: the load of 15 million installations leaves dirty
    # pages whose checkpoint otherwise lands in the middle of a run.
    case "$2" in postgres*) psql -q "$2" -c "VACUUM ANALYZE" -c "CHECKPOINT" >/dev/null ;; esac
    local token
    token=$("$BIN" token create "bench-$(date +%s%N)" --role viewer --format json | python3 -c 'import json,sys; print(json.load(sys.stdin)["secret"])')
    # URLs of random machines, for oha's -Z (one per request, drawn at random).
    python3 - "$OUT/hosts.txt" "$OUT/urls.txt" "http://$LISTEN" <<'PY'
import random, sys
hosts = open(sys.argv[1]).read().split()
random.seed(7)
with open(sys.argv[2], "w") as o:
    for h in random.sample(hosts, min(20000, len(hosts))):
        o.write(f"{sys.argv[3]}/api/v1/machines/{h}\n")
PY
    WINVENTORY_LISTEN=$LISTEN WINVENTORY_BASE_URL="http://$LISTEN" "$BIN" serve --no-worker 2>/dev/null &
    local pid=$!
    wait_healthz "$LISTEN"
    "$OHA" --no-tui -z 3s -c 8 -H "Authorization: Bearer $token" --urls-from-file "$OUT/urls.txt" --output-format quiet >/dev/null
    local t0 steal_healthz steal_machine
    t0=$(cpu_ticks)
    "$OHA" --no-tui -z 20s -q 1000 --latency-correction -c 64 "http://$LISTEN/healthz" --output-format json >"$OUT/healthz.json"
    steal_healthz=$(steal_since "$t0")
    t0=$(cpu_ticks)
    "$OHA" --no-tui -z 20s -q 1000 --latency-correction -c 64 -H "Authorization: Bearer $token" --urls-from-file "$OUT/urls.txt" --output-format json >"$OUT/machine.json"
    steal_machine=$(steal_since "$t0")
    local pages steal_pages
    t0=$(cpu_ticks)
    pages=$("$BIN" bench api-pages --base "http://$LISTEN" --token "$token")
    steal_pages=$(steal_since "$t0")
    kill "$pid"; wait "$pid" 2>/dev/null || true
    printf '%-9s /healthz at 1000 req/s: p50 %s ms, p99 %s ms, p99.9 %s ms (%s; CPU steal %s)\n' "$1" \
        "$(pct "$OUT/healthz.json" p50)" "$(pct "$OUT/healthz.json" p99)" "$(pct "$OUT/healthz.json" p99.9)" "$(pct "$OUT/healthz.json" ok)" "$steal_healthz" | tee -a "$RESULTS"
    printf '%-9s GET /api/v1/machines/{host} at 1000 req/s, API token: p50 %s ms, p99 %s ms, p99.9 %s ms, achieved %s req/s (%s; CPU steal %s)\n' "$1" \
        "$(pct "$OUT/machine.json" p50)" "$(pct "$OUT/machine.json" p99)" "$(pct "$OUT/machine.json" p99.9)" "$(pct "$OUT/machine.json" rps)" "$(pct "$OUT/machine.json" ok)" "$steal_machine" | tee -a "$RESULTS"
    printf '%-9s paginated read: %s (CPU steal %s)\n' "$1" "$pages" "$steal_pages" | tee -a "$RESULTS"
    "$BIN" bench auth --issuer "$OIDC_ISSUER" | sed "s/^/$1 /" | tee -a "$RESULTS"
}

if [ "${ONLY:-sqlite}" = sqlite ]; then
    rm -f "$OUT"/bench.db*
    run sqlite "sqlite://$OUT/bench.db"
fi
[ "${ONLY:-postgres}" = postgres ] || exit 0

# shellcheck source=lib/bench-postgres.sh
source "$REPO_ROOT/scripts/lib/bench-postgres.sh"
trap 'stop_postgres; stop_oidc' EXIT
psql -q "$PGURL/postgres" -c "DROP DATABASE IF EXISTS bench_api" -c "CREATE DATABASE bench_api" >/dev/null
run postgres "$PGURL/bench_api"
