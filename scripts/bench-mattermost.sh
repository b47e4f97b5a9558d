#!/usr/bin/env bash
# Mattermost callback benchmark (run by hand, never by CI; needs `oha`:
# `cargo install oha --locked`).
#
#   scripts/bench-mattermost.sh [MACHINES]      # default 20000
#
# Builds a site of MACHINES Windows Server 2012 R2 machines, four per owner,
# with a running retirement campaign, on SQLite and on PostgreSQL. For each,
# starts `winventory serve --no-worker` and has oha post verified button
# clicks (the integration requests Mattermost sends, signed token inside,
# one per owner, each on that owner's digest post, lines drawn at random
# from `winventory bench click-body`) to /mattermost/actions:
#   1. at a fixed 1,000 requests per second for 20 s (latency corrected for
#      coordinated omission): the latency percentiles of clicks that each
#      verify a token and record an answer;
#   2. saturated (32 connections, 10 s): the throughput;
# and, in the same run, the saturated throughput of a bare axum handler
# that answers 200 (`winventory bench http-ceiling`), the ceiling.
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"
N="${1:-20000}"
OUT="$REPO_ROOT/bench-data/mattermost"
BIN="$REPO_ROOT/target/release/winventory"
RESULTS="$REPO_ROOT/bench-data/results-mattermost-$N.txt"
OHA="${OHA:-$(command -v oha || echo "$HOME/.cargo/bin/oha")}"
[ -x "$OHA" ] || { echo "oha not found: cargo install oha --locked" >&2; exit 1; }
mkdir -p "$OUT"
[ -n "${NO_BUILD:-}" ] || cargo build --release --locked -p winventory --features bench >/dev/null

export WINVENTORY_LINK_KEYS="k1:bench-key-0123456789abcdef0123456789"
export WINVENTORY_SMTP_URL="smtp://127.0.0.1:9"
# No Mattermost runs here: a click that needs no dialog never calls it.
export WINVENTORY_MATTERMOST_URL="http://127.0.0.1:9"
export WINVENTORY_MATTERMOST_TOKEN="bench"
export RUST_LOG=error

python3 - "$N" "$OUT" <<'PY'
import sys
n, out = int(sys.argv[1]), sys.argv[2]
at = "2026-11-27T08:00:00Z"
with open(f"{out}/fleet.jsonl", "w") as f:
    for i in range(n):
        f.write('{"hostname": "SRV-%06d", "collected_at": "%s", "os": {"caption": "Microsoft Windows Server 2012 R2 Standard", "version": "6.3.9600", "edition": "ServerStandard", "product_type": 3}, "responsible": "user%05d"}\n' % (i, at, i // 4))
with open(f"{out}/users.csv", "w") as f:
    f.write("login,name,email,matrix_id,mattermost_username,language,time_zone,manager,groups\n")
    for u in range((n + 3) // 4):
        f.write(f"user{u:05d},User {u},user{u:05d}@bench.invalid,,user{u:05d},en,,,\n")
    f.write("desk,Desk,desk@bench.invalid,,,en,,,it-desk\n")
with open(f"{out}/campaign.toml", "w") as f:
    f.write('name = "retire"\nkind = "eol"\ntitle = "Retire 2012 R2"\ndeadline = "2027-03-31"\nfallback_group = "it-desk"\n\n[target]\nos = [{ product = "windows-server", cycles = ["2012-r2"] }]\n')
PY

wait_healthz() {
    for _ in $(seq 1 100); do
        curl -fs "http://$1/healthz" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "server on $1 did not start" >&2
    return 1
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

LISTEN=127.0.0.1:18091
CEIL=127.0.0.1:18092
echo "mattermost callback benchmark; $N machines; $(nproc) cores; $(date -u +%FT%TZ); $("$OHA" --version)" | tee "$RESULTS"

run() { # LABEL DATABASE_URL
    export WINVENTORY_DATABASE_URL="$2"
    "$BIN" ingest "$OUT/fleet.jsonl" --now 2026-11-27T12:00:00Z >/dev/null
    "$BIN" users import "$OUT/users.csv" >/dev/null
    "$BIN" campaign create "$OUT/campaign.toml" >/dev/null
    "$BIN" campaign start retire >/dev/null
    "$BIN" bench click-body --campaign retire --count 5000 >"$OUT/clicks.jsonl"
    # A database that has been running has statistics; a freshly loaded one
    # gets them from autovacuum at some random moment, perhaps mid-run.
    case "$2" in postgres*) psql -q "$2" -c "VACUUM ANALYZE" >/dev/null ;; esac
    WINVENTORY_LISTEN=$LISTEN WINVENTORY_BASE_URL="http://$LISTEN" "$BIN" serve --no-worker 2>/dev/null &
    local pid=$!
    wait_healthz "$LISTEN"
    local url="http://$LISTEN/mattermost/actions"
    # Warm-up, then the fixed rate, then saturation.
    "$OHA" --no-tui -z 3s -c 8 -m POST -T application/json -Z "$OUT/clicks.jsonl" "$url" --output-format quiet >/dev/null
    "$OHA" --no-tui -z 20s -q 1000 --latency-correction -c 64 -m POST -T application/json -Z "$OUT/clicks.jsonl" "$url" --output-format json >"$OUT/fixed.json"
    "$OHA" --no-tui -z 10s -c 32 -m POST -T application/json -Z "$OUT/clicks.jsonl" "$url" --output-format json >"$OUT/sat.json"
    kill "$pid"; wait "$pid" 2>/dev/null || true
    printf '%-9s 1000 req/s: p50 %s ms, p99 %s ms, p99.9 %s ms, achieved %s req/s (%s) | saturated: %s req/s (%s)\n' \
        "$1" "$(pct "$OUT/fixed.json" p50)" "$(pct "$OUT/fixed.json" p99)" "$(pct "$OUT/fixed.json" p99.9)" \
        "$(pct "$OUT/fixed.json" rps)" "$(pct "$OUT/fixed.json" ok)" "$(pct "$OUT/sat.json" rps)" "$(pct "$OUT/sat.json" ok)" | tee -a "$RESULTS"
}

rm -f "$OUT"/bench.db*
run sqlite "sqlite://$OUT/bench.db"

PG_EXTRA_OPTS="-c shared_buffers=512MB"   # the settings its recorded runs had
# shellcheck source=lib/bench-postgres.sh
source "$REPO_ROOT/scripts/lib/bench-postgres.sh"
psql -q "$PGURL/postgres" -c "DROP DATABASE IF EXISTS bench_mattermost" -c "CREATE DATABASE bench_mattermost" >/dev/null
run postgres "$PGURL/bench_mattermost"

"$BIN" bench http-ceiling --listen "$CEIL" 2>/dev/null &
CPID=$!
wait_healthz_ceiling() { for _ in $(seq 1 100); do curl -fs -X POST "http://$CEIL/" >/dev/null 2>&1 && return 0; sleep 0.1; done; return 1; }
wait_healthz_ceiling
"$OHA" --no-tui -z 10s -c 32 -m POST -T application/json -Z "$OUT/clicks.jsonl" "http://$CEIL/" --output-format json >"$OUT/ceiling.json"
kill "$CPID"; wait "$CPID" 2>/dev/null || true
printf 'bare axum handler, saturated: %s req/s, p99 %s ms\n' "$(pct "$OUT/ceiling.json" rps)" "$(pct "$OUT/ceiling.json" p99)" | tee -a "$RESULTS"
