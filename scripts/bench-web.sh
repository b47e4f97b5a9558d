#!/usr/bin/env bash
# Web pages benchmark (run by hand, never by CI; needs `oha`:
# `cargo install oha --locked`, and sqlite3).
#
#   scripts/bench-web.sh [MACHINES] [PROGRAMS]     # default 100000 150
#   NO_BUILD=1 scripts/bench-web.sh ...            # the release binary already built
#
# On SQLite, one generated fleet with a campaign over its Windows clients and
# servers (about 85 % of it), started; `winventory serve --no-worker` with
# sign-in set up, and a session made by `bench session` (no provider round
# trip), in the same run:
#   1. every page at a fixed 50 requests a second for 15 s with the session
#      cookie (oha, latency corrected for coordinated omission), beside
#      /healthz: p50 and p99;
#   2. every page's size over the wire as served to a browser (gzip);
#   3. 1,000 open live streams (`bench live`): an answer recorded in the
#      store, as another process would, reaches every one of them; the
#      server's resident memory per open stream.
# Results go to bench-data/results-web-MACHINES-PROGRAMS.txt.
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"
N="${1:-100000}"
P="${2:-150}"
OUT="$REPO_ROOT/bench-data/web"
FLEET="$REPO_ROOT/bench-data/fleet-$N-$P.jsonl"
BIN="$REPO_ROOT/target/release/winventory"
RESULTS="$REPO_ROOT/bench-data/results-web-$N-$P.txt"
OHA="${OHA:-$(command -v oha || echo "$HOME/.cargo/bin/oha")}"
[ -x "$OHA" ] || { echo "oha not found: cargo install oha --locked" >&2; exit 1; }
mkdir -p "$OUT"
[ -n "${NO_BUILD:-}" ] || cargo build --release --locked -p winventory --features bench >/dev/null
[ -f "$FLEET" ] || "$BIN" generate --machines "$N" --programs "$P" --seed 7 --stale 0.03 --at "2026-11-27T00:00:00Z" --out "$FLEET"
ulimit -n 8192 2>/dev/null || true

DB="$OUT/web.db"
rm -f "$DB" "$DB"-wal "$DB"-shm
export RUST_LOG=error
export WINVENTORY_DATABASE_URL="sqlite://$DB"
export WINVENTORY_LINK_KEYS="k1:bench-key-0123456789abcdef0123456789"
export WINVENTORY_NOW="2026-11-27T12:00:00Z"
LISTEN=127.0.0.1:18094
export WINVENTORY_LISTEN=$LISTEN WINVENTORY_BASE_URL="http://$LISTEN"
# Sign-in set up (the provider is never reached: sessions come from `bench session`).
export WINVENTORY_OIDC_ISSUER="http://127.0.0.1:9/" WINVENTORY_OIDC_CLIENT_ID=bench WINVENTORY_OIDC_CLIENT_SECRET=bench-secret
export WINVENTORY_MAX_CONNECTIONS=4000

echo "Web benchmark; $N machines x $P programs; $(nproc) cores; $(date -u +%FT%TZ); $("$OHA" --version)" | tee "$RESULTS"
"$BIN" ingest "$FLEET" --now 2026-11-27T12:00:00Z >/dev/null
{
    echo "login,name,email,matrix_id,mattermost_username,language,time_zone,manager,groups"
    # Every person in `staff` and one of 200 departments (groups for the
    # fleet and campaign pages per group).
    sqlite3 "$DB" "SELECT DISTINCT login FROM machine_owners" | awk '{ printf "%s,%s,%s@example.org,,,en,Europe/Zurich,,staff;dept-%03d\n", $1, $1, $1, NR % 200 }'
} >"$OUT/users.csv"
"$BIN" users import "$OUT/users.csv" >/dev/null
cat >"$OUT/campaign.toml" <<'TOML'
name = "bench-web"
kind = "eol"
title = "Windows clients and servers"
deadline = "2027-06-30"
fallback_group = "it-desk"

