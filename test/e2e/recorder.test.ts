// --record under trouble, through real sockets: a disk that falls behind (a pipe nobody
// reads), a disk that is full (/dev/full), a folder that cannot be written, SIGTERM with a
// session open, secrets that must never reach a tape, and tapes of sessions without an
// MCP session id. Traffic must go on in every case.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import { Agent, fetch as undiciFetch } from 'undici';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createApp, type App } from '../../dist/app/app.js';
import { makeConfig, type Config } from '../../dist/config.js';
import type { TapeOpener } from '../../dist/tape/tape-file.js';
import { runCli, startCli } from '../helpers/cli.js';
import { EVERYTHING as _everythingPath, startEverythingHttp } from '../helpers/everything.js';
import { adminGet, until } from '../helpers/proxy.js';
import { RawClient } from '../helpers/raw-client.js';
import { sdkHttpClient } from '../helpers/sdk.js';

void _everythingPath;
const root = fs.mkdtempSync(join(tmpdir(), 'shadowcat-recorder-'));

/** A JSON log captured in memory. */
function captureLog(): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n')) if (l !== '') lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { logger: pino({ level: 'info' }, sink) as Logger, lines };
}

async function startApp(overrides: Partial<Config>, deps: { openTape?: TapeOpener; logger?: Logger } = {}): Promise<{ app: App; port: number; adminPort: number }> {
  const app = createApp(makeConfig({ mode: 'http', adminPort: 0, ...overrides }), deps);
  const addr = await app.listen();
  return { app, port: addr.port, adminPort: addr.adminPort! };
}

/** An MCP session on the demo upstream driven with plain fetch; returns a function that calls echo. */
async function demoSession(port: number, agent: Agent): Promise<(message: string, id: number) => Promise<unknown>> {
  const url = `http://127.0.0.1:${port}/mcp`;
  const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
  const init = await undiciFetch(url, {
    method: 'POST', headers, dispatcher: agent,
    body: '{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}',
  });
  const sid = init.headers.get('mcp-session-id')!;
  await init.text();
  return async (message, id) => {
    const res = await undiciFetch(url, {
      method: 'POST', headers: { ...headers, 'mcp-session-id': sid, 'mcp-protocol-version': '2025-06-18' }, dispatcher: agent,
      body: JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'echo', arguments: { message } } }),
    });
    assert.is(res.status, 200);
    return res.json();
  };
}

function metric(text: string, name: string): number {
  const m = new RegExp(`^${name.replace(/[{}]/g, '\\$&')} (\\d+)`, 'm').exec(text);
  return m === null ? 0 : Number(m[1]);
}

const trouble = suite('--record when the disk is slow, full or missing');
trouble.after(() => fs.rmSync(root, { recursive: true, force: true }));

