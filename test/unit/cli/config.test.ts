import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parseConfig } from '../../../dist/cli/config.js';
import { ConfigError } from '../../../dist/errors.js';

const config = suite('parseConfig');

function run(argv: string[]) {
  const r = parseConfig(argv, '1.2.3');
  if (r.kind !== 'run') throw new Error(`expected run, got ${r.kind}`);
  return r.config;
}

config('defaults follow SPEC', () => {
  const c = run(['forward', 'http']);
  assert.is(c.port, 8080);
  assert.is(c.host, '127.0.0.1');
  assert.is(c.multiSession, false);
  assert.is(c.maxSessions, 1000);
  assert.is(c.maxPerClient, 100);
  assert.is(c.sessionTimeoutMs, 300_000);
  assert.is(c.headerTimeoutMs, 10_000);
  assert.is(c.maxHeaderBytes, 16384);
  assert.is(c.maxBodyBytes, 67108864);
  assert.is(c.connectTimeoutMs, 5000);
  assert.is(c.upstreamTimeoutMs, 60_000);
  assert.is(c.shutdownTimeoutMs, 30_000);
  assert.is(c.upstreamUrl, null);
  assert.ok(Object.isFrozen(c));
});

config('reads every flag', () => {
  const c = run(['forward', 'http', '--port', '0', '--url', 'http://127.0.0.1:3000/mcp', '--multi-session', '--max-sessions', '2',
    '--session-timeout', '0.5', '--admin-port', '9999', '--log-level', 'debug', '--rate-limit', '5']);
  assert.is(c.port, 0);
  assert.is(c.upstreamUrl?.href, 'http://127.0.0.1:3000/mcp');
  assert.ok(c.multiSession);
  assert.is(c.maxSessions, 2);
  assert.is(c.sessionTimeoutMs, 500);
  assert.is(c.adminPort, 9999);
  assert.is(c.logLevel, 'debug');
  assert.is(c.rateLimit, 5);
});

config('tcp needs --upstream host:port; stdio needs a command', () => {
  const t = run(['forward', 'tcp', '--upstream', 'localhost:9000']);
  assert.equal(t.upstream, { host: 'localhost', port: 9000 });
  const s = run(['forward', 'stdio', '--', 'node', 'server.js', '--port', '3']);
  assert.equal([...s.command], ['node', 'server.js', '--port', '3']);
});

const bad: Array<[string[], RegExp]> = [
  [['forward', 'http', '--port', 'abc'], /--port/],
  [['forward', 'http', '--port', '70000'], /--port/],
  [['forward', 'http', '--max-sessions', '0'], /--max-sessions/],
  [['forward', 'http', '--session-timeout', 'soon'], /--session-timeout/],
  [['forward', 'http', '--url', 'ftp://x'], /--url/],
  [['forward', 'http', '--log-level', 'loud'], /--log-level/],
  [['forward', 'http', '--bogus', '1'], /unknown flag --bogus/],
  [['forward', 'tcp'], /--upstream/],
  [['forward', 'tcp', '--upstream', 'nohost'], /--upstream/],
  [['forward', 'stdio'], /command/],
  [['forward', 'stdio', '--port', '9', '--', 'node'], /--port does not apply to forward stdio/],
  [['forward', 'tcp', '--upstream', 'h:1', '--rate-limit', '3'], /--rate-limit does not apply to forward tcp/],
  [['forward', 'udp'], /unknown mode/],
  [['serve'], /unknown command/],
  [[], /missing command/],
];
for (const [argv, message] of bad) {
  config(`rejects ${argv.join(' ') || '(nothing)'}`, () => {
    try {
      parseConfig(argv, '1');
      assert.unreachable('should throw');
    } catch (err) {
      assert.instance(err, ConfigError);
      assert.match((err as Error).message, message);
    }
  });
}

config('help and version', () => {
  assert.is(parseConfig(['--version'], '1.2.3').kind, 'version');
  const h = parseConfig(['forward', 'tcp', '--help'], '1');
  assert.is(h.kind, 'help');
  assert.match((h as { text: string }).text, /--upstream HOST:PORT/);
  assert.match((parseConfig(['--help'], '1') as { text: string }).text, /forward stdio/);
});

config.run();
