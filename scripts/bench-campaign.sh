#!/usr/bin/env bash
# Campaign planning benchmark (run by hand, never by CI).
#
#   scripts/bench-campaign.sh [MACHINES]     # default 100000; run scripts/bench.sh MACHINES first
#   NO_BUILD=1 ...                           # time the release binary already built
#
# Copies the SQLite database scripts/bench.sh left (bench-data/ingest.db, the
# generated fleet of MACHINES machines), gives every owner found there an
# email address, creates a campaign over every machine running anything past
# its end of life, and times `campaign start`: targets selected, owners
# grouped, one digest per person rendered (text and HTML, with signed links),
# the outbox written. Wall time and peak memory come from /usr/bin/time.
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"
N="${1:-100000}"
OUT="$REPO_ROOT/bench-data"
BIN="$REPO_ROOT/target/release/winventory"
DB="$OUT/campaign-$N.db"
[ -f "$OUT/ingest.db" ] || { echo "run scripts/bench.sh $N first (it leaves bench-data/ingest.db)" >&2; exit 1; }
[ -n "${NO_BUILD:-}" ] || cargo build --release --locked -p winventory --features bench >/dev/null
rm -f "$DB" "$DB"-wal "$DB"-shm
sqlite3 "$OUT/ingest.db" "PRAGMA wal_checkpoint(TRUNCATE);" >/dev/null
cp "$OUT/ingest.db" "$DB"
export WINVENTORY_DATABASE_URL="sqlite://$DB"
export WINVENTORY_LINK_KEYS="k1:bench-0123456789abcdef0123456789abcdef"
export WINVENTORY_NOW="2026-11-27T10:00:00Z"
MACHINES=$(sqlite3 "$DB" "SELECT COUNT(*) FROM machines")
{
    echo "login,name,email,matrix_id,mattermost_username,language,time_zone,manager,groups"
    sqlite3 "$DB" "SELECT DISTINCT login FROM machine_owners" | awk '{ lang = (NR % 5 == 0) ? "fr" : "en"; printf "%s,%s,%s@example.org,,,%s,Europe/Zurich,,\n", $1, $1, $1, lang }'
} >"$OUT/users-$N.csv"
"$BIN" users import "$OUT/users-$N.csv" >/dev/null
cat >"$OUT/campaign.toml" <<'TOML'
name = "bench-eol"
kind = "eol"
title = "Everything past its end of life"
deadline = "2027-06-30"
fallback_group = "it-desk"

[target]
eol_within_days = 0
TOML
"$BIN" campaign create "$OUT/campaign.toml" >/dev/null
/usr/bin/time -f "%e %M" -o "$OUT/.time" "$BIN" campaign start bench-eol >/dev/null
read -r SECS KB <"$OUT/.time"
STATUS=$("$BIN" campaign status bench-eol --format json)
QUEUED=$("$BIN" outbox --format json | python3 -c 'import json,sys; print(json.load(sys.stdin)["pending"])')
TARGETS=$(echo "$STATUS" | python3 -c 'import json,sys; print(json.load(sys.stdin)["targets"])')
printf 'campaign planning, %s machines in the database: %s targets, %s digests queued in %ss (peak %s MB) on SQLite; %s cores; %s\n' \
    "$MACHINES" "$TARGETS" "$QUEUED" "$SECS" "$((KB / 1024))" "$(nproc)" "$(date -u +%FT%TZ)" | tee "$OUT/results-campaign-$N.txt"
