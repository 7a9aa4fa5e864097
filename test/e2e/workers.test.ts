// --workers (SPEC "Phase C") through the CLI as users run it: two workers behind one port,
// five SDK clients, the primary's admin API over both, a worker killed by PID and started
// again while the other's sessions go on, and SIGTERM draining both.

import net from 'node:net';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { runCli, startCli, type CliProcess } from '../helpers/cli.js';
import { startEverythingHttp, type Everything } from '../helpers/everything.js';
import { adminGet, until } from '../helpers/proxy.js';
import { sdkHttpClient, type SdkHttpClient } from '../helpers/sdk.js';

type Sdk = SdkHttpClient;

async function sdk(url: string, name: string): Promise<Sdk> {
  const c = sdkHttpClient(url, name, 30_000);
  await c.client.connect(c.transport);
  return c;
}

async function echo(c: Sdk, text: string): Promise<boolean> {
  try {
    const r = await c.client.callTool({ name: 'echo', arguments: { message: text } });
    return (r.content as Array<{ text: string }>)[0]!.text === `Echo: ${text}`;
  } catch {
    return false;
  }
}

const workers = suite('--workers 2');
let everything: Everything;
let proxy: CliProcess | null = null;

workers.before(async () => {
  everything = await startEverythingHttp();
});
workers.after(async () => {
  proxy?.child.kill('SIGKILL');
  await everything.close();
});

workers('five SDK clients; /sessions and /metrics cover both workers; a killed worker is started again while the other\'s sessions go on; SIGTERM drains both', async () => {
  proxy = startCli(['forward', 'http', '--port', '0', '--admin-port', '0', '--workers', '2', '--multi-session', '--url', everything.url, '--shutdown-timeout', '5']);
  const listening = await proxy.waitFor((l) => l.msg === 'listening' && l.workers === 2, 30_000);
  const url = `http://127.0.0.1:${listening.port as number}/mcp`;
  const admin = listening.adminPort as number;
  const clients = await Promise.all([1, 2, 3, 4, 5].map((n) => sdk(url, `worker-client-${n}`)));
  for (const [i, c] of clients.entries()) assert.ok(await echo(c, `hello ${i}`));

  const sessions = JSON.parse(await adminGet(admin, '/sessions')) as Array<{ id: string; worker: number; client: string }>;
  const pids = [...new Set(sessions.map((s) => s.worker))];
  assert.is(pids.length, 2, `sessions from both workers: ${JSON.stringify(sessions.map((s) => s.worker))}`);
  assert.ok(sessions.length >= 5);
  const metrics = await adminGet(admin, '/metrics');
  const total = Number(/^shadowcat_sessions_total (\d+)/m.exec(metrics)?.[1]);
  assert.ok(total >= sessions.length, `summed over workers: ${total}`);
  const one = sessions[0]!;
  assert.is((JSON.parse(await adminGet(admin, `/sessions/${one.id}`)) as { worker: number }).worker, one.worker);

  // Kill one worker outright: the primary starts another; sessions on the other worker go on.
  const victim = pids[0]!;
  const survivor = pids[1]!;
  process.kill(victim, 'SIGKILL');
  await proxy.waitFor((l) => l.msg === 'worker died: starting another' && l.worker === victim, 10_000);
  const restarted = (await proxy.waitFor((l) => l.msg === 'worker started' && l.worker !== victim && !pids.includes(l.worker as number), 15_000)).worker as number;
  await proxy.waitFor((l) => l.msg === 'listening' && l.pid === restarted, 15_000);
  const results = await Promise.all(clients.map((c, i) => echo(c, `after ${i}`)));
  assert.ok(results.some((ok) => ok), 'clients on the surviving worker are answered');
  // New clients are served (by the survivor and the new worker).
  const fresh = await Promise.all([1, 2, 3, 4].map((n) => sdk(url, `fresh-${n}`)));
  for (const c of fresh) assert.ok(await echo(c, 'fresh'));
  await until(async () => {
    const now = JSON.parse(await adminGet(admin, '/sessions')) as Array<{ worker: number }>;
    const seen = new Set(now.map((s) => s.worker));
    return seen.size === 2 && seen.has(restarted) && seen.has(survivor);
  }, 10_000, 'sessions on the survivor and the new worker');

  for (const c of [...clients, ...fresh]) {
    await c.client.close().catch(() => {});
    await c.agent.close();
  }
  proxy.child.kill('SIGTERM');
  assert.is(await proxy.exited, 0);
  assert.is(proxy.lines.filter((l) => l.msg === 'worker exited').length, 2, 'both workers drained and exited');
  assert.ok(proxy.lines.some((l) => l.msg === 'drained' && l.workers === undefined && l.drained === undefined), 'the primary finished');
  proxy = null;
});

workers('a worker that cannot start (its port is taken) stops the group with exit code 1, instead of being restarted for ever', async () => {
  const taken = net.createServer();
  await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
  try {
    const port = (taken.address() as net.AddressInfo).port;
    const cli = startCli(['forward', 'http', '--port', String(port), '--workers', '2', '--multi-session', '--url', everything.url]);
    assert.is(await cli.exited, 1);
    assert.ok(cli.lines.some((l) => l.msg === 'a worker failed to start: stopping'));
  } finally {
    await new Promise<void>((r) => taken.close(() => r()));
  }
});

workers('--workers is refused for forward stdio and checked', async () => {
  const stdio = await runCli(['forward', 'stdio', '--workers', '2', '--', 'true']);
  assert.is(stdio.code, 2);
  assert.match(stdio.stderr, /--workers does not apply to forward stdio/);
  const zero = await runCli(['forward', 'http', '--workers', '0']);
  assert.is(zero.code, 2);
  assert.match(zero.stderr, /invalid --workers '0'/);
});

workers.run();
