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
for (let i = 0; sse.length < 64 * 1024; i++) sse += `id: ${i}\nevent: message\ndata: {"jsonrpc":"2.0","method":"notifications/progress","params":{"progress":${i},"total":1000}}\n\n`;
const body = Buffer.from(sse);
const chunks = [];
for (let i = 0; i < body.length; i += 65536 - 200) chunks.push(Buffer.from(body.subarray(i, i + 65536 - 200)));
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
