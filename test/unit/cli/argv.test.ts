import { readFileSync } from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { helpText, parseConfig } from '../../../dist/cli/argv.js';
import { FLAGS, makeConfig } from '../../../dist/config.js';
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
  // Without `--` (launchers drop it): the first argument that is not a flag starts the command.
  const npx = run(['forward', 'stdio', '--log-level', 'warn', 'npx', '-y', '@modelcontextprotocol/server-everything', '--', 'x']);
  assert.equal([...npx.command], ['npx', '-y', '@modelcontextprotocol/server-everything', '--', 'x']);
  assert.is(npx.logLevel, 'warn');
  const help = run(['forward', 'stdio', 'node', 'server.js', '--help']);
  assert.equal([...help.command], ['node', 'server.js', '--help'], "the command's own --help is the command's");
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
  [['forward', 'http', '--port', '-1'], /invalid --port '-1'/],
  [['forward', 'http', '--port'], /--port needs a value/],
  [['forward', 'http', '--port', '--multi-session'], /--port needs a value/],
  [['forward', 'http', '--multi-session=yes'], /--multi-session takes no value/],
  [['forward', 'http', '--port', '1', '--port', '2'], /--port given twice/],
  [['forward', 'tcp', '--url', 'http://h:1/'], /--url does not apply to forward tcp; use --upstream/],
  [['forward', 'stdio', '--body-timeout', '3', '--', 'node'], /--body-timeout does not apply to forward stdio/],
  [['forward', 'http', '--body-timeout', '0'], /--body-timeout/],
  [['forward', 'http', '--admin-port', '9', '--admin-host', '0.0.0.0'], /--admin-token/],
  [['forward', 'tcp', '--upstream', 'h:1', '--admin-port', '9', '--admin-host', '192.0.2.1'], /not a loopback address/],
  [['forward', 'http', '--admin-token='], /--admin-token needs a value/],
  [['forward', 'http', '-x'], /unknown flag -x/],
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

config("README's usage block names every flag of each mode's --help, and no flag --help lacks", () => {
  const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
  const start = readme.indexOf('## Usage');
  const block = readme.slice(readme.indexOf('```', start) + 3, readme.indexOf('```', readme.indexOf('```', start) + 3));
  const lines = block.split('\n');
  const limits = lines.filter((l) => /^(limits:| {8}--)/.test(l)).join(' ');
  for (const mode of ['http', 'tcp', 'stdio'] as const) {
    // A mode may have more than one usage entry (forward stdio: a command, or --url).
    let usage = '';
    lines.forEach((l, i) => {
      if (!l.startsWith(`shadowcat forward ${mode}`)) return;
      const own = lines.slice(i);
      usage += ` ${own.slice(0, own.slice(1).findIndex((x) => x.startsWith('shadowcat')) + 1).join(' ')}`;
    });
    const flagsIn = (text: string): Set<string> => new Set([...text.matchAll(/--[a-z][a-z-]+/g)].map((m) => m[0]));
    const usageFlags = flagsIn(`${usage} ${usage.includes('[limits]') ? limits : ''}`);
    const helpFlags = flagsIn(helpText(mode));
    for (const f of helpFlags) if (f !== '--help' && f !== '--version') assert.ok(usageFlags.has(f), `README usage of forward ${mode} lacks ${f}`);
    // The shared limits line lists them all; a mode's own lines name only its flags.
    for (const f of flagsIn(usage)) if (FLAGS.some((r) => `--${r.name}` === f)) assert.ok(helpFlags.has(f), `README usage of forward ${mode} names ${f}, which its --help lacks`);
  }
});

config('help and version', () => {
  assert.is(parseConfig(['--version'], '1.2.3').kind, 'version');
  const h = parseConfig(['forward', 'tcp', '--help'], '1');
  assert.is(h.kind, 'help');
  assert.match((h as { text: string }).text, /--upstream HOST:PORT/);
  assert.match((parseConfig(['--help'], '1') as { text: string }).text, /forward stdio/);
});

config('--body-timeout and --admin-token: defaults, values taken exactly as typed, the environment as a fallback', () => {
  assert.is(run(['forward', 'http']).bodyTimeoutMs, 30_000);
  assert.is(run(['forward', 'http', '--body-timeout', '2.5']).bodyTimeoutMs, 2500);
  assert.is(run(['forward', 'http']).adminToken, null);
  assert.is(run(['forward', 'http', '--admin-token', '0123']).adminToken, '0123');
  assert.is(run(['forward', 'http', '--admin-token=1e5']).adminToken, '1e5');
  const fromEnv = parseConfig(['forward', 'tcp', '--upstream', 'h:1'], '1', { SHADOWCAT_ADMIN_TOKEN: 's3cret' });
  assert.is(fromEnv.kind === 'run' && fromEnv.config.adminToken, 's3cret');
  const flagWins = parseConfig(['forward', 'http', '--admin-token', 'a'], '1', { SHADOWCAT_ADMIN_TOKEN: 'b' });
  assert.is(flagWins.kind === 'run' && flagWins.config.adminToken, 'a');
  // A token makes a non-loopback admin address acceptable; loopback names need none.
  assert.is(run(['forward', 'http', '--admin-port', '9', '--admin-host', '0.0.0.0', '--admin-token', 't']).adminHost, '0.0.0.0');
  for (const h of ['127.0.0.1', '127.8.9.10', '::1', '[::1]', 'localhost']) {
    assert.is(run(['forward', 'http', '--admin-port', '9', '--admin-host', h]).adminHost, h);
  }
});

