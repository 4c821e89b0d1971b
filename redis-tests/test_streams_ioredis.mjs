// ioredis doing streams against obelisk-server, results compared with redis-server: xadd
// (explicit IDs, *, MAXLEN/MINID, NOMKSTREAM), xrange/xrevrange, xlen, xdel, xtrim, xinfo,
// xread (several keys, COUNT), errors, pipeline and multi, and XREAD BLOCK woken by an XADD from
// another connection (and a BLOCK that times out).
import { createRequire } from 'node:module';
import { Tap, both, startObelisk, startRedis } from './lib/harness.mjs';

const require = createRequire(import.meta.url);
const Redis = require('ioredis');
const tap = new Tap();
tap.diag(`ioredis ${require('ioredis/package.json').version}`);
const AUTO_ID = /^\d{13,}-\d+$/;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function connect(port) {
  const c = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0,
    retryStrategy: () => null, connectTimeout: 5000 });
  c.on('error', () => {});
  await c.connect();
  return c;
}

// XINFO STREAM's flat array without radix-tree-keys/-nodes (Obelisk's are documented stand-ins).
function noRadix(a) {
  const out = [];
  for (let i = 0; i + 1 < a.length; i += 2) {
    if (a[i] !== 'radix-tree-keys' && a[i] !== 'radix-tree-nodes') out.push(a[i], a[i + 1]);
  }
  return out;
}

