// Five MCP SDK clients through one URL, each calling tools in a loop until told to stop
// (SIGTERM) or for SECONDS; one JSON line per client at the end: calls that worked and
// failed, before and after the moment named by a "mark" line on stdin (try-haproxy.sh
// writes it when it stops an instance). Run from the repository (it uses the SDK from
// its devDependencies): node deploy/try-clients.mjs http://127.0.0.1:8080/mcp [clients] [seconds]
import { createInterface } from 'node:readline';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

const url = new URL(process.argv[2] ?? 'http://127.0.0.1:8080/mcp');
const count = Number(process.argv[3] ?? 5);
const seconds = Number(process.argv[4] ?? 10);
let marked = false;
let stopping = false;
createInterface({ input: process.stdin }).on('line', (l) => {
  if (l.trim() === 'mark') marked = true;
});
process.on('SIGTERM', () => (stopping = true));
setTimeout(() => (stopping = true), seconds * 1000);

async function connect(name) {
  const client = new Client({ name, version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(url));
  return client;
}

async function run(n) {
  const stats = { client: n, before: { ok: 0, failed: 0 }, after: { ok: 0, failed: 0 }, reconnects: 0, errors: [] };
  let client = await connect(`try-${n}`);
  while (!stopping) {
    const side = marked ? stats.after : stats.before;
    try {
      const r = await client.callTool({ name: 'echo', arguments: { message: `client ${n}` } });
      if (r.content?.[0]?.text !== `Echo: client ${n}`) throw new Error(`unexpected answer ${JSON.stringify(r)}`);
      side.ok++;
    } catch (err) {
      side.failed++;
      if (stats.errors.length < 3) stats.errors.push(String(err?.message ?? err).slice(0, 200));
      // A session the upstream no longer knows: start a new one, as an agent would.
      try {
        await client.close();
      } catch {}
      try {
        client = await connect(`try-${n}`);
        stats.reconnects++;
      } catch {}
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  try {
    await client.close();
  } catch {}
  return stats;
}

const results = await Promise.all(Array.from({ length: count }, (_v, i) => run(i + 1)));
for (const r of results) process.stdout.write(`${JSON.stringify(r)}\n`);
process.exit(0);