[target]
os = [{ product = "windows" }, { product = "windows-server" }]
TOML
"$BIN" campaign create "$OUT/campaign.toml" >/dev/null
"$BIN" campaign start bench-web >/dev/null
TARGETS=$("$BIN" campaign status bench-web --format json | python3 -c 'import json,sys; print(json.load(sys.stdin)["targets"])')
echo "campaign bench-web over $TARGETS machines" | tee -a "$RESULTS"
echo "database file: $(( $(stat -c %s "$DB") / 1000000 )) MB for $N machines x $P programs (sizing, docs/operations.md)" | tee -a "$RESULTS"
HOST=$(sqlite3 "$DB" "SELECT hostname FROM campaign_machines ORDER BY host_key LIMIT 1 OFFSET 1000")
OWNER=$(sqlite3 "$DB" "SELECT recipient FROM campaign_machines WHERE recipient NOT LIKE 'group:%' GROUP BY recipient ORDER BY COUNT(*) DESC LIMIT 1")
ADMIN=$("$BIN" bench session --login bench-admin --roles admin)
MINE=$("$BIN" bench session --login "$OWNER" --roles owner)

"$BIN" serve --no-worker 2>/dev/null &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 300); do curl -fs "http://$LISTEN/healthz" >/dev/null 2>&1 && break; sleep 0.1; done

pct() { # JSON file, key -> milliseconds
    python3 - "$1" "$2" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
k = sys.argv[2]
if k == "ok":
    codes = d.get("statusCodeDistribution", {})
    print(" ".join(f"{c}:{n}" for c, n in sorted(codes.items())))
else:
    print(f'{d["latencyPercentiles"][k] * 1000:.2f}')
PY
}

measure() { # LABEL PATH COOKIE
    local url="http://$LISTEN$2"
    "$OHA" --no-tui -z 15s -q 50 --latency-correction -c 8 -H "Cookie: $3" "$url" --output-format json >"$OUT/page.json"
    local size
    size=$(curl -s -o /dev/null -H "Cookie: $3" -H 'Accept-Encoding: gzip' -w '%{size_download}' "$url")
    printf '%-28s p50 %7s ms, p99 %7s ms, %6s bytes gzip (%s)\n' "$1" \
        "$(pct "$OUT/page.json" p50)" "$(pct "$OUT/page.json" p99)" "$size" "$(pct "$OUT/page.json" ok)" | tee -a "$RESULTS"
}

# The first view after a start (or an ingest) counts what later views read
# from memory: its time, once.
cold() { # LABEL PATH
    printf '%-28s first view %s s\n' "$1" \
        "$(curl -s -o /dev/null -H "Cookie: $ADMIN" -w '%{time_total}' "http://$LISTEN$2")" | tee -a "$RESULTS"
}
cold "fleet /" "/"
cold "fleet, one department" "/?group=dept-007"
cold "fleet, staff (everyone)" "/?group=staff"
cold "software" "/?view=software"
cold "software, one department" "/?view=software&group=dept-007"
cold "a campaign (per group)" "/campaigns/bench-web"

# Warm-up (first counts and caches), then each page.
for path in / /campaigns /campaigns/bench-web "/?group=dept-007" "/?group=staff" "/?view=software" "/?view=software&group=dept-007"; do curl -s -o /dev/null -H "Cookie: $ADMIN" "http://$LISTEN$path"; done
echo "serve's resident memory after the first views: $(awk '/VmRSS/ {print int($2/1024)}' /proc/$pid/status) MB" | tee -a "$RESULTS"
measure "/healthz" "/healthz" "$ADMIN"
measure "fleet /" "/" "$ADMIN"
measure "fleet, one department" "/?group=dept-007" "$ADMIN"
measure "fleet, staff (everyone)" "/?group=staff" "$ADMIN"
measure "software" "/?view=software" "$ADMIN"
measure "software, one department" "/?view=software&group=dept-007" "$ADMIN"
measure "machines (200 a page)" "/machines?os=windows" "$ADMIN"
measure "a machine" "/machines/$HOST" "$ADMIN"
measure "campaigns" "/campaigns" "$ADMIN"
measure "a campaign ($TARGETS)" "/campaigns/bench-web" "$ADMIN"
measure "its unanswered" "/campaigns/bench-web?show=unanswered" "$ADMIN"
measure "exceptions" "/exceptions" "$ADMIN"
measure "audit log" "/audit" "$ADMIN"
measure "audit log, one actor" "/audit?actor=$OWNER" "$ADMIN"
measure "a person" "/people/$OWNER" "$ADMIN"
measure "my machines ($OWNER)" "/me" "$MINE"

"$BIN" bench live --base "http://$LISTEN" --cookie "$ADMIN" --streams 1000 --campaign bench-web --pid "$pid" | sed 's/^/live: /' | tee -a "$RESULTS"
