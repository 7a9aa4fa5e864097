import pino from 'pino';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readRequestHead, readResponseHead } from '../../../dist/http/head.js';
import { Correlator } from '../../../dist/mcp/correlator.js';
import { McpInspector, McpMessageSink, McpMetricsObserver } from '../../../dist/mcp/inspector.js';
import { MessageHooks, type McpMessage, type MessageObserver } from '../../../dist/mcp/message.js';
import { Metrics } from '../../../dist/observe/metrics.js';

const runs = suite('inspector: runs of one notification');
const log = pino({ level: 'silent' });

/** Counts per kind and method, each message told on its own. */
class EachCounter implements MessageObserver {
  readonly counts = new Map<string, number>();
  told = 0;
  onMessage(m: McpMessage): void {
    this.told++;
    const key = `${m.from} ${m.kind} ${m.method}`;
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  }
}

/** The same, taking runs. */
class RunCounter extends EachCounter {
  runs = 0;
  onRepeat(m: McpMessage, times: number): void {
    this.runs++;
    const key = `${m.from} ${m.kind} ${m.method}`;
    this.counts.set(key, (this.counts.get(key) ?? 0) + times);
  }
}

/** Feeds `text` as one SSE response to an inspector over `observers`, cut into reads of the given sizes
 *  (or, with `pieces`, handed over as views of one read cut where `pieces` says, as a chunked body's chunks are). */
function feed(observers: MessageObserver[], text: string, cuts: number[], pieces: number[] | null = null): Metrics {
  const metrics = new Metrics({ liveSessions: () => 0, liveBytes: () => ({ in: 0, out: 0 }) });
  const all = [new McpMetricsObserver(metrics, new Correlator(), false), ...observers];
  const sink = new McpMessageSink(new MessageHooks(all, []), metrics, 1 << 20, false);
  const insp = new McpInspector(sink, () => log, 'p1', '127.0.0.1');
  const req = readRequestHead(Buffer.from('GET /mcp HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\n\r\n'))!;
  const res = readResponseHead(Buffer.from('HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n'))!;
  insp.onRequestHead(req);
  insp.onRequestEnd();
  insp.onResponseHead(req, res);
  const bytes = Buffer.from(text);
  let at = 0;
  if (pieces !== null) {
    for (const end of [...pieces, bytes.length]) {
      insp.onResponseBody(bytes.subarray(at, end));
      at = end;
    }
  }
  for (let i = 0; at < bytes.length; i++) {
    const n = cuts[i % cuts.length]!;
    insp.onResponseBody(Buffer.from(bytes.subarray(at, at + n)));
    at += n;
  }
  insp.onResponseEnd();
  return metrics;
}

const event = (json: string): string => `id: 1\nevent: message\ndata: ${json}\n\n`;
const progress = (i: number): string => event(`{"jsonrpc":"2.0","method":"notifications/progress","params":{"progress":${i},"total":100}}`);
const message = (i: number): string => event(`{"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"m${i}"}}`);

runs('counts are the same whether observers take runs or each message, however the stream is cut', () => {
  let text = '';
  for (let i = 0; i < 300; i++) {
    text += i % 37 === 5 ? message(i) : progress(i);
    if (i % 50 === 7) text += event(`{"jsonrpc":"2.0","id":${i},"method":"ping"}`);
    if (i % 61 === 3) text += event(`{"jsonrpc":"2.0","method":"notifications/progress","id":${i},"params":{}}`);
    if (i % 73 === 9) text += event('{"jsonrpc":"2.0","method":"notifications/progress","params":{"progress":1');
    // A notification whose start is too long to remember: the next progress event still
    // matches the remembered start, but belongs to no run of this one.
    if (i % 41 === 11) text += event(`{"jsonrpc":"2.0","pad":"${'p'.repeat(300)}","method":"notifications/message","params":{}}`);
  }
  for (const cuts of [[text.length], [4096], [1, 7, 300], [97, 1000, 33]]) {
    const each = new EachCounter();
    feed([each], text, cuts);
    const taking = new RunCounter();
    const metrics = feed([taking], text, cuts);
    assert.equal([...taking.counts].sort(), [...each.counts].sort(), `cuts ${cuts.join(',')}`);
    // Every observer here takes runs, so runs were told (except when every read holds one event).
    if (cuts[0] === text.length) assert.ok(taking.runs > 0 && taking.runs < 50, `${taking.runs} runs`);
    // The metric counts a method whatever the kind (a notifications/* with an id is a request).
    const byMethod = (method: string): number => [...each.counts].filter(([k]) => k.endsWith(` ${method}`)).reduce((t, [, n]) => t + n, 0);
    assert.is(metrics.mcpMessages.labels('notifications/progress', 'server_to_client').value, byMethod('notifications/progress'));
    assert.is(metrics.mcpMessages.labels('notifications/message', 'server_to_client').value, byMethod('notifications/message'));
  }
});

