// ioredis against obelisk-server, results compared with redis-server: connect (ready check via
// INFO), ping, echo, info, connectionName / client setname/getname, client info, pipeline, multi,
// errors, select, and a password.
import { createRequire } from 'node:module';
import { Tap, both, startObelisk, startRedis, stableClientText } from './lib/harness.mjs';

const require = createRequire(import.meta.url);
const Redis = require('ioredis');
const tap = new Tap();
tap.diag(`ioredis ${require('ioredis/package.json').version}`);

async function connect(port, opts = {}) {
  const c = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0,
    retryStrategy: () => null, connectTimeout: 5000, ...opts });
  c.on('error', () => {});
  await c.connect();
  return c;
}

async function firstError(port, opts) {
  const c = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0,
    retryStrategy: () => null, connectTimeout: 5000, ...opts });
  let first = null;
  c.on('error', (e) => { if (first === null) first = e.message; });
  try { await c.connect(); await c.ping(); } catch (e) { if (first === null) first = `thrown: ${e.message}`; }
  c.disconnect();
  return first ?? 'connected';
}

try {
  const servers = [await startRedis(), await startObelisk()];
  const clients = [];
  for (const s of servers) clients.push(await connect(s.port, { connectionName: 'io-client' }));
  tap.eq(clients[1].status, 'ready', 'connects and passes the ready check');
  await both(tap, clients, (c) => c.ping(), 'ping');
  await both(tap, clients, (c) => c.ping('hello'), 'ping hello');
  await both(tap, clients, (c) => c.echo('hello world'), 'echo');
  await both(tap, clients, (c) => c.call('FOO', 'a'), 'unknown command error');
  await both(tap, clients, (c) => c.client('GETNAME'), 'connectionName set through CLIENT SETNAME');
  await both(tap, clients, (c) => c.client('SETNAME', 'renamed'), 'client setname');
  await both(tap, clients, (c) => c.client('GETNAME'), 'client getname');
  await both(tap, clients, (c) => c.client('INFO'), 'client info', stableClientText);
  const info = await clients[1].info();
  tap.ok(/^redis_version:7\.0\./m.test(info), 'info has redis_version 7.0', info.slice(0, 200));
  tap.ok(/^loading:0\r?$/m.test(info), 'info has loading:0');
  await both(tap, clients, (c) => c.info('server').then((t) => /^# Server\r\n/.test(t)), 'info server section');
  await both(tap, clients, (c) => c.config('GET', 'maxclients'), 'config get');
  await both(tap, clients, (c) => c.pipeline().ping().echo('p').client('GETNAME').dbsize().exec(),
    'pipeline');
  await both(tap, clients, (c) => c.multi().ping().echo('m').dbsize().exec(), 'multi/exec');
  await both(tap, clients, (c) => c.multi().ping().call('FOO').exec(), 'multi with an unknown command');
  await both(tap, clients, (c) => c.select(2).then(() => c.client('INFO')), 'select 2', (t) => /db=2/.test(t));
  for (const c of clients) c.disconnect();

  const db = [];
  for (const s of servers) db.push(await connect(s.port, { db: 3 }));
  await both(tap, db, (c) => c.client('INFO'), 'option db: 3', (t) => / db=3 /.test(t));
  for (const c of db) c.disconnect();
  for (const s of servers) await s.stop();

  const auth = [await startRedis(['--requirepass', 'pw']), await startObelisk(['--requirepass', 'pw'])];
  const ac = [];
  for (const s of auth) ac.push(await connect(s.port, { password: 'pw' }));
  await both(tap, ac, (c) => c.ping(), 'password: ping');
  for (const c of ac) c.disconnect();
  // ioredis 6 starts with HELLO; a refused handshake closes the connection, and the server's
  // error arrives as the client's 'error' event: compare that.
  for (const [desc, opts, re] of [['wrong password', { password: 'wrong' }, /WRONGPASS/],
    ['no password', {}, /NOAUTH/]]) {
    const errs = [];
    for (const s of auth) errs.push(await firstError(s.port, opts));
    tap.eq(errs[1], errs[0], `${desc}: same error as redis-server`);
    tap.ok(re.test(errs[1]), `${desc}: ${re.source} error`, errs);
  }
} catch (e) {
  tap.ok(false, `no exception: ${e && e.stack}`);
}
tap.done();
