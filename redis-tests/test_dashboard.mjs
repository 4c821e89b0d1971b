// The dashboard in a real browser: playwright-core (web/node_modules) drives Debian's chromium
// (headless, --no-sandbox as root, networking off except loopback: every request that is not
// to the server is refused and counted). A server is started, the page opened on an empty
// server (empty states), then entries and a group are written over the API; the test checks
// the health badge, the topics table (length, rate, sorting, filter), the topic's group lag and
// that it updates, the charts, the entry browser (pages) and the live tail (SSE), and saves
// screenshots to build/test-output/dashboard/ (or $OBELISK_TEST_OUTPUT).
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { startObelisk, freePort, Tap } from './lib/harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const top = process.env.OBELISK_TOP || path.resolve(here, '..');
const outDir = process.env.OBELISK_TEST_OUTPUT || path.join(top, 'build', 'test-output', 'dashboard');
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
const tap = new Tap();

let chromium;
try {
  chromium = createRequire(path.join(top, 'web', 'package.json'))('playwright-core').chromium;
} catch (e) {
  tap.ok(false, 'playwright-core is installed in web/ (scripts/install-deps.sh test)', String(e));
  tap.done();
}
if (!fs.existsSync(chromiumPath)) {
  tap.ok(false, `chromium at ${chromiumPath} (Debian package chromium)`);
  tap.done();
}
fs.mkdirSync(outDir, { recursive: true });

const httpPort = await freePort();
const srv = await startObelisk(['--http-port', String(httpPort)]);
const base = `http://127.0.0.1:${httpPort}`;
const api = async (method, p, body) => {
  const r = await fetch(base + p, { method, headers: { 'Content-Type': 'application/json' }, body: body && JSON.stringify(body) });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : null };
};

