// ioredis using consumer groups and committed offsets against obelisk-server:
// - group commands (xgroup CREATE/SETID/CREATECONSUMER/DELCONSUMER/DESTROY, xreadgroup, xack,
//   xpending, xclaim, xautoclaim, xinfo GROUPS/CONSUMERS) give the same results as against
//   redis-server (idle times dropped);
// - consumer-group polling (XREADGROUP/XACK loop) with the consumer restarted midway on a new
//   connection (it re-reads its pending history, then `>`), on both servers, and across an
//   Obelisk restart (kill -9): nothing lost, duplicates only of unacknowledged deliveries;
// - the commit-offset polling pattern (XREAD COUNT n BLOCK t STREAMS key <committed> -> process
//   -> XCOMMIT key group <last id>) with a writer adding entries meanwhile, the consumer restarted
//   on a new connection and across a server restart (clean and kill -9).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Tap, both, startObelisk, startRedis } from './lib/harness.mjs';

const require = createRequire(import.meta.url);
const Redis = require('ioredis');
const tap = new Tap();
tap.diag(`ioredis ${require('ioredis/package.json').version}`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const cmpId = (a, b) => {
  const [am, as] = a.split('-').map(BigInt);
  const [bm, bs] = b.split('-').map(BigInt);
  return am === bm ? (as < bs ? -1 : as > bs ? 1 : 0) : (am < bm ? -1 : 1);
};

async function connect(port) {
  const c = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0,
    retryStrategy: () => null, connectTimeout: 5000, enableOfflineQueue: false });
  c.on('error', () => {});
  await c.connect();
  return c;
}

// Restarts an Obelisk server in the same data directory: our own process, killed by its PID.
const restarted = new Set();
process.on('exit', () => { for (const p of restarted) { try { p.kill('SIGKILL'); } catch { /* gone */ } } });
async function restart(srv, hard) {
  const old = srv.proc;
  const exited = new Promise((resolve) => { if (old.exitCode !== null || old.signalCode) resolve(); else old.once('exit', resolve); });
  old.kill(hard ? 'SIGKILL' : 'SIGTERM');
  await exited;
  restarted.delete(old);
  const proc = spawn(process.env.OBELISK_SERVER
    || path.join(process.env.OBELISK_TOP || path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..'), 'obelisk-server'),
    ['--port', '0', '--dir', path.join(srv.tmp, 'data'), '--enable-debug-command', 'local'],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  restarted.add(proc);
  srv.proc = proc;
  let log = '';
  srv.port = await new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`obelisk-server did not restart:\n${log}`)), 15000);
    const on = (d) => {
      log += d;
      const m = /port=(\d+)/.exec(log);
      if (m && log.includes('Ready to accept connections')) { clearTimeout(t); resolve(Number(m[1])); }
    };
    proc.stdout.on('data', on);
    proc.stderr.on('data', on);
  });
}

async function stopRestarted(srv) {
  const p = srv.proc;
  const code = await new Promise((resolve) => { p.once('exit', (c) => resolve(c)); p.kill('SIGTERM'); });
  restarted.delete(p);
  fs.rmSync(srv.tmp, { recursive: true, force: true });
  return code;
}

// XPENDING extended / XINFO CONSUMERS without idle values.
function noIdle(x) {
  if (!Array.isArray(x)) return x;
  if (x.length === 4 && typeof x[0] === 'string' && /^\d+-\d+$/.test(x[0]) && typeof x[2] === 'number') return [x[0], x[1], x[3]];
  const out = [];
  for (let i = 0; i < x.length; i++) {
    if (x[i] === 'idle' || x[i] === 'inactive') { i++; continue; }
    out.push(noIdle(x[i]));
  }
  return out;
}