try {
  const servers = [await startRedis(), await startObelisk()];
  const clients = [];
  const writers = [];
  for (const s of servers) { clients.push(await connect(s.port)); writers.push(await connect(s.port)); }
  const names = ['redis', 'obelisk'];
  await both(tap, clients, (c) => c.flushall(), 'flushall');
  await both(tap, clients, (c) => c.xadd('s', '1-1', 'f', 'v'), 'xadd explicit id');
  await both(tap, clients, (c) => c.xadd('s', '1-*', 'f', 'v', 'g', 'w'), 'xadd ms-*');
  await both(tap, clients, (c) => c.xadd('s', '1-1', 'f', 'v'), 'xadd smaller id: error');
  await both(tap, clients, (c) => c.xadd('s', '0-0', 'f', 'v'), 'xadd 0-0: error');
  await both(tap, clients, (c) => c.xadd('s', 'x-y', 'f', 'v'), 'xadd invalid id: error');
  await both(tap, clients, (c) => c.xadd('s', '9-0', 'f'), 'xadd odd field/value count: error');
  await both(tap, clients, (c) => c.xadd('nomk', 'NOMKSTREAM', '*', 'f', 'v'), 'xadd NOMKSTREAM on a missing key: null');
  await both(tap, clients, (c) => c.xadd('s', 'MAXLEN', '1', 'MINID', '1', '*', 'f', 'v'), 'MAXLEN and MINID: error');
  await both(tap, clients, (c) => c.xadd('s', 'MAXLEN', '1', 'LIMIT', '5', '*', 'f', 'v'), 'LIMIT without ~: error');
  const autos = [];
  for (const c of clients) autos.push(await c.xadd('s', '*', 'auto', '1'));
  tap.ok(autos.every((a) => AUTO_ID.test(a)), 'xadd * gives <ms>-<seq> ids on both', autos);
  tap.ok(Math.abs(Number(autos[1].split('-')[0]) - Date.now()) < 60000, 'auto id ms is the clock', autos[1]);
  await both(tap, clients, (c) => c.xlen('s'), 'xlen');
  await both(tap, clients, (c) => c.xrange('s', '-', '1-5'), 'xrange - 1-5');
  await both(tap, clients, (c) => c.xrange('s', '(1-1', '+').then((r) => r.length), 'xrange exclusive start (count)');
  await both(tap, clients, (c) => c.xrange('s', '-', '+', 'COUNT', 1), 'xrange COUNT 1');
  await both(tap, clients, (c) => c.xrevrange('s', '1', '-'), 'xrevrange incomplete end');
  await both(tap, clients, (c) => c.xrange('s', '-', '+', 'COUNT', 0), 'xrange COUNT 0: null');
  await both(tap, clients, (c) => c.xrange('nokey', '-', '+'), 'xrange missing key');
  await both(tap, clients, (c) => c.xrange('s', '(-', '+'), 'xrange (- : error');
  await both(tap, clients, (c) => c.xdel('s', '1-1', '7-7'), 'xdel');
  for (const c of clients) {
    await c.del('t');
    for (let i = 1; i <= 12; i++) await c.xadd('t', `${i}-0`, 'n', String(i));
  }
  await both(tap, clients, (c) => c.xtrim('t', 'MAXLEN', 10), 'xtrim MAXLEN 10');
  await both(tap, clients, (c) => c.xtrim('t', 'MAXLEN', '~', 2), 'xtrim MAXLEN ~ 2 (one node: nothing)');
  await both(tap, clients, (c) => c.xtrim('t', 'MINID', '=', 6), 'xtrim MINID = 6');
  await both(tap, clients, (c) => c.xadd('t', 'MAXLEN', '=', '3', '13-0', 'n', '13'), 'xadd MAXLEN = 3');
  await both(tap, clients, (c) => c.xrange('t', '-', '+'), 'xrange after trims');
  await both(tap, clients, (c) => c.call('XSETID', 't', '20-0', 'ENTRIESADDED', '40', 'MAXDELETEDID', '14-0'), 'xsetid');
  await both(tap, clients, (c) => c.xinfo('STREAM', 't').then(noRadix), 'xinfo STREAM (radix fields left out)');
  await both(tap, clients, (c) => c.xinfo('STREAM', 't', 'FULL', 'COUNT', 2).then(noRadix), 'xinfo STREAM FULL COUNT 2');
  await both(tap, clients, (c) => c.xinfo('STREAM', 'nokey'), 'xinfo STREAM missing key: error');
  await both(tap, clients, (c) => c.type('t'), 'type stream');
  for (const c of clients) {
    await c.del('a', 'b');
    await c.xadd('a', '1-0', 'f', '1');
    await c.xadd('a', '2-0', 'f', '2');
    await c.xadd('b', '3-0', 'g', '1');
  }
  await both(tap, clients, (c) => c.xread('STREAMS', 'a', 'b', '0', '0'), 'xread two streams');
  await both(tap, clients, (c) => c.xread('COUNT', 1, 'STREAMS', 'a', 'b', '0', '0'), 'xread COUNT 1');
  await both(tap, clients, (c) => c.xread('STREAMS', 'a', '$'), 'xread $ without BLOCK: null');
  await both(tap, clients, (c) => c.xread('STREAMS', 'a', 'b', '0'), 'xread unbalanced: error');
  await both(tap, clients, (c) => c.xread('BLOCK', 100, 'STREAMS', 'a', '$'), 'xread BLOCK 100 times out: null');
  await both(tap, clients, (c) => c.pipeline().xadd('p', '1-0', 'f', '1').xadd('p', '1-0', 'f', '1').xlen('p').exec(),
    'pipeline with an error inside', (r) => r.map(([e, v]) => (e ? `error: ${e.message}` : v)));
  await both(tap, clients, (c) => c.multi().xadd('m', '1-0', 'f', '1').xrange('m', '-', '+').del('m').exec(),
    'multi/exec with stream commands');
  for (let n = 0; n < 2; n++) {
    const t0 = Date.now();
    const p = clients[n].xread('BLOCK', 5000, 'STREAMS', 'a', 'b', '$', '$');
    await sleep(200);
    await writers[n].xadd('b', '9-0', 'woke', 'yes');
    const res = await p;
    const took = Date.now() - t0;
    tap.eq(res, [['b', [['9-0', ['woke', 'yes']]]]], `${names[n]}: xread BLOCK woken by xadd from another connection`);
    tap.ok(took >= 150 && took < 4000, `${names[n]}: woke after the xadd (${took} ms)`);
  }
  for (let n = 0; n < 2; n++) {
    const p = clients[n].xread('COUNT', 1, 'BLOCK', 0, 'STREAMS', 'fresh', '$');
    await sleep(100);
    await writers[n].multi().xadd('fresh', '1-0', 'x', '1').xadd('fresh', '1-1', 'x', '2').exec();
    tap.eq(await p, [['fresh', [['1-0', ['x', '1']]]]],
      `${names[n]}: BLOCK 0 on a missing key with COUNT 1, woken by a MULTI creating it`);
  }
  for (const c of clients.concat(writers)) c.disconnect();
  const rc = await servers[1].stop();
  tap.eq(rc, 0, 'obelisk-server exits 0 on SIGTERM');
  await servers[0].stop();
} catch (e) {
  tap.ok(false, `no exception: ${e && e.stack}`);
}
tap.done();
