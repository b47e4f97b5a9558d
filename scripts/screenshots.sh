#!/usr/bin/env bash
# Screenshots of every web page into docs/screenshots/ (run by hand, never
# by CI; the README shows them). Needs the browser peers of the tests
# (scripts/lib/browser.sh installs them) and a build with the bench feature
# (for `bench session`, which opens a sign-in session without a provider).
#
#   scripts/screenshots.sh [MACHINES]      # default 2000 demo machines
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"
N="${1:-2000}"
OUT="$REPO_ROOT/bench-data/screens"
mkdir -p "$OUT" docs/screenshots
# shellcheck source=lib/postgres.sh
source "$REPO_ROOT/scripts/lib/postgres.sh"
# shellcheck source=lib/browser.sh
source "$REPO_ROOT/scripts/lib/browser.sh"
install_browser
[ -n "${NO_BUILD:-}" ] || cargo build --release --locked -p winventory --features bench >/dev/null
BIN="$REPO_ROOT/target/release/winventory"

DB="$OUT/screens.db"
rm -f "$DB" "$DB"-wal "$DB"-shm
export RUST_LOG=error
export WINVENTORY_DATABASE_URL="sqlite://$DB"
export WINVENTORY_LINK_KEYS="k1:screens-key-0123456789abcdef0123456789"
LISTEN=127.0.0.1:18096
export WINVENTORY_LISTEN=$LISTEN WINVENTORY_BASE_URL="http://$LISTEN"
export WINVENTORY_OIDC_ISSUER="http://127.0.0.1:9/" WINVENTORY_OIDC_CLIENT_ID=screens WINVENTORY_OIDC_CLIENT_SECRET=screens-secret
"$BIN" demo --into "sqlite://$DB" --machines "$N" >/dev/null 2>&1
{
    echo "login,name,email,matrix_id,mattermost_username,language,time_zone,manager,groups"
    sqlite3 "$DB" "SELECT DISTINCT login FROM machine_owners" | awk '{ printf "%s,%s,%s@example.org,,,en,Europe/Zurich,,\n", $1, $1, $1 }'
} >"$OUT/users.csv"
"$BIN" users import "$OUT/users.csv" >/dev/null
cat >"$OUT/campaign.toml" <<'TOML'
name = "retire-2012r2"
kind = "eol"
title = "Windows Server 2012 R2 retirement"
deadline = "2027-06-30"
fallback_group = "it-desk"

[target]
os = [{ product = "windows-server" }]
TOML
"$BIN" campaign create "$OUT/campaign.toml" >/dev/null
"$BIN" campaign start retire-2012r2 >/dev/null
OWNER=$(sqlite3 "$DB" "SELECT recipient FROM campaign_machines WHERE recipient NOT LIKE 'group:%' GROUP BY recipient ORDER BY COUNT(*) DESC LIMIT 1")
HOST=$(sqlite3 "$DB" "SELECT hostname FROM campaign_machines ORDER BY host_key LIMIT 1")
ADMIN=$("$BIN" bench session --login it-admin --roles admin)
MINE=$("$BIN" bench session --login "$OWNER" --roles owner)
"$BIN" serve --no-worker 2>/dev/null &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 300); do curl -fs "http://$LISTEN/healthz" >/dev/null 2>&1 && break; sleep 0.1; done

cat >"$OUT/shots.mjs" <<NODE
const [base, dir, admin, mine, host, owner] = process.argv.slice(2);
const { chromium } = await import('$BROWSER_MODULES/node_modules/playwright-core/index.mjs');
const browser = await chromium.launch({ executablePath: '$BROWSER_CHROMIUM', args: ['--no-sandbox', '--disable-gpu'] });
const shot = async (cookie, path, name) => {
  const ctx = await browser.newContext({ viewport: { width: 1200, height: 900 } });
  const [k, v] = cookie.split('=');
  await ctx.addCookies([{ name: k, value: v, url: base }]);
  const page = await ctx.newPage();
  await page.goto(base + path);
  await page.screenshot({ path: dir + '/' + name + '.png', fullPage: false });
  await ctx.close();
};
await shot(admin, '/', 'fleet');
await shot(admin, '/campaigns', 'campaigns');
await shot(admin, '/campaigns/retire-2012r2', 'campaign');
await shot(admin, '/machines/' + encodeURIComponent(host), 'machine');
await shot(admin, '/exceptions?all=1', 'exceptions');
await shot(admin, '/audit', 'audit');
await shot(admin, '/people/' + encodeURIComponent(owner), 'person');
await shot(mine, '/me', 'me');
await browser.close();
NODE
node "$OUT/shots.mjs" "http://$LISTEN" "$REPO_ROOT/docs/screenshots" "$ADMIN" "$MINE" "$HOST" "$OWNER"
echo "screenshots in docs/screenshots/"
