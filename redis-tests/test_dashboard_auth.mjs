// The dashboard in a real browser behind the HTTP face's authentication (docs/security.md):
// playwright-core (web/node_modules) drives Debian's chromium, headless, loopback only. With
// requirepass set, a browser without credentials gets 401 with the Basic challenge; one that
// answers the challenge (httpCredentials, what the password prompt does) gets the page, and
// every request the page makes after it (assets, /health, /metrics, the API, the live tail's
// EventSource) reuses the credentials: the health badge, the topics table and a live tail work.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { startObelisk, freePort, Tap } from './lib/harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const top = process.env.OBELISK_TOP || path.resolve(here, '..');
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

const password = 'dash-pw-41';
const httpPort = await freePort();
const srv = await startObelisk(['--http-port', String(httpPort), '--requirepass', password]);
const base = `http://127.0.0.1:${httpPort}`;
const basic = 'Basic ' + Buffer.from(`default:${password}`).toString('base64');
const api = async (method, p, body) => {
  const r = await fetch(base + p, {
    method,
    headers: { 'Content-Type': 'application/json', Authorization: basic },
    body: body && JSON.stringify(body),
  });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : null };
};

const browser = await chromium.launch({
  executablePath: chromiumPath,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-proxy-server',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--disable-default-apps', '--disable-extensions', '--no-first-run',
    '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1'],
});
try {
  // ---- no credentials: the challenge (a headless browser without credentials cancels the
  // prompt and shows no response, so this one is asked over fetch) ----
  const first = await fetch(`${base}/`);
  tap.eq(first.status, 401, 'without credentials the page is 401');
  tap.eq(first.headers.get('www-authenticate'), 'Basic realm="obelisk", charset="UTF-8"',
    'with a Basic challenge (the browser asks for the password)');

  // ---- the credentials given once, as at the prompt ----
  const ctx = await browser.newContext({ httpCredentials: { username: 'default', password } });
  const page = await ctx.newPage();
  const refused = [];
  const pageErrors = [];
  page.on('response', (r) => { if (r.status() >= 400) refused.push(`${r.status()} ${r.url()}`); });
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') pageErrors.push(m.text()); });
  tap.eq((await api('POST', '/v1/topics/orders/entries', { fields: { n: '1' } })).status, 201,
    'produce with Basic credentials');
  const resp = await page.goto(`${base}/?interval=300`);
  tap.eq(resp.status(), 200, 'with credentials the page loads');
  await page.waitForFunction(() => document.getElementById('health-status').textContent === 'ok', null, { timeout: 10000 });
  tap.ok(true, 'health badge: ok (/health fetched with the credentials)');
  const row = '#topics tbody tr[data-key="orders"]';
  await page.waitForSelector(row, { timeout: 10000 });
  tap.ok(true, 'topics table: orders appears (the API and /metrics fetched with the credentials)');
  await page.click(row);
  await page.click('#btn-tail');
  await page.waitForFunction(() => document.getElementById('tail-status').textContent.startsWith('live'), null, { timeout: 5000 });
  const marker = `live-${Date.now()}`;
  await api('POST', '/v1/topics/orders/entries', { fields: { marker } });
  await page.waitForFunction((m) => document.querySelector('#entries tbody').textContent.includes(m), marker, { timeout: 5000 });
  tap.ok(true, 'live tail (EventSource) delivers a new entry with the credentials');
  await page.click('#btn-tail');
  tap.eq(pageErrors, [], 'no script errors or failed loads in the page');
  // the challenge of the first navigation may show; nothing after it is refused
  tap.ok(refused.length <= 1 && refused.every((r) => r === `401 ${base}/?interval=300`),
    'no request of the page refused after the prompt', refused);
} catch (e) {
  tap.ok(false, 'dashboard auth test ran to the end', e.stack || String(e));
} finally {
  await browser.close();
  await srv.stop();
}
tap.done();
