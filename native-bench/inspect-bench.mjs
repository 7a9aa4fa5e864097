// The JS cost of inspecting scenario (d)'s SSE body (~500 progress notifications), in
// process and without sockets: a quick, steadier read than a wrk run for work on the
// inspector. CPU µs per response, median of 5 rounds. DIST=<dir> measures another build.
// MEASURE=n: after the warm-up, run n responses and exit, untimed (for callgrind, whose
// instruction counts repeat where this VM's timings do not; run it with 0 and with n).
// Usage: node --single-threaded-gc native-bench/inspect-bench.mjs
import pino from 'pino';
const dist = process.env.DIST ?? new URL('../dist', import.meta.url).pathname;
const { createMessageLayer } = await import(`${dist}/app/message-layer.js`);
const { Metrics } = await import(`${dist}/observe/metrics.js`);
const { McpInspector } = await import(`${dist}/mcp/inspector.js`);
const { readRequestHead, readResponseHead } = await import(`${dist}/http/head.js`);
const metrics = new Metrics({ liveSessions: () => 0, liveBytes: () => ({ in: 0, out: 0 }) });
const log = pino({ level: 'warn' });
const layer = createMessageLayer({ policyFile: null, recordDir: null, inspectLimitBytes: 1048576, mode: 'http' }, metrics, log, false);
let sse = '';
// CHUNKED=1: events as the TypeScript SDK writes them (event:, then an id <stream>_<n>), each
// handed over on its own as a view of one read, as the proxy's chunked decoder hands them.
const CHUNKED = process.env.CHUNKED === '1';
for (let i = 0; sse.length < 64 * 1024; i++) {
  sse += CHUNKED
    ? `event: message\nid: 1f0c2a7e-8e3b-4c1e-9a57-3f1b2c4d5e6f_${i}\ndata: {"jsonrpc":"2.0","method":"notifications/progress","params":{"progress":${i},"total":1000}}\n\n`
    : `id: ${i}\nevent: message\ndata: {"jsonrpc":"2.0","method":"notifications/progress","params":{"progress":${i},"total":1000}}\n\n`;
}
const body = Buffer.from(sse);
const chunks = [];
if (CHUNKED) {
  for (let at = 0; at < body.length;) {
    const end = body.indexOf('\n\n', at) + 2;
    chunks.push(body.subarray(at, end));
    at = end;
  }
} else {
  for (let i = 0; i < body.length; i += 65536 - 200) chunks.push(Buffer.from(body.subarray(i, i + 65536 - 200)));
}
const req = readRequestHead(Buffer.from('GET /sse HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\n\r\n'));
const res = readResponseHead(Buffer.from('HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: 1\r\n\r\n'));
const insp = new McpInspector(layer.sink, () => log, 'p1', '127.0.0.1');
function one() {
  insp.onRequestHead(req); insp.onRequestEnd(); insp.onResponseHead(req, res);
  for (const c of chunks) insp.onResponseBody(c);
  insp.onResponseEnd();
}
for (let i = 0; i < 3000; i++) one();
if (process.env.MEASURE !== undefined) {
  for (let i = Number(process.env.MEASURE); i > 0; i--) one();
  process.exit(0);
}
const N = 20000;
const times = [];
for (let r = 0; r < 5; r++) {
  const t0 = process.cpuUsage();
  for (let i = 0; i < N / 5; i++) one();
  const t = process.cpuUsage(t0);
  times.push((t.user + t.system) / (N / 5));
}
times.sort((a, b) => a - b);
const events = sse.split('\n\n').length - 1;
console.log(`events/response ${events}; µs/response median ${times[2].toFixed(1)} (min ${times[0].toFixed(1)}), ns/event ${(times[2] * 1000 / events).toFixed(0)}`);
