// --config FILE: every kind of flag by its long name, the command line winning, and
// errors that name the key.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parseConfig } from '../../../dist/cli/argv.js';
import { loadRuleFile } from '../../../dist/policy/rules.js';

const dir = mkdtempSync(join(tmpdir(), 'shadowcat-config-'));
const file = (name: string, text: string): string => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};
const run = (argv: string[], env: Record<string, string> = {}) => {
  const r = parseConfig(argv, '1.2.3', env);
  if (r.kind !== 'run') throw new Error(`expected run, got ${r.kind}`);
  return r.config;
};
const errorOf = (argv: string[]): string => {
  try {
    run(argv);
  } catch (err) {
    return (err as Error).message;
  }
  return 'no error';
};

const cfg = suite('--config FILE');
cfg.after(() => rmSync(dir, { recursive: true, force: true }));

cfg('every flag kind from YAML: numbers, seconds, switches, URLs, repeated headers, files relative to the config', () => {
  writeFileSync(join(dir, 'ca.pem'), '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
  const yaml = file('proxy.yaml', [
    'port: 9999',
    'host: 127.0.0.2',
    'url: https://127.0.0.1:3000/mcp',
    'multi-session: true',
    'upstream-ca: ca.pem',
    'upstream-header:',
    '  - "X-One: 1"',
    '  - "Authorization: Bearer ${TOKEN}"',
    'session-timeout: 2.5',
    'max-body-size: "1024"',
    'rate-limit: 7',
    'admin-port: 0',
    'log-level: warn',
  ].join('\n'));
  const c = run(['forward', 'http', '--config', yaml], { TOKEN: 'sekrit' });
  assert.is(c.port, 9999);
  assert.is(c.host, '127.0.0.2');
  assert.is(c.upstreamUrl!.href, 'https://127.0.0.1:3000/mcp');
  assert.is(c.multiSession, true);
  assert.match(String(c.upstreamCa), /BEGIN CERTIFICATE/);
  assert.equal(c.upstreamHeaders.map((h) => `${h.name}: ${h.value}`), ['X-One: 1', 'Authorization: Bearer sekrit']);
  assert.is(c.sessionTimeoutMs, 2500);
  assert.is(c.maxBodyBytes, 1024);
  assert.is(c.rateLimit, 7);
  assert.is(c.adminPort, 0);
  assert.is(c.logLevel, 'warn');
  assert.is(c.configFile, yaml);
});

cfg('the command line wins over the file; a switch set false in the file is off', () => {
  const json = file('p.json', JSON.stringify({ port: 1000, 'multi-session': false, 'max-sessions': 5, 'upstream-header': 'X-A: 1' }));
  const c = run(['forward', 'http', '--config', json, '--port', '2000', '--upstream-header', 'X-B: 2']);
  assert.is(c.port, 2000);
  assert.is(c.maxSessions, 5);
  assert.is(c.multiSession, false);
  assert.equal(c.upstreamHeaders.map((h) => h.name), ['X-B']);
});

cfg('errors name the file and the key', () => {
  assert.match(errorOf(['forward', 'http', '--config', file('u.yaml', 'colour: red\n')]), /config .*u\.yaml: unknown key 'colour'/);
  assert.match(errorOf(['forward', 'http', '--config', file('b.yaml', 'port: -1\n')]), /invalid --port '-1'/);
  assert.match(errorOf(['forward', 'http', '--config', file('s.yaml', 'multi-session: yes please\n')]), /s\.yaml: multi-session: expected true or false/);
  assert.match(errorOf(['forward', 'http', '--config', file('l.yaml', 'port: [1, 2]\n')]), /l\.yaml: port: expected one value, not a list/);
  assert.match(errorOf(['forward', 'tcp', '--upstream', '127.0.0.1:1', '--config', file('m.yaml', 'url: http://x/\n')]), /m\.yaml: url: does not apply to forward tcp/);
  assert.match(errorOf(['forward', 'http', '--config', file('c.yaml', 'config: other.yaml\n')]), /unknown key 'config'/);
  assert.match(errorOf(['forward', 'http', '--config', file('d.yaml', 'port: 1\nport: 2\n')]), /not valid YAML/);
  assert.match(errorOf(['forward', 'http', '--config', join(dir, 'missing.yaml')]), /cannot read it: ENOENT/);
  assert.match(errorOf(['forward', 'http', '--config', file('x.toml', '')]), /expected a .json, .yaml or .yml file/);
});

cfg('a policy: section makes the config file the policy file too; policy: FILE is relative to it', () => {
  const one = file('all.yaml', 'multi-session: true\npolicy:\n  rules:\n    - name: no-echo\n      action: block\n      match: { method: tools/call, tool: echo }\n');
  const c = run(['forward', 'http', '--config', one]);
  assert.is(c.policyFile, one);
  assert.equal(loadRuleFile(c.policyFile!).set.rules.map((r) => r.name), ['no-echo']);
  file('rules.json', '{"rules": []}');
  const two = file('two.yaml', 'policy: rules.json\n');
  assert.is(run(['forward', 'stdio', '--config', two, '--', 'true']).policyFile, join(dir, 'rules.json'));
});

cfg.run();