const browser = await chromium.launch({
  executablePath: chromiumPath,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-proxy-server',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--disable-default-apps', '--disable-extensions', '--no-first-run',
    '--disable-features=Translate,OptimizationHints,MediaRouter,DialMediaRouteProvider',
    '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1'],
});
let producer = null;
try {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
  const outside = [];
  await ctx.route('**/*', (route) => {
    const u = new URL(route.request().url());
    if (u.hostname === '127.0.0.1' && u.port === String(httpPort)) return route.continue();
    outside.push(u.href);
    return route.abort();
  });
  const page = await ctx.newPage();
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') pageErrors.push(m.text()); });

  // ---- an empty server ----
  await page.goto(`${base}/?interval=300`);
  await page.waitForFunction(() => document.getElementById('health-status').textContent === 'ok', null, { timeout: 10000 });
  tap.ok(true, 'health badge: ok');
  await page.waitForSelector('#topics-empty:not(.hidden)', { timeout: 5000 });
  tap.ok(true, 'empty state: no topics yet');
  tap.ok(await page.isHidden('#charts-missing'), 'uPlot is bundled (no missing-charts note)');
  await page.screenshot({ path: path.join(outDir, 'empty.png'), fullPage: true });

  // ---- entries and a group ----
  const batch = Array.from({ length: 50 }, (_, i) => ({ fields: { n: String(i), sku: `item-${i}` } }));
  const first = await api('POST', '/v1/topics/orders/entries', { entries: batch });
  tap.eq(first.status, 201, 'produce 50 entries through the API');
  await api('POST', '/v1/topics/audit/entries', { fields: { who: 'admin' } });
  tap.eq((await api('POST', '/v1/topics/orders/groups/billing', { id: '0' })).status, 201, 'create group billing');
  await api('POST', '/v1/topics/orders/groups/billing/read', { consumer: 'alice', count: 10 });
  producer = setInterval(() => { api('POST', '/v1/topics/orders/entries', { fields: { tick: String(Date.now()) } }).catch(() => {}); }, 40);

  const row = '#topics tbody tr[data-key="orders"]';
  await page.waitForSelector(row, { timeout: 10000 });
  tap.ok(true, 'topics table: orders appears');
  const len1 = Number((await page.textContent(`${row} td:nth-child(2)`)).replace(/,/g, ''));
  tap.ok(len1 >= 50, 'topics table: its length', len1);
  await page.waitForFunction((sel) => { const t = document.querySelector(`${sel} td:nth-child(3)`); return t && Number(t.textContent.replace(/,/g, '')) > 0; }, row, { timeout: 10000 });
  tap.ok(true, 'topics table: a rate above zero while entries are written');
  await page.waitForFunction(([sel, n]) => Number(document.querySelector(`${sel} td:nth-child(2)`).textContent.replace(/,/g, '')) > n, [row, len1], { timeout: 10000 });
  tap.ok(true, 'topics table: the length updates');
  await page.waitForFunction(() => Number(document.getElementById('stat-in').textContent.replace(/,/g, '')) > 0, null, { timeout: 10000 });
  tap.ok(true, 'entries in per second above zero');
  const disk = await page.textContent('#stat-disk');
  tap.ok(/\d/.test(disk), 'disk use shown', disk);
  tap.ok(await page.locator('#chart-throughput canvas').count() > 0, 'throughput chart drawn (canvas)');

  // sorting and filter
  await page.click('#topics th[data-sort="length"]');
  await page.click('#topics th[data-sort="length"]');
  const firstKey = await page.getAttribute('#topics tbody tr:first-child', 'data-key');
  tap.eq(firstKey, 'orders', 'sorting by length (descending) puts orders first');
  await page.fill('#topic-filter', 'aud');
  await page.waitForFunction(() => document.querySelectorAll('#topics tbody tr').length === 1);
  tap.eq(await page.getAttribute('#topics tbody tr:first-child', 'data-key'), 'audit', 'the filter keeps audit only');
  await page.fill('#topic-filter', 'zzz');
  await page.waitForSelector('#topics-nomatch:not(.hidden)');
  tap.ok(true, 'filter without a match: its empty state');
  await page.fill('#topic-filter', '');
  await page.screenshot({ path: path.join(outDir, 'overview.png'), fullPage: true });

  // ---- the topic: groups and lag ----
  await page.click(row);
  await page.waitForSelector('#groups tbody tr[data-group="billing"]', { timeout: 10000 });
  const lagOf = async () => Number((await page.textContent('#groups tbody tr[data-group="billing"] td:nth-child(2)')).replace(/,/g, ''));
  const pend = await page.textContent('#groups tbody tr[data-group="billing"] td:nth-child(3)');
  tap.eq(pend.trim(), '10', 'group billing: 10 pending');
  const lag1 = await lagOf();
  tap.ok(lag1 >= 40, 'group billing: its lag', lag1);
  await page.waitForFunction(([n]) => Number(document.querySelector('#groups tbody tr[data-group="billing"] td:nth-child(2)').textContent.replace(/,/g, '')) > n, [lag1], { timeout: 10000 });
  tap.ok(true, 'group lag updates as entries arrive');
  clearInterval(producer);
  producer = null;
  const ids = first.body.ids;
  await api('POST', '/v1/topics/orders/groups/billing/commit', { id: ids[9] });
  await page.waitForFunction((id) => document.querySelector('#groups tbody tr[data-group="billing"] td:nth-child(4)').textContent === id, ids[9], { timeout: 10000 });
  tap.ok(true, 'committed offset shown after a commit');
  await page.waitForFunction(() => document.querySelectorAll('#chart-lag canvas').length > 0, null, { timeout: 10000 });
  tap.ok(true, 'lag chart drawn');
  await page.screenshot({ path: path.join(outDir, 'topic.png'), fullPage: true });

  // ---- entry browser ----
  await page.fill('#range-count', '5');
  await page.click('#btn-load');
  // the page shown when the topic opened also starts at ids[0]: wait for the new page itself
  await page.waitForFunction((id) => {
    const rows = document.querySelectorAll('#entries tbody tr');
    return rows.length === 5 && rows[0].querySelector('td')?.textContent === id;
  }, ids[0], { timeout: 5000 }).catch(() => {});
  tap.eq(await page.locator('#entries tbody tr').count(), 5, 'entry browser: a page of 5 from the start');
  await page.click('#btn-next');
  await page.waitForFunction((id) => document.querySelector('#entries tbody tr td')?.textContent === id, ids[5], { timeout: 5000 });
  tap.ok(true, 'entry browser: next page starts after the last one');
  tap.ok((await page.textContent('#entries tbody')).includes('sku=item-5'), 'entry browser: fields shown');
  await page.click('#btn-prev');
  await page.waitForFunction((id) => document.querySelector('#entries tbody tr td')?.textContent === id, ids[0], { timeout: 5000 });
  tap.ok(true, 'entry browser: previous page');

  // ---- live tail ----
  await page.click('#btn-tail');
  await page.waitForFunction(() => document.getElementById('tail-status').textContent.startsWith('live'), null, { timeout: 5000 });
  const marker = `live-${Date.now()}`;
  const t0 = Date.now();
  await api('POST', '/v1/topics/orders/entries', { fields: { marker } });
  await page.waitForFunction((m) => document.querySelector('#entries tbody').textContent.includes(m), marker, { timeout: 5000 });
  tap.ok(true, `live tail: the new entry appears (${Date.now() - t0} ms)`);
  await page.screenshot({ path: path.join(outDir, 'tail.png'), fullPage: true });
  await page.click('#btn-tail');

  // ---- a page that lands after the tail started is dropped (regression: selecting a topic
  // loads its first page; a tail started before that page arrived had its status and rows
  // overwritten by it). The first page is held in the route until the tail is live. ----
  let release;
  const held = new Promise((r) => { release = r; });
  let sawPage;
  const pageAsked = new Promise((r) => { sawPage = r; });
  // (the page percent-encodes every byte of a key in its URLs)
  const isPage = (u) => u.pathname.endsWith('/entries') && u.searchParams.has('count');
  await page.route(isPage, async (route) => { sawPage(); await held; await route.continue(); });
  await page.click(row);
  await pageAsked;
  await page.click('#btn-tail');
  await page.waitForFunction(() => document.getElementById('tail-status').textContent.startsWith('live'), null, { timeout: 5000 });
  const marker2 = `late-${Date.now()}`;
  await api('POST', '/v1/topics/orders/entries', { fields: { marker: marker2 } });
  await page.waitForFunction((m) => document.querySelector('#entries tbody').textContent.includes(m), marker2, { timeout: 5000 });
  const landed = page.waitForResponse((r) => isPage(new URL(r.url())));
  release();
  await landed;
  await page.unroute(isPage);
  // with the defect the late page replaces status and rows within milliseconds of landing
  const overwritten = await page.waitForFunction((m) => !document.getElementById('tail-status').textContent.startsWith('live') ||
    !document.querySelector('#entries tbody').textContent.includes(m), marker2, { timeout: 1500 }).then(() => true, () => false);
  tap.ok(!overwritten, 'a page that lands after the tail started leaves the tail and its rows alone');
  // paging through history while the tail is live ends the tail (no live rows among the page's)
  await page.click('#btn-load');
  await page.waitForFunction(() => document.getElementById('btn-tail').textContent === 'Live tail' &&
    document.querySelectorAll('#entries tbody tr.live').length === 0, null, { timeout: 5000 }).then(() => true, () => false)
    .then((ended) => tap.ok(ended, 'loading a page stops the live tail'));

  tap.eq(pageErrors, [], 'no script errors or failed loads in the page');

  // ---- an error state: the topic goes away (its 404s are expected from here on) ----
  await api('DELETE', '/v1/topics/orders');
  await page.waitForSelector('#topic-error:not(.hidden)', { timeout: 5000 });
  tap.ok((await page.textContent('#topic-error')).includes('no longer exists'), 'a deleted topic: its error state');

  tap.eq(outside, [], 'no request left the server (offline)');
  tap.ok(!pageErrors.some((e) => !e.includes('404')), 'after the delete only 404s, no script errors', pageErrors);
  tap.ok(fs.existsSync(path.join(outDir, 'tail.png')), `screenshots saved in ${outDir}`);
} catch (e) {
  tap.ok(false, 'dashboard test ran to the end', e.stack || String(e));
} finally {
  if (producer) clearInterval(producer);
  await browser.close();
  await srv.stop();
}
tap.done();