config('the flag table is the one source: every flag is in its modes\' help, parsed, and defaulted by makeConfig', () => {
  for (const f of FLAGS) {
    for (const mode of ['http', 'tcp', 'stdio'] as const) {
      const help = helpText(mode);
      if (f.modes.includes(mode)) assert.ok(help.includes(`--${f.name}`), `--${f.name} missing from ${mode} help`);
      else assert.not.ok(help.includes(`--${f.name} `), `--${f.name} listed in ${mode} help`);
    }
  }
  const c = makeConfig({ mode: 'http' });
  for (const f of FLAGS) assert.ok(f.key in c, f.key);
  assert.ok(Object.isFrozen(c));
  assert.throws(() => makeConfig({ mode: 'tcp' }), /--upstream/);
});

config('TLS flags: https URLs, a repeatable --upstream-header with ${VAR}, --upstream-tls for tcp', () => {
  const ca = new URL('../../../test/fixtures/tls/ca.pem', import.meta.url).pathname;
  const r = parseConfig(['forward', 'http', '--url', 'https://h.example/mcp', '--upstream-ca', ca, '--upstream-header', 'Authorization: Bearer ${TOK}',
    '--upstream-header=X-Two: a ${TOK} b'], '1', { TOK: 's3' });
  assert.ok(r.kind === 'run');
  const c = (r as { config: ReturnType<typeof makeConfig> }).config;
  assert.is(c.upstreamUrl?.protocol, 'https:');
  assert.match(String(c.upstreamCa), /BEGIN CERTIFICATE/);
  assert.equal(c.upstreamHeaders, [{ name: 'Authorization', value: 'Bearer s3' }, { name: 'X-Two', value: 'a s3 b' }]);
  assert.ok(Object.isFrozen(c.upstreamHeaders));
  assert.is(run(['forward', 'tcp', '--upstream', 'h:1', '--upstream-tls']).upstreamTls, true);
  for (const [argv, message] of [
    [['forward', 'http', '--url', 'https://h/', '--upstream-header', 'no colon'], /expected "Name: value"/],
    [['forward', 'http', '--upstream-header', 'Bad Name: v'], /expected "Name: value"/],
    [['forward', 'http', '--upstream-header', 'Transfer-Encoding: chunked'], /sets that header itself/],
    [['forward', 'http', '--upstream-tls'], /--upstream-tls does not apply to forward http; forward http speaks TLS to an https:\/\/ --url/],
    [['forward', 'tcp', '--upstream', 'h:1', '--upstream-ca', ca], /need a TLS upstream \(--upstream-tls\)/],
  ] as Array<[string[], RegExp]>) {
    assert.throws(() => parseConfig(argv, '1', {}), message, argv.join(' '));
  }
  // An unset variable is an error that names the variable, never a value.
  assert.throws(() => parseConfig(['forward', 'http', '--upstream-header', 'X-K: ${NOPE_UNSET}'], '1', {}), /NOPE_UNSET is not set/);
});

config('--auth-jwt: its three settings together, a key set over https (http only from loopback), --upstream-ca for it', () => {
  const ca = new URL('../../../test/fixtures/tls/ca.pem', import.meta.url).pathname;
  const jwt = ['--auth-jwt', '--auth-issuer', 'https://i.example', '--auth-audience', 'mcp'];
  const c = run(['forward', 'http', ...jwt, '--auth-jwks', 'https://i.example/jwks', '--upstream-ca', ca, '--auth-scopes', 'a,b']);
  assert.equal([c.authJwt, c.authJwks, c.authScopes], [true, 'https://i.example/jwks', ['a', 'b']]);
  assert.is(run(['forward', 'http', ...jwt, '--auth-jwks', 'http://127.0.0.1:9/jwks']).authJwks, 'http://127.0.0.1:9/jwks');
  for (const [argv, message] of [
    [['forward', 'http', '--auth-jwt', '--auth-jwks', 'https://i/jwks', '--auth-issuer', 'https://i'], /--auth-jwt needs --auth-jwks URL\|FILE, --auth-issuer URL and --auth-audience AUD/],
    [['forward', 'http', ...jwt, '--auth-jwks', 'http://i.example/jwks'], /fetched over https:\/\/ \(http:\/\/ only from a loopback address\)/],
    [['forward', 'http', ...jwt, '--auth-jwks', 'ftp://i.example/jwks'], /fetched over https:\/\//],
    [['forward', 'http', '--auth-issuer', 'https://i'], /go with --auth-jwt/],
    [['forward', 'http', '--auth-scopes', 'a b'], /invalid --auth-scopes entry 'a b'/],
    [['forward', 'http', ...jwt, '--auth-jwks', 'jwks.json', '--upstream-ca', ca], /need a TLS upstream/],
  ] as Array<[string[], RegExp]>) {
    assert.throws(() => parseConfig(argv, '1', {}), message, argv.join(' '));
  }
});

config.run();
