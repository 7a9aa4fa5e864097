import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ConformanceLint } from '../../../dist/mcp/conformance.js';
import { readRequestHead } from '../../../dist/http/head.js';
import { Metrics } from '../../../dist/observe/metrics.js';
import { silentLogger } from '../../../dist/observe/logger.js';

const lint = suite('ConformanceLint');
const head = (target: string, sid: string, version = ''): ReturnType<typeof readRequestHead> =>
  readRequestHead(Buffer.from(`POST ${target} HTTP/1.1\r\nHost: h\r\nMcp-Session-Id: ${sid}\r\n${version}\r\n`, 'latin1'));

lint('a request without MCP-Protocol-Version is counted each time; the example follows what changed', async () => {
  const metrics = new Metrics({ liveSessions: () => 0, liveBytes: () => ({ in: 0, out: 0 }) });
  const l = new ConformanceLint(metrics, silentLogger());
  for (let i = 0; i < 3; i++) l.onRequest(head('/mcp', 's1'));
  l.onRequest(head('/mcp', 's1', 'MCP-Protocol-Version: 2025-06-18\r\n'));
  let s = l.snapshot()['missing-protocol-version']!;
  assert.is(s.count, 3);
  assert.equal(Object.keys(s.latest!).sort(), ['at', 'excerpt', 'method', 'session', 'status']);
  assert.equal({ ...s.latest!, at: '' }, { at: '', method: 'POST', session: 's1', status: null, excerpt: 'POST /mcp' });
  l.onRequest(head('/other', 's1'));
  assert.is(l.snapshot()['missing-protocol-version']!.latest!.excerpt, 'POST /other');
  l.onRequest(head('/other', 's2'));
  l.onRequest(head('/other', 's2'));
  s = l.snapshot()['missing-protocol-version']!;
  assert.is(s.count, 6);
  assert.equal({ ...s.latest!, at: '' }, { at: '', method: 'POST', session: 's2', status: null, excerpt: 'POST /other' });
  // A repeat still moves the example's time.
  const before = Date.parse(s.latest!.at);
  await new Promise((r) => setTimeout(r, 15));
  l.onRequest(head('/other', 's2'));
  assert.ok(Date.parse(l.snapshot()['missing-protocol-version']!.latest!.at) > before);
  assert.match(await metrics.render(), /shadowcat_mcp_conformance_total\{rule="missing-protocol-version"\} 7/);
});

lint.run();
