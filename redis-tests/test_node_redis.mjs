// The current node-redis with RESP3 (`RESP: 3`, its default since v5; set explicitly here)
// against obelisk-server, results compared with redis-server: the HELLO 3 handshake, ping, echo,
// hello, client info (and CLIENT SETINFO, which node-redis pipelines at connect), config get,
// info, multi, and HELLO AUTH with a password.
import { createRequire } from 'node:module';
import { Tap, both, startObelisk, startRedis, stableClientText } from './lib/harness.mjs';

const require = createRequire(import.meta.url);
const { createClient } = require('redis');
const version = require('redis/package.json').version;
const tap = new Tap();
tap.diag(`node-redis ${version}`);

async function connect(port, opts = {}) {
  const c = createClient({ RESP: 3, socket: { host: '127.0.0.1', port, connectTimeout: 5000,
    reconnectStrategy: false }, ...opts });
  c.on('error', () => {});
  await c.connect();
  return c;
}

function noId(h) {
  let o;
  if (Array.isArray(h)) { // HELLO 2 answers a flat key/value array
    o = {};
    for (let i = 0; i + 1 < h.length; i += 2) o[h[i]] = h[i + 1];
  } else o = h instanceof Map ? Object.fromEntries(h) : { ...h };
  delete o.id;
  return o;
}

try {
  const servers = [await startRedis(), await startObelisk()];
  const clients = [];
  for (const s of servers) clients.push(await connect(s.port, { name: 'v-now' }));
  tap.ok(clients[1].isReady, 'connects (HELLO 3 handshake) and is ready');
  await both(tap, clients, (c) => c.sendCommand(['CLIENT', 'INFO']), 'connection speaks RESP3',
    (t) => / resp=3/.test(String(t)));
  await both(tap, clients, (c) => c.ping(), 'ping');
  await both(tap, clients, (c) => c.echo('hello world'), 'echo');
  await both(tap, clients, (c) => c.sendCommand(['FOO', 'a']), 'unknown command error');
  await both(tap, clients, (c) => c.hello(3), 'hello(3) map (id left out)', noId);
  await both(tap, clients, (c) => c.hello(2), 'hello(2) from RESP3 (id left out)', noId);
  await both(tap, clients, (c) => c.hello(3), 'hello(3) again', noId);
  await both(tap, clients, (c) => c.sendCommand(['HELLO', '4']), 'HELLO 4 error');
  await both(tap, clients, (c) => c.clientGetName(), 'name option through HELLO SETNAME');
  await both(tap, clients, (c) => c.sendCommand(['CLIENT', 'INFO']), 'CLIENT INFO text', stableClientText);
  await both(tap, clients, (c) => c.clientInfo().then((i) => [i.name, i.db, i.flags, i.resp]),
    'clientInfo() parsed');
  const ci = String(await clients[1].sendCommand(['CLIENT', 'INFO']));
  tap.ok(/ lib-name=node-redis\S* lib-ver=\S+/.test(ci),
    'CLIENT SETINFO sent at connect is stored (lib-name/lib-ver)', ci);
  await both(tap, clients, (c) => c.configGet('maxclients'), 'configGet (RESP3 map)');
  await both(tap, clients, (c) => c.configGet('nosuch'), 'configGet of nothing');
  await both(tap, clients, (c) => c.sendCommand(['CONFIG', 'GET', 'timeout']), 'CONFIG GET raw map');
  await both(tap, clients, (c) => c.configSet('timeout', '3'), 'configSet');
  await both(tap, clients, (c) => c.configGet('timeout'), 'configGet after configSet');
  await both(tap, clients, (c) => c.configSet('timeout', '0'), 'configSet back');
  const info = await clients[1].info();
  tap.ok(/^redis_version:7\.0\./m.test(String(info)), 'info (verbatim string) has redis_version 7.0');
  await both(tap, clients, (c) => c.info('server').then((t) => String(t).startsWith('# Server')), 'info server');
  await both(tap, clients, (c) => c.multi().ping().echo('m').clientGetName().exec(), 'multi().exec()');
  await both(tap, clients, (c) => c.sendCommand(['TIME']), 'TIME shape', (t) => [t.length, typeof t[0]]);
  await both(tap, clients, (c) => c.sendCommand(['COMMAND', 'INFO', 'nosuchcommand']),
    'COMMAND INFO of an unknown command');
  for (const c of clients) c.destroy();
  for (const s of servers) await s.stop();

  const auth = [await startRedis(['--requirepass', 'pw']), await startObelisk(['--requirepass', 'pw'])];
  const ac = [];
  for (const s of auth) ac.push(await connect(s.port, { password: 'pw', name: 'authed' }));
  await both(tap, ac, (c) => c.ping(), 'password through HELLO 3 AUTH: ping');
  await both(tap, ac, (c) => c.clientGetName(), 'password: name set in the same HELLO');
  for (const c of ac) c.destroy();
  const bad = [];
  for (const s of auth) {
    try { const c = await connect(s.port, { password: 'wrong' }); bad.push('connected'); c.destroy(); } catch (e) { bad.push(e.message); }
  }
  tap.eq(bad[1], bad[0], 'wrong password: same error as redis-server');
  tap.ok(/WRONGPASS/.test(bad[1]), 'wrong password: WRONGPASS error', bad);
} catch (e) {
  tap.ok(false, `no exception: ${e && e.stack}`);
}
tap.done();
