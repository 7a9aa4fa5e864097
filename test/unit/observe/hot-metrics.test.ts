import { Registry } from 'prom-client';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { HotCounter, HotHistogram } from '../../../dist/observe/hot-metrics.js';

const hot = suite('hot metrics');

hot('counters and histograms render as Prometheus text with cumulative buckets', async () => {
  const reg = new Registry();
  const c = new HotCounter(reg, 't_requests_total', 'requests', ['status']);
  const h = new HotHistogram(reg, 't_seconds', 'seconds', ['method'], [0.1, 1]);
  const ok = c.labels('200');
  ok.inc();
  ok.inc(2);
  c.labels('502').inc();
  const m = h.labels('ping');
  m.observe(0.05);
  m.observe(0.5);
  m.observe(5);
  const text = await reg.metrics();
  assert.match(text, /# TYPE t_requests_total counter/);
  assert.match(text, /t_requests_total\{status="200"\} 3/);
  assert.match(text, /t_requests_total\{status="502"\} 1/);
  assert.match(text, /# TYPE t_seconds histogram/);
  assert.match(text, /t_seconds_bucket\{method="ping",le="0.1"\} 1/);
  assert.match(text, /t_seconds_bucket\{method="ping",le="1"\} 2/);
  assert.match(text, /t_seconds_bucket\{method="ping",le="\+Inf"\} 3/);
  assert.match(text, /t_seconds_sum\{method="ping"\} 5.55/);
  assert.match(text, /t_seconds_count\{method="ping"\} 3/);
});

hot('labels() hands back the same series each time', () => {
  const reg = new Registry();
  const c = new HotCounter(reg, 't_x_total', 'x', ['a', 'b']);
  assert.is(c.labels('1', '2'), c.labels('1', '2'));
  assert.is.not(c.labels('1', '2'), c.labels('12', ''));
});

hot.run();
