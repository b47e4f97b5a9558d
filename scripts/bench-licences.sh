#!/usr/bin/env bash
# Licence report benchmark (run by hand, never by CI).
#
#   scripts/bench-licences.sh [MACHINES]      # default 100000
#
# Generates the benchmark fleet (`winventory generate --seed 7 --stale 0.03`,
# 150 programs per machine, as scripts/bench.sh does) if it is not there,
# ingests it into a fresh SQLite database and a fresh PostgreSQL database,
# writes a licence file of 30 licences (every application the fleet has,
# then catalog products, until 30), and times `winventory report licences`
# (the whole process, median of 7 runs) beside `report eol` on the same
# database as the reference.
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"
N="${1:-100000}"
P=150
OUT="$REPO_ROOT/bench-data"
mkdir -p "$OUT"
FLEET="$OUT/fleet-$N-$P.jsonl"
BIN="$REPO_ROOT/target/release/winventory"
AT="2026-11-27T00:00:00Z"
NOW="--now=2026-11-27T12:00:00Z"
RESULTS="$OUT/results-licences-$N.txt"

[ -n "${NO_BUILD:-}" ] || cargo build --release --locked -p winventory --features bench >/dev/null
[ -f "$FLEET" ] || "$BIN" generate --machines "$N" --programs "$P" --seed 7 --stale 0.03 --at "$AT" --out "$FLEET"

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

licence_file() { # DATABASE_URL -> licences.toml with 30 licences
    python3 - "$OUT/licences.toml" \
        <("$BIN" report software --by application --as-of 2026-11-27 --database "$1" --format json) \
        <("$BIN" report software --as-of 2026-11-27 --database "$1" --format json) <<'PY'
import json, sys
apps = [r["application"] for r in json.load(open(sys.argv[2]))]
products = sorted({r["product"] for r in json.load(open(sys.argv[3])) if r.get("product")})
covers = [("application", a) for a in apps] + [("product", p) for p in products]
models = ["per_device", "per_user", "subscription", "site", "concurrent"]
with open(sys.argv[1], "w") as f:
    for i, (kind, name) in enumerate(covers[:30]):
        m = models[i % len(models)]
        f.write(f'[[licence]]\nname = "l{i}"\n{kind} = "{name}"\nmodel = "{m}"\n')
        if m != "site":
            f.write(f"seats = {100 * (i + 1)}\n")
        f.write(f'price = "{10 + i}.50"\ncurrency = "CHF"\nperiod = "{"month" if m == "subscription" else "year"}"\n')
        f.write(f"start = 2026-01-01\nend = 2027-01-31\nnotice_days = 90\n\n")
print(min(30, len(covers)))
PY
}

run() { # LABEL DATABASE_URL
    local n lic eol
    n=$(licence_file "$2")
    "$BIN" licence check "$OUT/licences.toml" --database "$2" >/dev/null
    lic=$(median_ms "$BIN" report licences --as-of 2026-11-27 --licences "$OUT/licences.toml" --database "$2" --format json)
    eol=$(median_ms "$BIN" report eol --as-of 2026-11-27 --database "$2" --format json)
    printf '%-10s %s machines, %s licences: report licences %s ms (median of 7, whole process) | report eol %s ms\n' \
        "$1" "$N" "$n" "$lic" "$eol" | tee -a "$RESULTS"
}

echo "licence report benchmark; $(nproc) cores; $(date -u +%FT%TZ)" | tee "$RESULTS"
rm -f "$OUT"/licences.db*
"$BIN" ingest "$FLEET" --database "sqlite://$OUT/licences.db" "$NOW" >/dev/null
run sqlite "sqlite://$OUT/licences.db"

# shellcheck source=lib/bench-postgres.sh
source "$REPO_ROOT/scripts/lib/bench-postgres.sh"
psql -q "$PGURL/postgres" -c "DROP DATABASE IF EXISTS bench_licences" -c "CREATE DATABASE bench_licences" >/dev/null
"$BIN" ingest "$FLEET" --database "$PGURL/bench_licences" "$NOW" >/dev/null
run postgres "$PGURL/bench_licences"