async function apiChecks(clients) {
  const b = (fn, desc, map) => both(tap, clients, fn, desc, map);
  await b((c) => c.xgroup('CREATE', 'api', 'g', '$', 'MKSTREAM'), 'XGROUP CREATE MKSTREAM');
  await b((c) => c.xgroup('CREATE', 'api', 'g', '$'), 'XGROUP CREATE BUSYGROUP');
  await b((c) => c.xgroup('CREATE', 'nokey', 'g', '$'), 'XGROUP CREATE without the key');
  for (let i = 1; i <= 6; i++) await b((c) => c.xadd('api', `${i}-0`, 'n', String(i)), `XADD ${i}-0`);
  await b((c) => c.xgroup('SETID', 'api', 'g', '0'), 'XGROUP SETID');
  await b((c) => c.xgroup('CREATECONSUMER', 'api', 'g', 'alice'), 'XGROUP CREATECONSUMER');
  await b((c) => c.xreadgroup('GROUP', 'g', 'alice', 'COUNT', 2, 'STREAMS', 'api', '>'), 'XREADGROUP COUNT');
  await b((c) => c.xreadgroup('GROUP', 'g', 'bob', 'STREAMS', 'api', '>'), 'XREADGROUP bob');
  await b((c) => c.xreadgroup('GROUP', 'g', 'bob', 'STREAMS', 'api', '0'), 'XREADGROUP history');
  await b((c) => c.xreadgroup('GROUP', 'g', 'bob', 'BLOCK', 100, 'STREAMS', 'api', '>'), 'XREADGROUP BLOCK timeout');
  await b((c) => c.xreadgroup('GROUP', 'nog', 'bob', 'STREAMS', 'api', '>'), 'XREADGROUP NOGROUP');
  await b((c) => c.xack('api', 'g', '1-0', '3-0', '9-0'), 'XACK');
  await b((c) => c.xpending('api', 'g'), 'XPENDING summary');
  await b((c) => c.xpending('api', 'g', '-', '+', 10), 'XPENDING extended', noIdle);
  await b((c) => c.xpending('api', 'g', 'IDLE', 100000, '-', '+', 10), 'XPENDING IDLE', noIdle);
  await b((c) => c.xclaim('api', 'g', 'carol', 0, '4-0'), 'XCLAIM');
  await b((c) => c.xclaim('api', 'g', 'carol', 0, '5-0', 'RETRYCOUNT', 3, 'JUSTID'), 'XCLAIM RETRYCOUNT JUSTID');
  await b((c) => c.xclaim('api', 'g', 'carol', 0, '1-0', 'FORCE'), 'XCLAIM FORCE');
  await b((c) => c.xautoclaim('api', 'g', 'dave', 0, '0-0', 'COUNT', 2), 'XAUTOCLAIM');
  await b((c) => c.xinfo('GROUPS', 'api'), 'XINFO GROUPS');
  await b((c) => c.xinfo('CONSUMERS', 'api', 'g'), 'XINFO CONSUMERS', noIdle);
  await b((c) => c.xgroup('DELCONSUMER', 'api', 'g', 'dave'), 'XGROUP DELCONSUMER');
  await b((c) => c.multi().xreadgroup('GROUP', 'g', 'e', 'STREAMS', 'api', '0').xack('api', 'g', '4-0').xpending('api', 'g').exec(), 'MULTI with group commands');
  await b((c) => c.xgroup('DESTROY', 'api', 'g'), 'XGROUP DESTROY');
}

// XREADGROUP/XACK loop: pending history from 0, then `>`. Returns processed IDs.
async function groupPoll(c, key, group, name, processed, { stopAfter, ackUntil } = {}) {
  let n = 0;
  for (const mode of ['history', 'new']) {
    let start = mode === 'history' ? '0' : '>';
    for (;;) {
      const args = ['GROUP', group, name, 'COUNT', 6];
      if (mode === 'new') args.push('BLOCK', 200);
      const reply = await c.xreadgroup(...args, 'STREAMS', key, start);
      const entries = reply ? reply[0][1] : [];
      if (!entries.length) break;
      const ack = [];
      for (const [id] of entries) {
        processed.push(id);
        n++;
        if (ackUntil === undefined || n <= ackUntil) ack.push(id);
        if (stopAfter && n >= stopAfter) break;
      }
      if (ack.length) await c.xack(key, group, ...ack);
      if (stopAfter && n >= stopAfter) return;
      if (mode === 'history') start = entries[entries.length - 1][0];
    }
  }
}

async function groupPollingConsumerRestart(srv, label) {
  let c = await connect(srv.port);
  const key = 'gpoll';
  const ids = [];
  for (let i = 0; i < 150; i++) ids.push(await c.xadd(key, '*', 'n', String(i)));
  await c.xgroup('CREATE', key, 'workers', '0');
  const seen = [];
  await groupPoll(c, key, 'workers', 'w1', seen, { stopAfter: 50, ackUntil: 44 });
  c.disconnect();
  c = await connect(srv.port);
  await groupPoll(c, key, 'workers', 'w1', seen);
  tap.eq([...new Set(seen)].sort(cmpId), ids, `${label}: group polling, consumer restarted: every entry`);
  tap.eq([...new Set(seen.filter((x, i) => seen.indexOf(x) !== i))].sort(cmpId), ids.slice(44, 50),
    `${label}: re-processed only the unacknowledged deliveries`);
  tap.eq((await c.xpending(key, 'workers'))[0], 0, `${label}: nothing left pending`);
  await c.del(key);
  c.disconnect();
  return seen.length;
}

