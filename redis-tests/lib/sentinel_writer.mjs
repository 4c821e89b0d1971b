// An ioredis client that finds the primary through Sentinel (`sentinels: [...]`, name
// mymaster) and appends to the stream "orders-js" until SIGTERM, then prints one JSON line:
// {"acked": [[n, id], ...], "unknown": [n, ...], "errors": [text, ...]}. Used by
// test_sentinel_failover.py while it fails the primary over. Usage: node sentinel_writer.mjs
// <sentinel port>...
import Redis from 'ioredis';

const sentinels = process.argv.slice(2).map((p) => ({ host: '127.0.0.1', port: Number(p) }));
const client = new Redis({
  sentinels, name: 'mymaster', commandTimeout: 2000, maxRetriesPerRequest: 1,
  sentinelRetryStrategy: () => 100, retryStrategy: () => 100,
});
client.on('error', () => {}); // reconnects are expected during a failover
const out = { acked: [], unknown: [], errors: [] };
let stopping = false;
process.on('SIGTERM', () => { stopping = true; });

let n = 0;
while (!stopping) {
  n += 1;
  try {
    out.acked.push([n, await client.xadd('orders-js', '*', 'n', String(n))]);
  } catch (e) {
    out.unknown.push(n); // no reply, or NOREPLICAS from a primary that was demoted
    if (!/NOREPLICAS|READONLY|timed out|Connection|connect|ECONN|closed|reconnect|max retries|Stream isn.t writeable/i.test(String(e.message))) out.errors.push(String(e.message));
    await new Promise((r) => setTimeout(r, 50));
  }
}
client.disconnect();
process.stdout.write(JSON.stringify(out) + '\n');