runs('the same for events as the TypeScript SDK writes them (event:, then an id of its own), CRLF or LF', () => {
  for (const br of ['\n', '\r\n']) {
    const sdk = (i: number, json: string): string => `event: message${br}id: stream-${i}_${i * 7}${br}data: ${json}${br}${br}`;
    let text = '';
    for (let i = 0; i < 400; i++) {
      text += sdk(i, i % 29 === 4
        ? `{"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"m${i}"}}`
        : i % 53 === 8 ? `{"jsonrpc":"2.0","method":"notifications/progress","params":{"progress":${i}` // unclosed: malformed
        : `{"jsonrpc":"2.0","method":"notifications/progress","params":{"progress":${i},"total":400}}`);
    }
    for (const cuts of [[text.length], [4096], [5000, 1, 9000]]) {
      const each = new EachCounter();
      feed([each], text, cuts);
      const taking = new RunCounter();
      const metrics = feed([taking], text, cuts);
      assert.equal([...taking.counts].sort(), [...each.counts].sort(), `cuts ${cuts.join(',')}`);
      assert.is(each.counts.get('server notification notifications/progress'), 400 - 14 - 8);
      assert.is(metrics.mcpMessages.labels('notifications/progress', 'server_to_client').value, 400 - 14 - 8);
      assert.is(metrics.mcpMessages.labels('notifications/message', 'server_to_client').value, 14);
    }
  }
});

runs('a chunked body (an event a piece, the pieces views of one read) counts into runs across its pieces', () => {
  let text = '';
  const ends: number[] = [];
  for (let i = 0; i < 400; i++) {
    text += `event: message\nid: 1f0c2a7e-8e3b-4c1e-9a57-3f1b2c4d5e6f_${i}\ndata: ${i % 97 === 50
      ? `{"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"m${i}"}}`
      : `{"method":"notifications/progress","params":{"progressToken":1,"progress":${i},"total":400},"jsonrpc":"2.0"}`}\n\n`;
    ends.push(text.length);
  }
  ends.pop();
  const each = new EachCounter();
  feed([each], text, [], ends);
  const taking = new RunCounter();
  const metrics = feed([taking], text, [], ends);
  assert.equal([...taking.counts].sort(), [...each.counts].sort());
  assert.is(metrics.mcpMessages.labels('notifications/progress', 'server_to_client').value, 396);
  assert.is(metrics.mcpMessages.labels('notifications/message', 'server_to_client').value, 4);
  // Told as a few runs (one per stretch between the other messages), not 396 messages.
  assert.ok(taking.runs > 0 && taking.runs <= 5, `${taking.runs} runs`);
  assert.ok(taking.told < 20, `${taking.told} messages told one by one`);
});

runs('with an observer that takes each message, every observer gets each message', () => {
  let text = '';
  for (let i = 0; i < 100; i++) text += progress(i);
  const each = new EachCounter();
  const taking = new RunCounter();
  feed([taking, each], text, [text.length]);
  assert.is(taking.runs, 0);
  assert.is(taking.counts.get('server notification notifications/progress'), 100);
  assert.is(each.counts.get('server notification notifications/progress'), 100);
});

runs.run();
