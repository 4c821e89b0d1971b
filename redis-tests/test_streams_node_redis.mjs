// The current node-redis with RESP3 doing streams against obelisk-server, results compared with
// redis-server: xAdd (explicit IDs, *, NOMKSTREAM, trimming), xRange/xRevRange, xLen, xDel,
// xTrim, xInfoStream, xRead (several streams, COUNT), the RESP3 shapes underneath (XREAD and
// XINFO STREAM answer maps, a timed-out BLOCK answers null), and xRead with BLOCK woken by an
// xAdd from another connection.
import { createRequire } from 'node:module';
import { Tap, both, startObelisk, startRedis } from './lib/harness.mjs';

const require = createRequire(import.meta.url);
const { createClient, RESP_TYPES } = require('redis');
const version = require('redis/package.json').version;
const tap = new Tap();
tap.diag(`node-redis ${version}`);
const AUTO_ID = /^\d{13,}-\d+$/;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function connect(port) {
  const c = createClient({ RESP: 3, socket: { host: '127.0.0.1', port, connectTimeout: 5000,
    reconnectStrategy: false } });
  c.on('error', () => {});
  await c.connect();
  return c;
}

// Objects without the radix-tree fields (Obelisk's are documented stand-ins).
function noRadix(o) {
  const out = { ...o };
  delete out['radix-tree-keys'];
  delete out['radix-tree-nodes'];
  return out;
}

// A reply read with RESP3 maps as JS Maps: shows which aggregates the server sent as maps.
function shape(v) {
  if (v instanceof Map) return { map: [...v.entries()].map(([k, x]) => [shape(k), shape(x)]) };
  if (Array.isArray(v)) return v.map(shape);
  if (Buffer.isBuffer(v)) return v.toString();
  return v;
}

