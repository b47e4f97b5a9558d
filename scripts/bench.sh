#!/usr/bin/env bash
# Ingest and report benchmark (run by hand, never by CI).
#
#   scripts/bench.sh [MACHINES] [PROGRAMS]      # default 20000 150
#   NO_BUILD=1 scripts/bench.sh ...             # time the release binary already built
#
# For one generated fleet it measures, on SQLite and on PostgreSQL, in the
# same run:
#   - the baseline: loading the same software rows raw (sqlite3 .import of a
#     CSV into a table without indexes; COPY on PostgreSQL);
#   - winventory's first ingest of the snapshot into an empty database;
#   - a re-ingest of the unchanged snapshot;
#   - `report eol` (whole process, median of 7 runs).
# Wall time and peak memory come from /usr/bin/time. The PostgreSQL cluster is
# private (.peers/postgres-bench, default durability settings) and stopped by
# PID on exit. Results go to bench-data/results-MACHINES-PROGRAMS.txt.
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"
N="${1:-20000}"
P="${2:-150}"
OUT="$REPO_ROOT/bench-data"
mkdir -p "$OUT"
FLEET="$OUT/fleet-$N-$P.jsonl"
CSV="$OUT/software-$N-$P.csv"
RESULTS="$OUT/results-$N-$P.txt"
BIN="$REPO_ROOT/target/release/winventory"
AT="2026-11-27T00:00:00Z"
NOW="--now=2026-11-27T12:00:00Z"

[ -n "${NO_BUILD:-}" ] || cargo build --release --locked -p winventory --features bench >/dev/null
[ -f "$FLEET" ] || "$BIN" generate --machines "$N" --programs "$P" --seed 7 --stale 0.03 --at "$AT" --out "$FLEET"
if [ ! -f "$CSV" ]; then
    python3 - "$FLEET" "$CSV" <<'PY'
import csv, json, sys
with open(sys.argv[1]) as f, open(sys.argv[2], "w", newline="") as o:
    w = csv.writer(o)
    for line in f:
        m = json.loads(line)
        for s in m.get("software") or []:
            w.writerow([m["hostname"], s.get("name"), s.get("version"), s.get("publisher"), s.get("install_date"), s.get("last_used")])
PY
fi
ROWS=$(wc -l <"$CSV")
SIZE=$(du -h "$FLEET" | cut -f1)

# Time a command: prints "seconds peak_MB".
measure() {
    /usr/bin/time -f "%e %M" -o "$OUT/.time" "$@" >/dev/null 2>"$OUT/.stderr" || {
        cat "$OUT/.stderr" >&2
        return 1
    }
    awk '{printf "%.2f %.0f", $1, $2/1024}' "$OUT/.time"
}

median_ms() {
    local i s e ts=()
    for i in 1 2 3 4 5 6 7; do
        s=$(date +%s%N)
        "$@" >/dev/null
        e=$(date +%s%N)
        ts+=($(( (e - s) / 1000000 )))
    done
    printf '%s\n' "${ts[@]}" | sort -n | sed -n 4p
}

report() {
    local label=$1 raw=$2 first=$3 again=$4 eol=$5
    local rs fs as
    rs=${raw% *}; fs=${first% *}; as=${again% *}
    printf '%-10s raw load %6ss | first ingest %6ss (%s MB peak, %.0f rows/s, %.2fx raw) | re-ingest %6ss (%s MB peak, %.1fx faster) | report eol %s ms\n' \
        "$label" "$rs" "$fs" "${first#* }" "$(echo "$ROWS / $fs" | bc -l)" "$(echo "$fs / $rs" | bc -l)" \
        "$as" "${again#* }" "$(echo "$fs / $as" | bc -l)" "$eol" | tee -a "$RESULTS"
}

echo "fleet: $N machines x $P programs = $ROWS software rows ($SIZE JSON Lines); $(nproc) cores; $(date -u +%FT%TZ)" | tee "$RESULTS"

# --- SQLite ---
rm -f "$OUT"/raw.db "$OUT"/ingest.db*
RAW=$(measure sqlite3 "$OUT/raw.db" "CREATE TABLE sw(hostname TEXT, name TEXT, version TEXT, publisher TEXT, install_date TEXT, last_used TEXT);" ".mode csv" ".import $CSV sw")
FIRST=$(measure "$BIN" ingest "$FLEET" --database "sqlite://$OUT/ingest.db" "$NOW")
AGAIN=$(measure "$BIN" ingest "$FLEET" --database "sqlite://$OUT/ingest.db" "$NOW")
EOL=$(median_ms "$BIN" report eol --as-of 2026-11-27 --database "sqlite://$OUT/ingest.db" --format json)
report sqlite "$RAW" "$FIRST" "$AGAIN" "$EOL"
rm -f "$OUT"/raw.db

# --- PostgreSQL ---
# shellcheck source=lib/bench-postgres.sh
source "$REPO_ROOT/scripts/lib/bench-postgres.sh"
psql -q "$PGURL/postgres" -c "DROP DATABASE IF EXISTS bench_raw" -c "DROP DATABASE IF EXISTS bench_ingest" \
    -c "CREATE DATABASE bench_raw" -c "CREATE DATABASE bench_ingest" >/dev/null
psql -q "$PGURL/bench_raw" -c "CREATE TABLE sw(hostname TEXT, name TEXT, version TEXT, publisher TEXT, install_date TEXT, last_used TEXT)" >/dev/null
RAW=$(measure psql -q "$PGURL/bench_raw" -c "\\copy sw FROM '$CSV' WITH (FORMAT csv)")
FIRST=$(measure "$BIN" ingest "$FLEET" --database "$PGURL/bench_ingest" "$NOW")
AGAIN=$(measure "$BIN" ingest "$FLEET" --database "$PGURL/bench_ingest" "$NOW")
EOL=$(median_ms "$BIN" report eol --as-of 2026-11-27 --database "$PGURL/bench_ingest" --format json)
report postgres "$RAW" "$FIRST" "$AGAIN" "$EOL"