trouble('a pipe nobody reads: messages past the queue bound are dropped and counted, every request is answered, shutdown does not hang', async () => {
  const fifo = join(root, 'slow.fifo');
  execFileSync('mkfifo', [fifo]);
  // A reader that never reads: writes succeed until the pipe's buffer is full, then wait.
  const reader = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  const opened: string[] = [];
  const openTape: TapeOpener = (candidates, done) => {
    opened.push(candidates[0]!);
    fs.open(fifo, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK, (err, fd) => done(err, fd, fifo));
  };
  const log = captureLog();
  const queue = 64 * 1024;
  const { app, port, adminPort } = await startApp({ multiSession: true, recordDir: join(root, 'slow'), recordQueueBytes: queue }, { openTape, logger: log.logger });
  const agent = new Agent();
  try {
    const echo = await demoSession(port, agent);
    const big = 'x'.repeat(4000);
    // ~1.6 MB of tape for a pipe of 64 KiB and a queue of 64 KiB.
    for (let i = 1; i <= 200; i++) {
      const r = (await echo(`${i}:${big}`, i)) as { result: { content: Array<{ text: string }> } };
      assert.is(r.result.content[0]!.text, `Echo: ${i}:${big}`);
      const queued = metric(await adminGet(adminPort, '/metrics'), 'shadowcat_recorder_queued_bytes');
      // The metadata and closing lines may pass the bound by their own size, nothing more.
      assert.ok(queued <= queue + 4096, `queued ${queued} bytes`);
    }
    const metrics = await adminGet(adminPort, '/metrics');
    assert.ok(metric(metrics, 'shadowcat_recorder_dropped_total{reason="queue_full"}') > 100, metrics);
    assert.is(opened.length, 1, 'one MCP session, one tape');
    assert.ok(log.lines.some((l) => /disk is behind/.test(String(l.msg))), 'logged');
    assert.is(log.lines.filter((l) => /disk is behind/.test(String(l.msg))).length, 1, 'once per tape');
  } finally {
    await agent.close();
    const t0 = performance.now();
    await app.close(0);
    // The drain has no sessions to wait for; the recorder gives the stuck pipe 1 s, then gives up.
    assert.ok(performance.now() - t0 < 10_000);
    assert.ok(log.lines.some((l) => /before the shutdown deadline/.test(String(l.msg))), 'the lines still queued at shutdown are reported lost');
    fs.closeSync(reader);
  }
});

trouble('a full disk (/dev/full): the tape stops, the loss is counted and logged, traffic goes on, and later tapes fail the same way', async () => {
  const openTape: TapeOpener = (_candidates, done) => {
    fs.open('/dev/full', fs.constants.O_WRONLY | fs.constants.O_NONBLOCK, (err, fd) => done(err, fd, '/dev/full'));
  };
  const log = captureLog();
  const { app, port, adminPort } = await startApp({ multiSession: true, recordDir: join(root, 'full') }, { openTape, logger: log.logger });
  const agent = new Agent();
  try {
    for (let s = 0; s < 2; s++) {
      const echo = await demoSession(port, agent);
      for (let i = 1; i <= 20; i++) {
        const r = (await echo(`m${i}`, i)) as { result: { content: Array<{ text: string }> } };
        assert.is(r.result.content[0]!.text, `Echo: m${i}`);
      }
    }
    await until(() => log.lines.filter((l) => /tape stopped/.test(String(l.msg))).length === 2, 5000, 'both tapes to stop');
    const stopped = log.lines.find((l) => /tape stopped/.test(String(l.msg)))!;
    assert.is(stopped.err, 'ENOSPC');
    const metrics = await adminGet(adminPort, '/metrics');
    assert.ok(metric(metrics, 'shadowcat_recorder_dropped_total{reason="write_error"}') > 0, metrics);
    assert.is(metric(metrics, 'shadowcat_recorder_tapes_total'), 2);
  } finally {
    await agent.close();
    await app.close(0);
  }
});

trouble('a folder that cannot be written is refused at start, with exit code 2', async () => {
  const file = join(root, 'a-file');
  fs.writeFileSync(file, '');
  for (const dir of [join(file, 'tapes'), '/proc/shadowcat-no']) {
    const r = await runCli(['forward', 'http', '--port', '0', '--record', dir]);
    assert.is(r.code, 2, r.stderr);
    assert.match(r.stderr, /--record .*: cannot write tapes there \((ENOTDIR|ENOENT|EACCES|EROFS|EEXIST)\)/);
  }
  const zero = await runCli(['forward', 'http', '--port', '0', '--record', join(root, 'x'), '--inspect-limit', '0']);
  assert.is(zero.code, 2);
  assert.match(zero.stderr, /--record needs --inspect-limit above 0/);
});

const life = suite('--record: what a tape holds, and when it is closed');

