// deploy/try-haproxy.sh as a user runs it: HAProxy (deploy/haproxy.cfg) in front of two
// shadowcat instances, five SDK clients, one instance stopped with SIGTERM mid-run. The
// script installs HAProxy from Debian's packages when it is missing.

import { spawn } from 'node:child_process';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

const ROOT = new URL('../..', import.meta.url).pathname;

const recipe = suite('deploy/try-haproxy.sh');

recipe('every client goes on being answered after one instance is stopped', async () => {
  const { code, stdout, stderr } = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    const child = spawn('bash', ['deploy/try-haproxy.sh'], { cwd: ROOT, env: { ...process.env, SECONDS_BEFORE: '2', SECONDS_AFTER: '3' } });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('close', (c) => resolve({ code: c ?? -1, stdout: out, stderr: err }));
  });
  assert.is(code, 0, stderr);
  const clients = stdout.trim().split('\n').map((l) => JSON.parse(l) as { before: { ok: number }; after: { ok: number; failed: number } });
  assert.is(clients.length, 5);
  for (const c of clients) {
    assert.ok(c.before.ok > 0, 'answered before the stop');
    assert.ok(c.after.ok > 0, 'answered after the stop');
  }
  assert.match(stderr, /shadowcat 1 exited 0/);
  assert.match(stderr, /HAProxy sees: sc1=DOWN sc2=UP/);
});

recipe.run();
