// Node side of the shared library: start obelisk-server and redis-server on free loopback ports
// in temp dirs (killed by PID on exit), and a TAP helper. Mirrors lib/servers.py and lib/tap.py.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import util from 'node:util';

const here = path.dirname(fileURLToPath(import.meta.url));
const top = process.env.OBELISK_TOP || path.resolve(here, '..', '..');
const obeliskBin = process.env.OBELISK_SERVER || path.join(top, 'obelisk-server');
const live = new Set();

// Until pid has exited (a zombie or reaped), at most ms: a killed server's threads may still
// finish a file operation, which a removal of its directory must come after. Synchronous, as
// the exit handler that calls it must be.
function waitExited(pid, ms) {
  const end = Date.now() + ms;
  const nap = new Int32Array(new SharedArrayBuffer(4));
  while (Date.now() < end) {
    let stat;
    try { stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8'); } catch { return; }
    if (stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z') return;
    Atomics.wait(nap, 0, 0, 5);
  }
}

function cleanupAll() {
  for (const s of live) {
    try { s.proc.kill('SIGKILL'); } catch { /* already gone */ }
  }
  for (const s of live) {
    if (s.proc.pid) waitExited(s.proc.pid, 2000);
    fs.rmSync(s.tmp, { recursive: true, force: true, maxRetries: 3 });
  }
  live.clear();
}
process.on('exit', cleanupAll);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => { cleanupAll(); process.exit(2); });

const PORT_FLOOR = 20000; // the lowest port freePort hands out
let nextPort = null;

function ephemeralRange() {
  try {
    const [lo, hi] = fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (lo > 0 && hi >= lo) return [lo, hi];
  } catch { /* Linux's default below */ }
  return [32768, 60999];
}

function portBinds(port) {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

// A loopback port that is free now and outside the kernel's ephemeral range. Not port 0: the
// kernel would answer with an ephemeral port, and an outgoing connection of the test itself may
// take it as its source port before the server binds it. The walk starts at a random place and
// steps on, so one process never gets a port twice.
export async function freePort() {
  const [lo, hi] = ephemeralRange();
  let first = PORT_FLOOR, last = lo - 1;
  if (last - first < 1000) { first = hi + 1; last = 65535; }
  const span = last - first + 1;
  if (nextPort === null) nextPort = (process.pid * 7919 + Math.floor(Math.random() * span)) % span;
  for (let tries = 0; tries < span; tries++) {
    const port = first + nextPort;
    nextPort = (nextPort + 1) % span;
    if (await portBinds(port)) return port;
  }
  throw new Error('no free loopback port outside the ephemeral range');
}

function waitPort(port, proc, ms) {
  const end = Date.now() + ms;
  return new Promise((resolve) => {
    const tryOnce = () => {
      if (proc.exitCode !== null || Date.now() > end) return resolve(false);
      const s = net.connect(port, '127.0.0.1', () => { s.destroy(); resolve(true); });
      s.on('error', () => setTimeout(tryOnce, 50));
    };
    tryOnce();
  });
}

function track(kind, proc, tmp, port) {
  const s = {
    kind, proc, tmp, port, log: '',
    stop() {
      return new Promise((resolve) => {
        live.delete(s);
        const done = (code) => { fs.rmSync(tmp, { recursive: true, force: true }); resolve(code); };
        if (proc.exitCode !== null) return done(proc.exitCode);
        const t = setTimeout(() => proc.kill('SIGKILL'), 10000);
        proc.once('exit', (code) => { clearTimeout(t); done(code); });
        proc.kill('SIGTERM');
      });
    },
  };
  live.add(s);
  return s;
}

// Port 0: a free port, read from the start log. With TLS options port 0 would mean no plain
// port (a TLS-only server), so the plain port is one that was free a moment ago.
export async function startObelisk(args = []) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rt-obelisk-'));
  fs.mkdirSync(path.join(tmp, 'data'));
  const plain = args.some((a) => String(a).startsWith('--tls-')) ? String(await freePort()) : '0';
  const proc = spawn(obeliskBin, ['--port', plain, '--dir', path.join(tmp, 'data'),
    '--enable-debug-command', 'local', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const s = track('obelisk', proc, tmp, 0);
  await new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`obelisk-server did not start:\n${s.log}`)), 15000);
    const on = (d) => {
      s.log += d;
      const m = /port=(\d+)/.exec(s.log);
      if (m) s.port = Number(m[1]);
      if (s.port && s.log.includes('Ready to accept connections')) { clearTimeout(t); resolve(); }
    };
    proc.stdout.on('data', on);
    proc.stderr.on('data', on);
    proc.once('exit', () => { clearTimeout(t); reject(new Error(`obelisk-server exited:\n${s.log}`)); });
  });
  proc.removeAllListeners('exit');
  return s;
}

export async function startRedis(args = []) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rt-redis-'));
  for (let i = 0; i < 5; i++) {
    const port = await freePort();
    const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1 -::1',
      '--save', '', '--appendonly', 'no', '--dir', tmp, '--enable-debug-command', 'local', ...args],
    { stdio: ['ignore', 'ignore', 'ignore'] });
    const s = track('redis', proc, tmp, port);
    if (await waitPort(port, proc, 10000)) return s;
    live.delete(s);
    proc.kill('SIGKILL');
  }
  throw new Error('redis-server did not start');
}

export class Tap {
  constructor() { this.n = 0; this.failed = 0; }
  ok(cond, desc, diag) {
    this.n += 1;
    if (cond) console.log(`ok ${this.n} - ${desc}`);
    else {
      this.failed += 1;
      console.log(`not ok ${this.n} - ${desc}`);
      if (diag !== undefined) this.diag(typeof diag === 'string' ? diag : util.inspect(diag, { depth: 6 }));
    }
    return !!cond;
  }
  eq(got, want, desc) {
    return this.ok(util.isDeepStrictEqual(got, want), desc,
      `got:  ${util.inspect(got, { depth: 6 })}\nwant: ${util.inspect(want, { depth: 6 })}`);
  }
  diag(text) { for (const l of String(text).split('\n')) console.log(`# ${l}`); }
  done() {
    console.log(`1..${this.n}`);
    if (this.failed) this.diag(`${this.failed} of ${this.n} failed`);
    cleanupAll();
    process.exit(this.failed || this.n === 0 ? 1 : 0);
  }
}

// Runs fn against each server's client; results (or error messages) must match redis-server's.
export async function both(tap, clients, fn, desc, map = (x) => x) {
  const res = [];
  for (const c of clients) {
    try { res.push(['ok', map(await fn(c))]); } catch (e) { res.push(['error', String(e && e.message)]); }
  }
  tap.eq(res[1], res[0], `${desc} (same as redis-server)`);
  return res[1];
}

// CLIENT INFO / CLIENT LIST text without the fields that depend on sockets and timing.
const VOLATILE = new Set(['id', 'addr', 'laddr', 'fd', 'age', 'idle', 'qbuf', 'qbuf-free',
  'argv-mem', 'multi-mem', 'rbs', 'rbp', 'obl', 'oll', 'omem', 'tot-mem', 'lib-name', 'lib-ver']);
export function stableClientText(text) {
  return String(text).trim().split(' ').filter((f) => !VOLATILE.has(f.split('=')[0])).join(' ');
}