life('secrets never reach a tape: Authorization, Cookie, Proxy-Authorization, injected headers, query strings, URL credentials', async () => {
  const dir = join(root, 'secrets');
  const demo = createApp(makeConfig({ mode: 'http' }));
  const demoAddr = await demo.listen();
  const upstream = new URL(demoAddr.upstreamUrl!.href);
  upstream.username = 'user';
  upstream.password = 'url-password-secret';
  upstream.search = '?key=url-query-secret';
  const { app, port } = await startApp({ multiSession: true, recordDir: dir, upstreamUrl: upstream, upstreamHeaders: [{ name: 'X-Api-Key', value: 'injected-secret' }] });
  const agent = new Agent();
  try {
    const url = `http://127.0.0.1:${port}/mcp?token=client-query-secret`;
    const res = await undiciFetch(url, {
      method: 'POST', dispatcher: agent,
      headers: {
        'content-type': 'application/json', accept: 'application/json, text/event-stream',
        authorization: 'Bearer auth-secret', cookie: 'session=cookie-secret', 'proxy-authorization': 'Basic proxy-secret',
      },
      body: '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}',
    });
    assert.is(res.status, 200);
    await res.text();
  } finally {
    await agent.close();
    await app.close(0);
    await demo.close(0);
  }
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.jsonl'));
  assert.is(files.length, 1);
  const text = fs.readFileSync(join(dir, files[0]!), 'utf8');
  assert.match(text, /"method":"initialize"/);
  for (const secret of ['auth-secret', 'cookie-secret', 'proxy-secret', 'injected-secret', 'client-query-secret', 'url-query-secret', 'url-password-secret', 'user@']) {
    assert.not.ok(text.includes(secret), `${secret} is in the tape`);
  }
  const meta = JSON.parse(text.split('\n')[0]!) as { upstream: string };
  assert.is(meta.upstream, `http://${upstream.host}/mcp`);
});

