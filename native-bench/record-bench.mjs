// The recorder's cost per message, in-process: the observer call that builds a tape line
// and queues it, plus the writes it causes (to a tmpfs), per message. Run after `make build`:
//   node native-bench/record-bench.mjs
import { mkdtempSync, rmSync } from 'node:fs';
import { Recorder } from '../dist/tape/recorder.js';
import { Metrics } from '../dist/observe/metrics.js';
import { silentLogger } from '../dist/observe/logger.js';
import { ExchangeFacts } from '../dist/mcp/inspector.js';

const dir = mkdtempSync('/dev/shm/shadowcat-record-bench-');
const metrics = new Metrics({ liveSessions: () => 0, liveBytes: () => ({ in: 0, out: 0 }) });
const rec = new Recorder({ dir, queueBytes: 64 * 1024 * 1024, version: 'bench', mode: 'http multi-session', upstream: 'http://127.0.0.1/mcp', idleMs: 300_000 }, metrics, silentLogger());
const req = Buffer.from('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"message":"hello"}}}');
const res = Buffer.from(JSON.stringify({ jsonrpc: '2.0', id: 1, result: { content: [{ type: 'text', text: 'Echo: hello' }], structuredContent: { echo: 'hello', note: 'padding to about three hundred bytes of JSON-RPC answer'.padEnd(200, '.') } } }));
const log = () => { throw new Error('no'); };
const N = 200_000;
async function round() {
  const t0 = process.cpuUsage();
  const w0 = performance.now();
  for (let i = 0; i < N; i++) {
    const q = new ExchangeFacts(i, 'POST', '/mcp', 0, 'application/json', 'bench-session', null);
    rec.onMessage({ from: 'client', proxySession: 'p1', mcpSession: 'bench-session', kind: 'request', method: 'tools/call', id: '1', name: null, bytes: req.subarray(0), clientIp: '127.0.0.1', onGetStream: false, http: q, log });
    const r = new ExchangeFacts(i, 'POST', '/mcp', 200, 'application/json', 'bench-session', null);
    rec.onMessage({ from: 'server', proxySession: 'p1', mcpSession: 'bench-session', kind: 'result', method: '', id: '1', name: null, bytes: res.subarray(0), clientIp: '127.0.0.1', onGetStream: false, http: r, log });
    if (i % 500 === 0) await new Promise((r) => setImmediate(r));
  }
  const cpu = process.cpuUsage(t0);
  return { wallUs: ((performance.now() - w0) * 1000) / N, cpuUs: (cpu.user + cpu.system) / N };
}
for (let k = 0; k < 4; k++) {
  const r = await round();
  console.log(`per request (two messages): wall ${r.wallUs.toFixed(2)} µs, process CPU ${r.cpuUs.toFixed(2)} µs (includes the write threads)`);
}
await rec.close(5000);
rmSync(dir, { recursive: true, force: true });
