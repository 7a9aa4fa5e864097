// --workers with a stdio server behind the bridge (SPEC "Bridges", "Phase C"): a session
// lives in the worker that holds its child, while the shared port hands each connection to
// any worker. SDK clients whose every request opens a new connection (so requests land on
// both workers) run tools, progress, sampling and the GET stream through the relay; a worker
// killed by pid takes its sessions and children with it while the other's go on; SIGTERM
// leaves no child behind.

import { CreateMessageRequestSchema, LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { Agent, fetch as undiciFetch } from 'undici';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startCli, type CliProcess } from '../helpers/cli.js';
import { EVERYTHING } from '../helpers/everything.js';
import { alive, descendants } from '../helpers/processes.js';
import { adminGet, until } from '../helpers/proxy.js';
import { rawExchange } from '../helpers/raw-client.js';

interface Fresh {
  readonly client: Client;
  readonly transport: StreamableHTTPClientTransport;
  readonly agent: Agent;
}

/** An SDK client whose every request goes on a new connection, so the shared port spreads them over the workers. */
function freshClient(url: string, name: string): Fresh {
  const agent = new Agent({ maxRequestsPerClient: 1, keepAliveTimeout: 1 });
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    fetch: ((input: string | URL, init?: RequestInit) => undiciFetch(input, { ...(init as object), dispatcher: agent })) as unknown as typeof fetch,
  });
  const client = new Client({ name, version: '1.0.0' }, { capabilities: { sampling: {} } });
  client.setRequestHandler(CreateMessageRequestSchema, async () => ({ model: 'test', role: 'assistant', content: { type: 'text', text: `sampled by ${name}` } }));
  return { client, transport, agent };
}

function textOf(result: unknown): string {
  return (result as { content: Array<{ text?: string }> }).content.map((c) => c.text ?? '').join('');
}

type Row = { id: string; worker: number; childPid: number };

const relayed = (metrics: string): number => Number(/^shadowcat_bridge_relayed_requests_total (\d+)/m.exec(metrics)?.[1] ?? 0);

const bridge = suite('--workers 2 with a stdio server behind the bridge');
let proxy: CliProcess | null = null;
bridge.after.each(() => {
  proxy?.child.kill('SIGKILL');
  proxy = null;
});

