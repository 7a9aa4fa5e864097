// The policy gate alone, in-process: ns to judge scenario (a)'s request against the
// 20-rule bench policy (native-bench/.work/policy-20.json, written by bench.mjs), which
// matches nothing in it. The whole-proxy cost is the bench row; this isolates the judge
// from the machine's network noise. Usage: node native-bench/gate-bench.mjs (after make build).

import { existsSync } from 'node:fs';
import { MessageGate } from '../dist/mcp/gate.js';
import { MessageHooks } from '../dist/mcp/message.js';
import { Metrics } from '../dist/observe/metrics.js';
import { silentLogger } from '../dist/observe/logger.js';
import { PolicyDecider } from '../dist/policy/policy.js';
import { loadRuleFile } from '../dist/policy/rules.js';

const file = new URL('./.work/policy-20.json', import.meta.url).pathname;
if (!existsSync(file)) {
  console.error(`${file} is missing: run make bench (or node native-bench/bench.mjs --scenarios a --only policy) once`);
  process.exit(1);
}
const metrics = new Metrics({ liveSessions: () => 0, liveBytes: () => ({ in: 0, out: 0 }) });
const gate = new MessageGate(new MessageHooks([], [new PolicyDecider(loadRuleFile(file), metrics, silentLogger())]));
const body = Buffer.from('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"message":"hello"}}}');
const ctx = { proxySession: 'p', mcpSession: 'bench-session', clientIp: '127.0.0.1', log: silentLogger };
const rounds = [];
for (let r = 0; r < 9; r++) {
  const n = 300_000;
  const t = process.hrtime.bigint();
  for (let i = 0; i < n; i++) if (gate.judge(body, ctx).type !== 'forward') throw new Error('the bench policy matched');
  rounds.push(Number(process.hrtime.bigint() - t) / n);
}
rounds.sort((a, b) => a - b);
console.log(`gate.judge, 20 rules, no match: median ${rounds[4].toFixed(0)} ns (min ${rounds[0].toFixed(0)}, max ${rounds[8].toFixed(0)}) over 9 × 300000`);
