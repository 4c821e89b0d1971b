// Pub/sub through node-redis: v4 in RESP2 and the current version in RESP3 (messages as push
// frames). A subscriber client (duplicate()) listens on channels and patterns, another client
// publishes; what each listener receives, the publish counts and PUBSUB answers must equal what
// the same calls give against redis-server.
import { createRequire } from 'node:module';
import { Tap, startObelisk, startRedis } from './lib/harness.mjs';

const require = createRequire(import.meta.url);
const tap = new Tap();

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function scenario(lib, resp3, port) {
  const { createClient } = require(lib);
  const opts = { socket: { host: '127.0.0.1', port, connectTimeout: 5000, reconnectStrategy: false } };
  if (resp3) opts.RESP = 3;
  const pub = createClient(opts);
  pub.on('error', () => {});
  await pub.connect();
  const sub = pub.duplicate();
  sub.on('error', () => {});
  await sub.connect();
  const got = [];
  await sub.subscribe('orders', (m, ch) => got.push(['orders', ch, m]));
  await sub.pSubscribe('audit.*', (m, ch) => got.push(['audit.*', ch, m]));
  await sleep(50);
  const counts = [];
  counts.push(await pub.publish('orders', 'o1'));
  counts.push(await pub.publish('audit.login', 'u1'));
  counts.push(await pub.publish('elsewhere', 'x'));
  for (let i = 0; i < 50 && got.length < 2; i++) await sleep(20);
  const numsub = await pub.sendCommand(['PUBSUB', 'NUMSUB', 'orders', 'none']);
  const numpat = await pub.sendCommand(['PUBSUB', 'NUMPAT']);
  await sub.unsubscribe('orders');
  await sub.pUnsubscribe();
  counts.push(await pub.publish('orders', 'o2'));
  await sleep(50);
  await sub.quit();
  await pub.quit();
  return { got, counts, numsub, numpat };
}

const libs = [['redis4', false, 'node-redis v4, RESP2'], ['redis', true, 'node-redis current, RESP3']];
try {
  const r = await startRedis();
  const o = await startObelisk();
  for (const [lib, resp3, name] of libs) {
    tap.diag(`${name}: ${require(`${lib}/package.json`).version}`);
    const want = await scenario(lib, resp3, r.port);
    const got = await scenario(lib, resp3, o.port);
    tap.eq(got.got, want.got, `${name}: messages received (same as redis-server)`);
    tap.eq(got.counts, want.counts, `${name}: publish counts (same as redis-server)`);
    tap.eq(got.numsub, want.numsub, `${name}: PUBSUB NUMSUB (same as redis-server)`);
    tap.eq(got.numpat, want.numpat, `${name}: PUBSUB NUMPAT (same as redis-server)`);
    tap.eq(got.got.length, 2, `${name}: both messages arrived`);
  }
  await r.stop();
  tap.eq(await o.stop(), 0, 'obelisk-server exits 0 on SIGTERM');
} catch (e) {
  tap.ok(false, `no exception: ${e && e.stack}`);
}
tap.done();
