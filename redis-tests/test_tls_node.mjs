// ioredis (tls: {ca, cert, key}) and the current node-redis (socket: {tls: true, ca, cert, key})
// over mutual TLS, each against redis-server and obelisk-server on their TLS ports, results
// compared: XADD, XRANGE, a pipeline of 2000 XADDs, a 5 MB XRANGE reply, and a client without a
// certificate refused. Certificates are made here with the openssl tool.
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { Tap, both, freePort, startObelisk, startRedis } from './lib/harness.mjs';

const require = createRequire(import.meta.url);
const Redis = require('ioredis');
const { createClient } = require('redis');
const tap = new Tap();
tap.diag(`ioredis ${require('ioredis/package.json').version}, node-redis ${require('redis/package.json').version}`);

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rt-tls-node-'));
process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
const ssl = (...args) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
const p = (name) => path.join(dir, name);
ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=ca', '-keyout',
  'ca.key', '-out', 'ca.crt');
for (const [name, ext] of [['server', 'subjectAltName=DNS:localhost,IP:127.0.0.1'],
  ['client', 'basicConstraints=CA:FALSE']]) {
  ssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${name}`, '-keyout', `${name}.key`,
    '-out', `${name}.csr`);
  fs.writeFileSync(p(`${name}.ext`), `${ext}\n`);
  ssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial',
    '-days', '2', '-extfile', `${name}.ext`, '-out', `${name}.crt`);
}
const ca = fs.readFileSync(p('ca.crt'));
const cert = fs.readFileSync(p('client.crt'));
const key = fs.readFileSync(p('client.key'));
const tlsArgs = (port) => ['--tls-port', String(port), '--tls-cert-file', p('server.crt'),
  '--tls-key-file', p('server.key'), '--tls-ca-cert-file', p('ca.crt')];

const rport = await freePort();
const oport = await freePort();
const rs = await startRedis(tlsArgs(rport));
const os_ = await startObelisk(tlsArgs(oport));
const ports = [rport, oport];

async function ioredis(port, withCert = true) {
  const c = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0,
    retryStrategy: () => null, connectTimeout: 5000,
    tls: withCert ? { ca, cert, key } : { ca } });
  c.on('error', () => {});
  await c.connect();
  return c;
}

async function nodeRedis(port, withCert = true) {
  const c = createClient({ socket: { host: '127.0.0.1', port, tls: true, ca,
    ...(withCert ? { cert, key } : {}), connectTimeout: 5000, reconnectStrategy: false } });
  c.on('error', () => {});
  await c.connect();
  return c;
}

// a long reply as count, bytes and a digest: compared without printing 5 MB
function digest(entries) {
  const h = crypto.createHash('sha256');
  const text = JSON.stringify(entries);
  h.update(text);
  return { count: entries.length, bytes: text.length, sha256: h.digest('hex') };
}

const blob = 'b'.repeat(1000);

// ---- ioredis ----
{
  const cs = [await ioredis(rport), await ioredis(oport)];
  const first = await both(tap, cs, (c) => c.xadd('io', '1-1', 'a', 'b'), 'ioredis over TLS: XADD');
  tap.eq(first, ['ok', '1-1'], 'ioredis: Obelisk answered the XADD over TLS');
  await both(tap, cs, (c) => c.xrange('io', '-', '+'), 'ioredis over TLS: XRANGE');
  await both(tap, cs, async (c) => {
    const pl = c.pipeline();
    for (let i = 0; i < 2000; i++) pl.xadd('io', `2-${i}`, 'n', String(i));
    const res = await pl.exec();
    return { n: res.length, errors: res.filter(([e]) => e).length, last: res[res.length - 1][1] };
  }, 'ioredis over TLS: a pipeline of 2000 XADDs');
  const big = await both(tap, cs, async (c) => {
    const pl = c.pipeline();
    for (let i = 0; i < 5000; i++) pl.xadd('iobig', `1-${i}`, 'blob', blob);
    await pl.exec();
    return digest(await c.xrange('iobig', '-', '+'));
  }, 'ioredis over TLS: a 5 MB XRANGE reply');
  tap.ok(big[0] === 'ok' && big[1].count === 5000 && big[1].bytes > 5e6,
    'ioredis: the reply holds 5000 entries, over 5 MB', big);
  for (const c of cs) c.disconnect();
  const refused = [];
  for (const port of ports) {
    try {
      const c = await ioredis(port, false);
      await c.ping();
      refused.push(false);
      c.disconnect();
    } catch {
      refused.push(true);
    }
  }
  tap.eq(refused, [true, true], 'ioredis without a client certificate: refused by both');
}

// ---- node-redis ----
{
  const cs = [await nodeRedis(rport), await nodeRedis(oport)];
  await both(tap, cs, (c) => c.xAdd('nr', '1-1', { a: 'b' }), 'node-redis over TLS: xAdd');
  await both(tap, cs, (c) => c.xRange('nr', '-', '+'), 'node-redis over TLS: xRange');
  await both(tap, cs, async (c) => {
    const res = await Promise.all(Array.from({ length: 2000 },
      (_, i) => c.xAdd('nr', `2-${i}`, { n: String(i) })));
    return { n: res.length, last: res[res.length - 1] };
  }, 'node-redis over TLS: 2000 concurrent xAdds (auto-pipelined)');
  const big = await both(tap, cs, async (c) => {
    await Promise.all(Array.from({ length: 5000 },
      (_, i) => c.xAdd('nrbig', `1-${i}`, { blob })));
    return digest(await c.xRange('nrbig', '-', '+'));
  }, 'node-redis over TLS: a 5 MB xRange reply');
  tap.ok(big[0] === 'ok' && big[1].count === 5000 && big[1].bytes > 5e6,
    'node-redis: the reply holds 5000 entries, over 5 MB', big);
  for (const c of cs) await c.quit();
  const refused = [];
  for (const port of ports) {
    try {
      const c = await nodeRedis(port, false);
      await c.ping();
      refused.push(false);
      await c.quit();
    } catch {
      refused.push(true);
    }
  }
  tap.eq(refused, [true, true], 'node-redis without a client certificate: refused by both');
}

await rs.stop();
await os_.stop();
tap.done();