try {
  const servers = [await startRedis(), await startObelisk()];
  const clients = [];
  const writers = [];
  for (const s of servers) { clients.push(await connect(s.port)); writers.push(await connect(s.port)); }
  const names = ['redis', 'obelisk'];
  const asMaps = clients.map((c) => c.withTypeMapping({ [RESP_TYPES.MAP]: Map }));
  await both(tap, clients, (c) => c.flushAll(), 'flushAll');
  await both(tap, clients, (c) => c.xAdd('s', '1-1', { f: 'v' }), 'xAdd explicit id');
  await both(tap, clients, (c) => c.xAdd('s', '1-*', { f: 'v', g: 'w' }), 'xAdd ms-*');
  await both(tap, clients, (c) => c.xAdd('s', '1-1', { f: 'v' }), 'xAdd smaller id: error');
  await both(tap, clients, (c) => c.xAdd('s', '0-0', { f: 'v' }), 'xAdd 0-0: error');
  await both(tap, clients, (c) => c.xAddNoMkStream('nomk', '*', { f: 'v' }), 'xAddNoMkStream on a missing key: null');
  await both(tap, clients, (c) => c.xAdd('s', '2-0', { f: 'v' }, { TRIM: { strategy: 'MAXLEN', threshold: 2 } }),
    'xAdd with TRIM MAXLEN 2');
  await both(tap, clients, (c) => c.xAdd('s', '3-0', { f: 'v' },
    { TRIM: { strategy: 'MINID', strategyModifier: '=', threshold: '2' } }), 'xAdd with TRIM MINID = 2');
  const autos = [];
  for (const c of clients) autos.push(await c.xAdd('s', '*', { auto: '1' }));
  tap.ok(autos.every((a) => AUTO_ID.test(a)), 'xAdd * gives <ms>-<seq> ids on both', autos);
  await both(tap, clients, (c) => c.xLen('s'), 'xLen');
  await both(tap, clients, (c) => c.xRange('s', '-', '3-0'), 'xRange - 3-0');
  await both(tap, clients, (c) => c.xRange('s', '(2-0', '3', { COUNT: 1 }), 'xRange exclusive start, COUNT 1');
  await both(tap, clients, (c) => c.xRevRange('s', '3', '-'), 'xRevRange incomplete end');
  await both(tap, clients, (c) => c.xRange('nokey', '-', '+'), 'xRange missing key');
  await both(tap, clients, (c) => c.sendCommand(['XRANGE', 's', '-', '+', 'COUNT', '0']), 'XRANGE COUNT 0: null');
  await both(tap, clients, (c) => c.xRange('s', 'abc', '+'), 'xRange invalid id: error');
  await both(tap, clients, (c) => c.xDel('s', ['2-0', '9-9']), 'xDel');
  for (const c of clients) {
    await c.del('t');
    for (let i = 1; i <= 8; i++) await c.xAdd('t', `${i}-0`, { n: String(i) });
  }
  await both(tap, clients, (c) => c.xTrim('t', 'MAXLEN', 6), 'xTrim MAXLEN 6');
  await both(tap, clients, (c) => c.xTrim('t', 'MINID', '5', { strategyModifier: '~' }), 'xTrim MINID ~ 5 (one node)');
  await both(tap, clients, (c) => c.xTrim('t', 'MINID', '5', { strategyModifier: '=' }), 'xTrim MINID = 5');
  await both(tap, clients, (c) => c.xInfoStream('t').then(noRadix), 'xInfoStream (radix fields left out)');
  await both(tap, clients, (c) => c.xInfoStream('nokey'), 'xInfoStream missing key: error');
  await both(tap, asMaps, (c) => c.sendCommand(['XINFO', 'STREAM', 't']).then((r) => shape(r)),
    'XINFO STREAM is a RESP3 map (with the radix stand-ins: one node)');
  await both(tap, asMaps, (c) => c.sendCommand(['XINFO', 'STREAM', 't', 'FULL']).then((r) => shape(r)),
    'XINFO STREAM FULL is a RESP3 map');
  for (const c of clients) {
    await c.del(['a', 'b']);
    await c.xAdd('a', '1-0', { f: '1' });
    await c.xAdd('a', '2-0', { f: '2' });
    await c.xAdd('b', '3-0', { g: '1' });
  }
  await both(tap, clients, (c) => c.xRead([{ key: 'a', id: '0' }, { key: 'b', id: '0' }]), 'xRead two streams');
  await both(tap, clients, (c) => c.xRead([{ key: 'a', id: '0' }, { key: 'b', id: '0' }], { COUNT: 1 }), 'xRead COUNT 1');
  await both(tap, clients, (c) => c.xRead({ key: 'a', id: '$' }), 'xRead $ without BLOCK: null');
  await both(tap, asMaps, (c) => c.sendCommand(['XREAD', 'STREAMS', 'a', 'b', '1', '0']).then((r) => shape(r)),
    'XREAD is a RESP3 map of key to entries');
  const m = await asMaps[1].sendCommand(['XREAD', 'STREAMS', 'a', 'b', '1', '0']);
  tap.ok(m instanceof Map && [...m.keys()].join(',') === 'a,b', 'obelisk: XREAD map keys in request order', shape(m));
  await both(tap, clients, (c) => c.xRead({ key: 'a', id: '$' }, { BLOCK: 100 }), 'xRead BLOCK 100 times out: null');
  await both(tap, clients, (c) => c.sendCommand(['XREAD', 'BLOCK', '100', 'STREAMS', 'a', '$']), 'raw XREAD BLOCK timeout (RESP3 null)');
  await both(tap, clients, (c) => c.multi().xAdd('m', '1-0', { f: '1' }).xRange('m', '-', '+').xRead({ key: 'm', id: '0' }).exec(),
    'multi with stream commands');
  for (let n = 0; n < 2; n++) {
    const t0 = Date.now();
    const p = clients[n].xRead([{ key: 'a', id: '$' }, { key: 'b', id: '$' }], { BLOCK: 5000 });
    await sleep(200);
    await writers[n].xAdd('b', '9-0', { woke: 'yes' });
    const res = await p;
    const took = Date.now() - t0;
    tap.eq(JSON.parse(JSON.stringify(res)), [{ name: 'b', messages: [{ id: '9-0', message: { woke: 'yes' } }] }],
      `${names[n]}: xRead BLOCK woken by xAdd from another connection`);
    tap.ok(took >= 150 && took < 4000, `${names[n]}: woke after the xAdd (${took} ms)`);
  }
  for (let n = 0; n < 2; n++) {
    const p = asMaps[n].sendCommand(['XREAD', 'COUNT', '1', 'BLOCK', '0', 'STREAMS', 'fresh', '$']);
    await sleep(100);
    await writers[n].multi().xAdd('fresh', '1-0', { x: '1' }).xAdd('fresh', '1-1', { x: '2' }).exec();
    tap.eq(shape(await p), { map: [['fresh', [['1-0', ['x', '1']]]]] },
      `${names[n]}: BLOCK 0 on a missing key answers a RESP3 map when woken (COUNT 1)`);
  }
  for (const c of clients.concat(writers)) c.destroy();
  const rc = await servers[1].stop();
  tap.eq(rc, 0, 'obelisk-server exits 0 on SIGTERM');
  await servers[0].stop();
} catch (e) {
  tap.ok(false, `no exception: ${e && e.stack}`);
}
tap.done();