life('DELETE ends the tape after its answer: the answer\'s body is the last message of the same tape', async () => {
  const dir = join(root, 'delete');
  const { app, port } = await startApp({ recordDir: dir });
  const agent = new Agent();
  try {
    await demoSession(port, agent);
    // demoSession does not return the id: read it from the tape's first line once named.
    await until(() => fs.readdirSync(dir).some((f) => f.endsWith('.jsonl')), 5000, 'the tape');
    const file = join(dir, fs.readdirSync(dir).find((f) => f.endsWith('.jsonl'))!);
    await until(() => fs.readFileSync(file, 'utf8').includes('mcpSessionId'), 5000, 'the metadata line');
    const meta = JSON.parse(fs.readFileSync(file, 'utf8').split('\n')[0]!) as { mcpSessionId: string };
    const res = await undiciFetch(`http://127.0.0.1:${port}/mcp`, { method: 'DELETE', dispatcher: agent, headers: { 'mcp-session-id': meta.mcpSessionId } });
    assert.is(res.status, 200);
    await res.text();
    await until(() => fs.readFileSync(file, 'utf8').includes('"end":'), 5000, 'the closing line');
  } finally {
    await agent.close();
    await app.close(0);
  }
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.jsonl'));
  assert.is(files.length, 1, `one tape: ${files.join(', ')}`);
  const lines = fs.readFileSync(join(dir, files[0]!), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.is(lines[lines.length - 1]!.end, 'deleted');
  assert.is((lines[lines.length - 2]!.http as { method: string }).method, 'DELETE');
});

life('without an MCP session id: one tape per client connection, closed when the connection ends; a batch is one line', async () => {
  const dir = join(root, 'stateless');
  // A stateless upstream: answers every request in its body, issues no session id.
  const { createServer } = await import('node:http');
  const up = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const msg = JSON.parse(body) as { id?: number } | Array<{ id?: number }>;
      const answer = Array.isArray(msg) ? msg.map((m) => ({ jsonrpc: '2.0', id: m.id, result: {} })) : { jsonrpc: '2.0', id: msg.id, result: { ok: true } };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
    });
  });
  await new Promise<void>((r) => up.listen(0, '127.0.0.1', r));
  const upPort = (up.address() as { port: number }).port;
  const { app, port } = await startApp({ multiSession: true, recordDir: dir, upstreamUrl: new URL(`http://127.0.0.1:${upPort}/mcp`) });
  try {
    for (let c = 0; c < 2; c++) {
      const client = await RawClient.connect(port);
      for (const body of ['{"jsonrpc":"2.0","id":1,"method":"tools/list"}', '[{"jsonrpc":"2.0","id":2,"method":"ping"},{"jsonrpc":"2.0","id":3,"method":"ping"}]']) {
        client.write(`POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
        assert.is((await client.readResponse()).status, 200);
      }
      client.close();
    }
    // One listing for both checks: two listings could see the first tape ended, then the second one half-written.
    await until(() => {
      const tapes = fs.readdirSync(dir).filter((f) => f.endsWith('.jsonl'));
      return tapes.length === 2 && tapes.every((f) => fs.readFileSync(join(dir, f), 'utf8').includes('"end":"session-end"'));
    }, 5000, 'two tapes, ended with their connections');
    for (const f of fs.readdirSync(dir).filter((n) => n.endsWith('.jsonl'))) {
      const lines = fs.readFileSync(join(dir, f), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
      assert.is(lines[0]!.mcpSessionId, null);
      assert.ok(f.endsWith(`-${lines[0]!.proxySession as string}.jsonl`), 'named for the proxy session');
      const batches = lines.filter((l) => Array.isArray(l.msg));
      assert.is(batches.length, 2, 'the batch and its answer, once each');
      assert.is(lines.length, 1 + 4 + 1);
    }
  } finally {
    await app.close(0);
    await new Promise<void>((r) => up.close(() => r()));
  }
});

life('SIGTERM with a session open: the tape holds every message that passed and ends with a closing line', async () => {
  const everything = await startEverythingHttp();
  const dir = join(root, 'sigterm');
  const cli = startCli(['forward', 'http', '--port', '0', '--multi-session', '--url', everything.url, '--record', dir, '--shutdown-timeout', '5']);
  let agent: { close(): Promise<void> } | null = null;
  try {
    const listening = await cli.waitFor((l) => l.msg === 'listening', 20_000);
    const c = sdkHttpClient(`http://127.0.0.1:${listening.port as number}/mcp`, 'sigterm');
    agent = c.agent;
    const { client, transport } = c;
    await client.connect(transport);
    await client.listTools();
    const progress: number[] = [];
    const long = client.callTool({ name: 'trigger-long-running-operation', arguments: { duration: 1.5, steps: 5 } }, undefined, {
      onprogress: (p) => {
        progress.push(p.progress);
        if (p.progress === 2) cli.child.kill('SIGTERM');
      },
    });
    // The drain lets the call in flight finish.
    const result = await long;
    assert.match(JSON.stringify(result), /Long running operation completed/);
    assert.is(await cli.exited, 0);
    await client.close().catch(() => {});
    const files = fs.readdirSync(dir).filter((f) => f.endsWith('.jsonl'));
    assert.is(files.length, 1);
    const lines = fs.readFileSync(join(dir, files[0]!), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const last = lines[lines.length - 1]!;
    assert.is(last.end, 'shutdown');
    assert.is(last.dropped, 0);
    assert.is(last.messages, lines.length - 2, 'every message line is counted');
    const methods = lines.map((l) => (l.msg as { method?: string } | undefined)?.method).filter((m) => m !== undefined);
    assert.ok(methods.includes('tools/list'));
    assert.is(methods.filter((m) => m === 'notifications/progress').length, progress.length, 'every progress the client saw is on the tape');
    assert.ok(lines.some((l) => /Long running operation completed/.test(JSON.stringify(l.msg ?? ''))), 'the answer that passed during the drain is on the tape');
  } finally {
    cli.child.kill('SIGKILL');
    await agent?.close();
    await everything.close();
  }
});

trouble.run();
life.run();