for (const multiSession of [true, false]) {
  const mode = multiSession ? '--multi-session --stdio-pool 2' : 'one shared child per worker';
  bridge(`${mode}: four SDK clients, every request on a new connection: tools, progress, sampling, the GET stream; a killed worker takes only its own sessions; SIGTERM leaves no child`, async () => {
    const flags = multiSession ? ['--multi-session', '--stdio-pool', '2'] : [];
    proxy = startCli(['forward', 'http', '--port', '0', '--admin-port', '0', '--workers', '2', ...flags, '--shutdown-timeout', '5', '--', process.execPath, EVERYTHING, 'stdio']);
    const listening = await proxy.waitFor((l) => l.msg === 'listening' && l.workers === 2, 30_000);
    assert.is(listening.upstream, `stdio: ${process.execPath}`);
    const url = `http://127.0.0.1:${listening.port as number}/mcp`;
    const admin = listening.adminPort as number;
    const clients = [0, 1, 2, 3].map((i) => freshClient(url, `relay-${i}`));
    await Promise.all(clients.map(({ client, transport }) => client.connect(transport)));

    await Promise.all(clients.map(async ({ client }, i) => {
      for (let k = 0; k < 3; k++) assert.is(textOf(await client.callTool({ name: 'echo', arguments: { message: `m${i}.${k}` } })), `Echo: m${i}.${k}`);
      const progress: number[] = [];
      const long = await client.callTool({ name: 'trigger-long-running-operation', arguments: { duration: 0.3, steps: 3 } }, undefined, {
        onprogress: (p) => progress.push(p.progress),
      });
      assert.equal(progress, [1, 2, 3], `client ${i} sees exactly its own progress`);
      assert.match(textOf(long), /Long running operation completed/);
    }));
    if (multiSession) {
      // A server request through the relay, answered by the client that asked.
      const sampled = await clients[2]!.client.callTool({ name: 'trigger-sampling-request', arguments: { prompt: 'hi', maxTokens: 5 } });
      assert.match(textOf(sampled), /sampled by relay-2/);
    }
    // A message tied to no request reaches the client on its GET stream, itself relayed.
    const logged: string[] = [];
    clients[1]!.client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void logged.push(JSON.stringify(n.params.data)));
    await clients[1]!.client.setLoggingLevel('debug');
    await clients[1]!.client.callTool({ name: 'toggle-simulated-logging', arguments: {} });
    await until(() => logged.length > 0, 15_000, 'a log message on the GET stream');
    await clients[1]!.client.callTool({ name: 'toggle-simulated-logging', arguments: {} });

    const metrics = await adminGet(admin, '/metrics');
    assert.ok(relayed(metrics) > 0, 'some requests were relayed to the worker holding their session');

    const sessions = JSON.parse(await adminGet(admin, '/sessions')) as Row[];
    assert.is(sessions.length, 4);
    const workerPids = [...new Set(sessions.map((s) => s.worker))];
    assert.is(workerPids.length, 2, `sessions on both workers: ${JSON.stringify(sessions)}`);
    assert.is(new Set(sessions.map((s) => s.childPid)).size, multiSession ? 4 : 2, 'a child per session, or one per worker');

    // A raw request for a session, on a connection of its own, with a session id naming no worker: 404.
    const forged = `ffff${sessions[0]!.id.slice(4)}`;
    const lost = await rawExchange(listening.port as number, `POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nMcp-Session-Id: ${forged}\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}`);
    assert.is(lost.status, 404);
    assert.match(lost.body.toString(), /session-not-found/);

    // Kill one worker: its sessions end (their children exit with it), the other's go on.
    const victim = workerPids[0]!;
    const victimSessions = sessions.filter((s) => s.worker === victim);
    const survivors = sessions.filter((s) => s.worker !== victim);
    process.kill(victim, 'SIGKILL');
    await proxy.waitFor((l) => l.msg === 'worker died: starting another' && l.worker === victim, 10_000);
    for (const s of victimSessions) await until(() => !alive(s.childPid), 10_000, `child ${s.childPid} of the killed worker gone`);
    const byId = new Map(clients.map((c) => [c.transport.sessionId!, c]));
    await proxy.waitFor((l) => l.msg === 'listening' && typeof l.pid === 'number' && !workerPids.includes(l.pid as number) && l.workers === undefined, 15_000);
    for (const s of survivors) {
      assert.is(textOf(await byId.get(s.id)!.client.callTool({ name: 'echo', arguments: { message: 'after' } })), 'Echo: after', 'the other worker\'s sessions go on');
    }
    for (const s of victimSessions) {
      const err = await byId.get(s.id)!.client.callTool({ name: 'echo', arguments: { message: 'lost' } }).then(() => null, (e: unknown) => e);
      assert.ok(err instanceof Error, 'a session of the killed worker is gone (404), not hung');
    }
    // A new client is served, whichever worker takes it.
    const late = freshClient(url, 'late');
    await late.client.connect(late.transport);
    assert.is(textOf(await late.client.callTool({ name: 'echo', arguments: { message: 'late' } })), 'Echo: late');

    const cli = proxy.child.pid!;
    const children = descendants(cli);
    assert.ok(children.length >= 2, `workers and children alive: ${children.join(',')}`);
    proxy.child.kill('SIGTERM');
    assert.is(await proxy.exited, 0);
    for (const pid of children) await until(() => !alive(pid), 10_000, `process ${pid} gone after SIGTERM`);
    for (const c of [...clients, late]) await c.agent.close();
    proxy = null;
  });
}

bridge.run();
