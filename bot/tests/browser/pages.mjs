// The web pages in a real browser: headless Chromium (Debian's package)
// driven by playwright-core over CDP, pages checked by axe-core. Started by
// the e2e test `browser` (bot/tests/e2e/browser.rs), which serves a site
// with the test fleet and a running campaign, and passes:
//   node pages.mjs BASE OUT.json
//   env CHROMIUM, MODULES (folder with node_modules/playwright-core and
//   axe-core), EMAIL_LINK (an answer link of jdoe for SRV-J1), ME_LINK
//   (asmith's personal link).
// Steps: alice signs in through the provider's login form; the fleet chart
// leads to machines; the campaign page is open; asmith answers two machines
// on "my machines"; jdoe answers by the e-mail link; alice's open page
// changes its counts without a reload; bob (viewer) finds no action and a
// forged POST is refused. Every page visited is checked by axe-core: no
// serious or critical violation. Writes what it saw to OUT.json; exits 1 on
// the first failed check.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const [, , base, outFile] = process.argv;
const modules = process.env.MODULES;
const { chromium } = await import(path.join(modules, 'node_modules/playwright-core/index.mjs'));
const axeSource = readFileSync(path.join(modules, 'node_modules/axe-core/axe.min.js'), 'utf8');

const out = { pages: {}, steps: [] };
const step = (s) => { out.steps.push(s); };
function check(ok, what) {
  if (!ok) { throw new Error(what); }
}

async function axe(page, name) {
  await page.evaluate(axeSource);
  const r = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  const bad = r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  out.pages[name] = { url: page.url(), violations: r.violations.map((v) => `${v.impact}: ${v.id} (${v.nodes.length})`) };
  check(bad.length === 0, `axe on ${name}: ${bad.map((v) => `${v.impact} ${v.id}: ${v.help} at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`).join('; ')}`);
}

async function signIn(context, login, start) {
  const page = await context.newPage();
  await page.goto(base + start);
  await page.waitForSelector('input[name=login]');
  await page.fill('input[name=login]', login);
  await page.fill('input[name=password]', 'anything');
  await page.click('button[type=submit]');
  await page.waitForLoadState('load');
  if (!page.url().startsWith(base)) {
    await page.click('button[type=submit]'); // consent
  }
  await page.waitForURL((u) => u.toString().startsWith(base + start));
  return page;
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
});
let failed = null;
try {
  // An admin signs in and sees the fleet.
  const admin = await browser.newContext();
  const page = await signIn(admin, 'alice', '/');
  check(await page.locator('svg.chart').count() === 1, 'the fleet chart');
  await axe(page, 'fleet');
  step('alice signed in through the provider and sees the fleet chart');
  // From a bar to the machines behind it.
  const bar = page.locator('svg.chart a').first();
  const href = await bar.getAttribute('href');
  await page.goto(base + href);
  const rows = await page.locator('table tbody tr').count();
  check(rows > 0, `machines behind the bar ${href}`);
  await axe(page, 'machines');
  step(`the chart's bar ${href} leads to ${rows} machines`);
  await page.goto(base + '/machines/SRV-A1');
  await axe(page, 'machine');
  for (const [name, at] of [['exceptions', '/exceptions?all=1'], ['audit', '/audit'], ['person', '/people/asmith'], ['licences', '/licences'], ['what-if', '/licences/matlab-campus/whatif?price=100&drop_unused=90']]) {
    await page.goto(base + at);
    await axe(page, name);
  }
  await page.goto(base + '/campaigns');
  await axe(page, 'campaigns');
  await page.click('a[href="/campaigns/retire-2012r2"]');
  await page.waitForSelector('[data-figure=open]');
  await axe(page, 'campaign');
  check((await page.textContent('[data-figure=open]')).trim() === '4', 'four open at first');
  check(await page.locator('input[name=action]').count() > 0, 'an admin has actions');
  await page.waitForSelector('.live-note:not([hidden])');
  await page.evaluate(() => { window.notReloaded = true; });
  step('the campaign page is open with 4 machines open and its live stream connected');

  // An owner answers two machines on "my machines" (personal link).
  const owner = await browser.newContext();
  const me = await owner.newPage();
  await me.goto(process.env.ME_LINK);
  await me.waitForURL(base + '/me');
  await axe(me, 'me');
  for (const host of ['SRV-A1', 'SRV-A2']) {
    const card = me.locator(`article[data-host="${host}"]`);
    await card.locator('input[value=decommission]').check();
    await card.locator('button[type=submit]').click();
    await me.waitForSelector('p.ok');
    check((await me.textContent('p.ok')).includes(`Recorded for ${host}`), `recorded for ${host}`);
  }
  step('asmith answered SRV-A1 and SRV-A2 on "my machines"');
  await page.waitForFunction(() => document.querySelector('[data-figure=open]').textContent.trim() === '2', null, { timeout: 3000 });

  // jdoe answers by the e-mail link; alice's page follows without a reload.
  const mail = await browser.newContext();
  const link = await mail.newPage();
  await link.goto(process.env.EMAIL_LINK);
  await axe(link, 'answer link');
  const clicked = Date.now();
  await link.click('button[type=submit]');
  await page.waitForFunction(() => document.querySelector('[data-figure=open]').textContent.trim() === '1', null, { timeout: 3000 });
  out.live_ms = Date.now() - clicked;
  check(await page.evaluate(() => window.notReloaded === true), 'the page was not reloaded');
  step(`the e-mail link's answer reached alice's open page in ${out.live_ms} ms without a reload`);

  // A viewer finds no action, and a forged POST is refused.
  const viewer = await browser.newContext();
  const bob = await signIn(viewer, 'bob', '/campaigns/retire-2012r2');
  check(await bob.locator('input[name=action]').count() === 0, 'a viewer finds no action');
  const forged = await bob.evaluate(async () => {
    const s = await (await fetch('/auth/session')).json();
    const r = await fetch('/campaigns/retire-2012r2', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `csrf=${s.csrf_token}&action=close&confirm=yes`,
    });
    return r.status;
  });
  check(forged === 403, `a viewer's forged POST answered ${forged}`);
  step('bob (viewer) finds no action; his forged POST is refused with 403');
} catch (e) {
  failed = String(e && e.stack ? e.stack : e);
} finally {
  await browser.close();
}
out.failed = failed;
writeFileSync(outFile, JSON.stringify(out, null, 2));
if (failed) {
  console.error(failed);
  process.exit(1);
}
