// Tapes (SPEC "Recording and replay (tapes)") the way users make and use them: the
// official SDK client runs one script against server-everything through `--record`, then
// the same script against `shadowcat replay` of the tapes, over Streamable HTTP (both
// session modes) and over stdio; the results and notifications must be the same.

import { readdirSync, readFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { CLI, runCli, startCli, type CliProcess } from '../helpers/cli.js';
import { EVERYTHING, startEverythingHttp, type Everything } from '../helpers/everything.js';
import { startProxy, until, type TestProxy } from '../helpers/proxy.js';
import { sdkHttpClient } from '../helpers/sdk.js';

const root = mkdtempSync(join(tmpdir(), 'shadowcat-tapes-'));

/** What a client saw: every result and every progress notification, in order. */
interface Seen {
  tools: string[];
  echo: unknown;
  sum: unknown;
  progress: number[];
  long: unknown;
  resource: unknown;
  echoAgain: unknown;
}

/** The one script both runs use: the same calls in the same order. */
async function script(client: Client): Promise<Seen> {
  const tools = (await client.listTools()).tools.map((t) => t.name).sort();
  const echo = await client.callTool({ name: 'echo', arguments: { message: 'hello tape' } });
  const sum = await client.callTool({ name: 'get-sum', arguments: { a: 2, b: 40 } });
  const progress: number[] = [];
  const long = await client.callTool({ name: 'trigger-long-running-operation', arguments: { duration: 0.3, steps: 3 } }, undefined, {
    onprogress: (p) => progress.push(p.progress),
  });
  const resource = await client.readResource({ uri: 'demo://resource/dynamic/text/1' });
  const echoAgain = await client.callTool({ name: 'echo', arguments: { message: 'second' } });
  return { tools, echo, sum, progress, long, resource, echoAgain };
}

async function runHttp(url: string): Promise<Seen> {
  const { client, transport, agent } = sdkHttpClient(url, 'tape-script');
  await client.connect(transport);
  const seen = await script(client);
  await transport.terminateSession();
  await client.close();
  await agent.close();
  return seen;
}

function tapesIn(dir: string): string[] {
  return readdirSync(dir).filter((f) => f.endsWith('.jsonl')).map((f) => join(dir, f));
}

function linesOf(file: string): Array<Record<string, unknown>> {
  return readFileSync(file, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
}

async function startReplay(args: string[]): Promise<{ cli: CliProcess; url: string }> {
  const cli = startCli(['replay', ...args, '--port', '0', '--log-level', 'info']);
  const line = await cli.waitFor((l) => l.msg === 'replaying', 20_000);
  return { cli, url: line.url as string };
}

async function stop(cli: CliProcess): Promise<number> {
  cli.child.kill('SIGTERM');
  return cli.exited;
}

const http = suite('tapes over Streamable HTTP: record through the proxy, replay to the same client');
let everything: Everything;
let proxy: TestProxy | null = null;

http.before(async () => {
  everything = await startEverythingHttp();
});
http.after(async () => {
  await everything.close();
});
http.after.each(async () => {
  await proxy?.close();
  proxy = null;
});

for (const multiSession of [true, false]) {
  http(`${multiSession ? 'multi' : 'single'}-session: the replay gives the same results and progress, in order`, async () => {
    const dir = join(root, `http-${multiSession}`);
    proxy = await startProxy({ mode: 'http', multiSession, upstreamUrl: new URL(everything.url), recordDir: dir });
    const recorded = await runHttp(`http://127.0.0.1:${proxy.port}/mcp`);
    assert.equal(recorded.progress, [1, 2, 3]);
    await proxy.close();
    proxy = null;

    const files = tapesIn(dir);
    assert.is(files.length, 1, `one MCP session, one tape: ${files.join(', ')}`);
    const lines = linesOf(files[0]!);
    const meta = lines[0]!;
    assert.is(meta.mode, `http ${multiSession ? 'multi' : 'single'}-session`);
    assert.is(meta.upstream, everything.url);
    assert.type(meta.mcpSessionId, 'string');
    assert.ok(files[0]!.endsWith(`-${meta.mcpSessionId as string}.jsonl`), 'named for the MCP session');
    assert.match(String(meta.protocolVersion), /^\d{4}-\d{2}-\d{2}$/, 'the negotiated version');
    const last = lines[lines.length - 1]!;
    assert.is(last.end, 'deleted', `the client ended the session with DELETE; the tape ends:\n${lines.slice(-4).map((l) => JSON.stringify(l).slice(0, 300)).join('\n')}`);
    assert.is(last.dropped, 0);
    const progressLines = lines.filter((l) => (l.msg as { method?: string } | undefined)?.method === 'notifications/progress');
    assert.is(progressLines.length, 3);
    for (const l of progressLines) {
      const h = l.http as Record<string, unknown>;
      assert.is(h['content-type'], 'text/event-stream', 'progress came on the POST\'s event stream');
      assert.is(h.method, 'POST');
    }

    const replay = await startReplay([dir, '--timing', 'fast']);
    try {
      const replayed = await runHttp(replay.url);
      assert.equal(replayed, recorded);
    } finally {
      assert.is(await stop(replay.cli), 0);
    }
  });
}

http('recorded timing: answers come no sooner than recorded; a call the tape lacks gets -32601 naming the closest', async () => {
  const dir = join(root, 'http-true');
  const replay = await startReplay([dir]);
  try {
    const { client, transport, agent } = sdkHttpClient(replay.url, 'tape-script');
    await client.connect(transport);
    const t0 = performance.now();
    const progress: number[] = [];
    await client.callTool({ name: 'trigger-long-running-operation', arguments: { duration: 0.3, steps: 3 } }, undefined, { onprogress: (p) => progress.push(p.progress) });
    assert.ok(performance.now() - t0 >= 250, 'the long operation took its recorded time');
    assert.equal(progress, [1, 2, 3]);
    try {
      await client.callTool({ name: 'echo', arguments: { message: 'never recorded' } });
      assert.unreachable('an unrecorded call must fail');
    } catch (err) {
      assert.instance(err, McpError);
      assert.is((err as McpError).code, -32601);
      const data = (err as McpError).data as { closest: { method: string; params: { name: string } } };
      assert.is(data.closest.method, 'tools/call');
      assert.is(data.closest.params.name, 'echo');
    }
    await transport.terminateSession();
    await client.close();
    await agent.close();
  } finally {
    await stop(replay.cli);
  }
});

http('tape show prints a timeline; a file that is not a tape is refused with exit code 2', async () => {
  const file = tapesIn(join(root, 'http-true'))[0]!;
  const shown = await runCli(['tape', 'show', file]);
  assert.is(shown.code, 0, shown.stderr);
  assert.match(shown.stdout, /→\s+initialize/);
  assert.match(shown.stdout, /←\s+tools\/call\s+echo\s+\d+\s+[\d.]+ ms/);
  assert.match(shown.stdout, /notifications\/progress\s+1\/3/);
  assert.match(shown.stdout, /end \(deleted\)/);
  assert.not.match(shown.stdout, /\x1b\[/, 'no colours when stdout is not a terminal');
  const bad = await runCli(['tape', 'show', CLI]);
  assert.is(bad.code, 2);
  assert.match(bad.stderr, /not a shadowcat tape/);
});

http('tape show on a folder of two tapes prints each, oldest first; an empty folder is exit 2', async () => {
  const dir = mkdtempSync(join(root, 'two-'));
  const meta = (id: string): string => `{"tape":1,"shadowcat":"0.1.0","mode":"stdio","upstream":"node","client":"","proxySession":"${id}","mcpSessionId":null,"protocolVersion":"2025-06-18","startedAt":"2026-12-01T00:00:00.000Z"}`;
  const line = (t: number, dir: string, msg: string): string => `{"t":${t},"dir":"${dir}","msg":${msg}}`;
  writeFileSync(join(dir, '20261201T000000.000Z-b.jsonl'), [meta('b'), line(0, 'in', '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"second-tool"}}'), ''].join('\n'));
  writeFileSync(join(dir, '20261130T000000.000Z-a.jsonl'), [meta('a'), line(0, 'in', '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"first-tool"}}'), ''].join('\n'));
  const shown = await runCli(['tape', 'show', dir]);
  assert.is(shown.code, 0, shown.stderr);
  const first = shown.stdout.indexOf('first-tool');
  const second = shown.stdout.indexOf('second-tool');
  assert.ok(first !== -1 && second > first, shown.stdout);
  assert.match(shown.stdout, /20261130T000000\.000Z-a\.jsonl[\s\S]*20261201T000000\.000Z-b\.jsonl/);
  const empty = mkdtempSync(join(root, 'empty-'));
  const none = await runCli(['tape', 'show', empty]);
  assert.is(none.code, 2);
  assert.match(none.stderr, /no \.jsonl tapes/);
});

http('a hostile tape: replay skips the lines it cannot use as they are, answers the rest and stays up', async () => {
  const dir = mkdtempSync(join(root, 'hostile-'));
  const meta = '{"tape":1,"shadowcat":"0.1.0","mode":"http","upstream":"x","client":"c","proxySession":"p","mcpSessionId":"s","protocolVersion":"2025-06-18","startedAt":"2026-01-01T00:00:00Z"}';
  const init = '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"x","version":"1"}}}';
  writeFileSync(join(dir, 'h.jsonl'), [meta,
    `{"t":0,"dir":"in","http":{"exchange":1,"method":"POST","path":"/mcp","status":0},"msg":${init}}`,
    '{"t":1,"dir":"out","http":{"exchange":1,"status":200,"content-type":"text/event-stream","event-id":"1\\ndata: {\\"evil\\":1}"},"msg":{"jsonrpc":"2.0","id":1,"result":{}}}',
    '{"t":1,"dir":"out","http":{"exchange":1,"status":200,"content-type":"text/event-stream","event-id":"9"},"msg":{"jsonrpc":"2.0","id":1,"result":{"protocolVersion":"2025-06-18","capabilities":{},"serverInfo":{"name":"s","version":"1"}}}}',
    '{"t":2,"dir":"in","http":{"exchange":2,"method":"POST","path":"/mcp","status":0},"msg":{"jsonrpc":"2.0","id":2,"method":"ping"}}',
    '{"t":3,"dir":"out","http":{"exchange":2,"status":1000,"content-type":"application/json"},"msg":{"jsonrpc":"2.0","id":2,"result":{}}}',
    ''].join('\n'));
  const replay = await startReplay([dir, '--timing', 'fast']);
  try {
    const post = async (body: string, sid?: string): Promise<{ status: number; text: string; sid: string | null }> => {
      const res = await fetch(replay.url, { method: 'POST', body, headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...(sid === undefined ? {} : { 'mcp-session-id': sid }) } });
      return { status: res.status, text: await res.text(), sid: res.headers.get('mcp-session-id') };
    };
    const first = await post(init);
    assert.is(first.status, 200);
    assert.not.match(first.text, /evil/, 'the event id could not write a field of its own');
    assert.match(first.text, /id: 9\n/);
    const ping = await post('{"jsonrpc":"2.0","id":2,"method":"ping"}', first.sid ?? undefined);
    assert.match(ping.text, /"code":-32603/, 'the answer with a status Node cannot send was skipped: the call is unanswered');
    assert.is(replay.cli.child.exitCode, null, 'replay is still running');
    assert.match(JSON.stringify(replay.cli.lines), /not JSON and were skipped|skipped/);
  } finally {
    assert.is(await stop(replay.cli), 0);
  }
});

const stdio = suite('tapes over stdio: forward stdio --record, then replay --stdio');
stdio.after(() => rmSync(root, { recursive: true, force: true }));

stdio('StdioClientTransport sees the same results through the replay as through the proxy', async () => {
  const dir = join(root, 'stdio');
  const recordTransport = new StdioClientTransport({
    command: process.execPath,
    args: [CLI, 'forward', 'stdio', '--log-level', 'warn', '--record', dir, '--', process.execPath, EVERYTHING, 'stdio'],
    stderr: 'pipe',
  });
  const client = new Client({ name: 'tape-script', version: '1.0.0' });
  await client.connect(recordTransport);
  const recorded = await script(client);
  await client.close();
  await until(() => tapesIn(dir).length === 1 && readFileSync(tapesIn(dir)[0]!, 'utf8').includes('"end":'), 10_000, 'the stdio tape to close');
  const lines = linesOf(tapesIn(dir)[0]!);
  assert.is(lines[0]!.mode, 'stdio');
  assert.is(lines[0]!.upstream, process.execPath, 'the program only: its arguments may carry a key');
  assert.not.ok('http' in lines[1]!, 'no HTTP facts over stdio');

  const replayTransport = new StdioClientTransport({
    command: process.execPath,
    args: [CLI, 'replay', dir, '--stdio', '--log-level', 'warn'],
    stderr: 'pipe',
  });
  const again = new Client({ name: 'tape-script', version: '1.0.0' });
  await again.connect(replayTransport);
  const replayed = await script(again);
  await again.close();
  // The tape holds every progress notification before the answer...
  const order = lines.map((l) => l.msg as { method?: string; result?: { content?: Array<{ text?: string }> } } | undefined)
    .map((m) => (m?.method === 'notifications/progress' ? 'progress' : /Long running operation completed/.test(m?.result?.content?.[0]?.text ?? '') ? 'answer' : null))
    .filter((x) => x !== null);
  assert.equal(order, ['progress', 'progress', 'progress', 'answer']);
  // ...but the SDK's stdio client drops a notification that arrives in the same read as the
  // answer now and then (measured with no proxy too; see policy.test.ts): progress must be
  // in order, and everything else the same.
  for (const seen of [recorded, replayed]) {
    assert.ok(seen.progress.length >= 1);
    assert.equal(seen.progress, [1, 2, 3].slice(0, seen.progress.length));
  }
  assert.equal({ ...replayed, progress: [] }, { ...recorded, progress: [] });
});

http.run();
stdio.run();
