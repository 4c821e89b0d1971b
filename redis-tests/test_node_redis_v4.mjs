// node-redis v4 (RESP2) against obelisk-server, results compared with redis-server: connect,
// ping, echo, info, client setname/getname/info, config get, pipelines (multi and not), select
// through the database option, and a password.
import { createRequire } from 'node:module';
import { Tap, both, startObelisk, startRedis, stableClientText } from './lib/harness.mjs';

const require = createRequire(import.meta.url);
const { createClient } = require('redis4');
const tap = new Tap();
tap.diag(`node-redis ${require('redis4/package.json').version}`);

async function connect(port, opts = {}) {
  const c = createClient({ socket: { host: '127.0.0.1', port, connectTimeout: 5000,
    reconnectStrategy: false }, ...opts });
  c.on('error', () => {});
  await c.connect();
  return c;
}

try {
  const servers = [await startRedis(), await startObelisk()];
  const clients = [];
  for (const s of servers) clients.push(await connect(s.port, { name: 'v4-client' }));
  tap.ok(clients[1].isReady, 'connects and is ready');
  await both(tap, clients, (c) => c.ping(), 'ping');
  await both(tap, clients, (c) => c.ping('hello'), 'ping hello');
  await both(tap, clients, (c) => c.echo('hello world'), 'echo');
  await both(tap, clients, (c) => c.sendCommand(['FOO', 'a']), 'unknown command error');
  await both(tap, clients, (c) => c.clientGetName(), 'name option set through CLIENT SETNAME');
  await both(tap, clients, (c) => c.clientSetName('renamed'), 'clientSetName');
  await both(tap, clients, (c) => c.clientGetName(), 'clientGetName');
  await both(tap, clients, (c) => c.sendCommand(['CLIENT', 'INFO']), 'CLIENT INFO', stableClientText);
  await both(tap, clients, (c) => c.clientInfo().then((i) => [i.name, i.db, i.flags, i.cmd]),
    'clientInfo() parsed');
  await both(tap, clients, async (c) => typeof (await c.clientId()), 'clientId is a number');
  const info = await clients[1].info();
  tap.ok(/^redis_version:7\.0\./m.test(info), 'info has redis_version 7.0', info.slice(0, 200));
  await both(tap, clients, (c) => c.info('server').then((t) => t.startsWith('# Server')), 'info server');
  await both(tap, clients, (c) => c.configGet('maxclients'), 'configGet');
  await both(tap, clients, (c) => c.configSet('timeout', '9'), 'configSet');
  await both(tap, clients, (c) => c.configGet('timeout'), 'configGet after configSet');
  await both(tap, clients, (c) => c.multi().ping().echo('m').dbSize().exec(), 'multi().exec()');
  await both(tap, clients, (c) => c.multi().ping().echo('p').clientGetName().execAsPipeline(),
    'multi().execAsPipeline()');
  await both(tap, clients, (c) => c.multi().ping().addCommand(['FOO']).exec(), 'multi with an unknown command');
  await both(tap, clients, (c) => Promise.all([c.ping(), c.echo('a'), c.dbSize()]), 'auto-pipelined commands');
  for (const c of clients) await c.quit();

  const db = [];
  for (const s of servers) db.push(await connect(s.port, { database: 4 }));
  await both(tap, db, (c) => c.sendCommand(['CLIENT', 'INFO']), 'database: 4', (t) => / db=4 /.test(t));
  for (const c of db) await c.quit();
  for (const s of servers) await s.stop();

  const auth = [await startRedis(['--requirepass', 'pw']), await startObelisk(['--requirepass', 'pw'])];
  const ac = [];
  for (const s of auth) ac.push(await connect(s.port, { password: 'pw' }));
  await both(tap, ac, (c) => c.ping(), 'password: ping');
  for (const c of ac) await c.quit();
  const bad = [];
  for (const s of auth) {
    try { const c = await connect(s.port, { password: 'wrong' }); bad.push('connected'); await c.disconnect(); } catch (e) { bad.push(e.message); }
  }
  tap.eq(bad[1], bad[0], 'wrong password: same error as redis-server');
  tap.ok(/WRONGPASS/.test(bad[1]), 'wrong password: WRONGPASS error', bad);
} catch (e) {
  tap.ok(false, `no exception: ${e && e.stack}`);
}
tap.done();