async function groupPollingServerRestart(srv, hard) {
  const label = hard ? 'kill -9' : 'clean restart';
  let c = await connect(srv.port);
  const key = 'gpoll2';
  const ids = [];
  for (let i = 0; i < 120; i++) ids.push(await c.xadd(key, '*', 'n', String(i)));
  await c.xgroup('CREATE', key, 'workers', '0');
  const seen = [];
  await groupPoll(c, key, 'workers', 'w1', seen, { stopAfter: 40, ackUntil: 31 });
  c.disconnect();
  await restart(srv, hard);
  c = await connect(srv.port);
  await groupPoll(c, key, 'workers', 'w1', seen);
  tap.eq([...new Set(seen)].sort(cmpId), ids, `group polling across a server ${label}: every entry`);
  tap.eq([...new Set(seen.filter((x, i) => seen.indexOf(x) !== i))].sort(cmpId), ids.slice(31, 40),
    `group polling across a server ${label}: re-processed only the unacknowledged deliveries`);
  await c.del(key);
  c.disconnect();
}

// XREAD COUNT 5 BLOCK 200 STREAMS key <committed> -> process -> XCOMMIT.
async function commitPoll(c, key, group, processed, total, dieAfter) {
  let pos = (await c.call('XCOMMITTED', key, group)) || '0-0';
  let n = 0;
  while (new Set(processed).size < total) {
    const reply = await c.xread('COUNT', 5, 'BLOCK', 200, 'STREAMS', key, pos);
    if (!reply) continue;
    const entries = reply[0][1];
    for (const [id] of entries) { processed.push(id); n++; }
    if (dieAfter && n >= dieAfter) return;
    const last = entries[entries.length - 1][0];
    const ok = await c.call('XCOMMIT', key, group, last);
    if (ok !== 'OK') throw new Error(`XCOMMIT replied ${ok}`);
    pos = last;
  }
}

async function commitPolling(srv, mode) {
  let c = await connect(srv.port);
  const key = `cpoll-${mode}`;
  await c.xgroup('CREATE', key, 'billing', '0', 'MKSTREAM');
  const total = 100;
  const added = [];
  let writerDone = false;
  const writer = (async () => {
    let w = null;
    for (let i = 0; i < total;) {
      try {
        if (!w) w = await connect(srv.port);
        added.push(await w.xadd(key, `${i + 1}-0`, 'n', String(i)));
        i++;
      } catch (e) {
        if (String(e.message).includes('equal or smaller')) { added.push(`${i + 1}-0`); i++; continue; }
        if (w) w.disconnect();
        w = null;
        await sleep(50);
      }
      await sleep(2);
    }
    if (w) w.disconnect();
    writerDone = true;
  })();
  const processed = [];
  await commitPoll(c, key, 'billing', processed, total, 27);
  const firstRun = processed.length;
  const committed = await c.call('XCOMMITTED', key, 'billing');
  c.disconnect();
  if (mode !== 'connection') await restart(srv, mode === 'kill');
  c = await connect(srv.port);
  tap.eq(await c.call('XCOMMITTED', key, 'billing'), committed, `commit polling (${mode}): the committed ID survives`);
  await commitPoll(c, key, 'billing', processed, total);
  await writer;
  tap.ok(writerDone && added.length === total, `commit polling (${mode}): the writer added ${total} entries`);
  const uniq = [...new Set(processed)];
  tap.eq([...uniq].sort(cmpId), [...added].sort(cmpId), `commit polling (${mode}): every entry processed`);
  tap.eq(uniq, [...uniq].sort(cmpId), `commit polling (${mode}): in order`);
  const dups = uniq.filter((x) => processed.indexOf(x) !== processed.lastIndexOf(x));
  const afterCommit = processed.slice(0, firstRun).filter((x) => cmpId(x, committed || '0-0') > 0);
  tap.eq(dups, afterCommit, `commit polling (${mode}): re-processed only the entries after the last commit`);
  const lag = (await c.call('XLAG', key, 'billing'))[0];
  const info = {};
  for (let i = 0; i + 1 < lag.length; i += 2) info[lag[i]] = lag[i + 1];
  tap.eq([info.lag, info.committed], [0, `${total}-0`], `commit polling (${mode}): XLAG lag 0 at the end`);
  c.disconnect();
}

const rs = await startRedis();
const ob = await startObelisk();
try {
  const clients = [await connect(rs.port), await connect(ob.port)];
  await apiChecks(clients);
  for (const c of clients) c.disconnect();
  const rn = await groupPollingConsumerRestart(rs, 'redis-server');
  const on = await groupPollingConsumerRestart(ob, 'obelisk');
  tap.eq(on, rn, 'group polling: as many deliveries as with redis-server');
  await commitPolling(ob, 'connection');
  await groupPollingServerRestart(ob, true);
  await commitPolling(ob, 'clean');
  await commitPolling(ob, 'kill');
  tap.eq(await stopRestarted(ob), 0, 'obelisk-server exits 0 on SIGTERM after the restarts');
} catch (e) {
  tap.ok(false, `unexpected exception: ${e && e.stack}`);
}
await rs.stop();
tap.done();
