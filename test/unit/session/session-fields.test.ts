// A session's times are small integers V8 keeps in the object: a boxed double per field
// would be 16 bytes more in every idle session (docs/architecture.md, "idle keep-alive session").

import { execFile } from 'node:child_process';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Session } from '../../../dist/session/session.js';

const test = suite('Session fields');
const FIXTURE = new URL('../../../test/fixtures/session-fields.mjs', import.meta.url).pathname;

test('created and last-activity times are held as small integers, not boxed doubles', async () => {
  const out = await new Promise<string>((resolve, reject) => {
    execFile(process.execPath, ['--allow-natives-syntax', FIXTURE], { timeout: 60_000 }, (err, stdout) => (err !== null ? reject(err) : resolve(stdout)));
  });
  const fields = out.split('\n').filter((line) => /#(createdMs|activeMs)>/.test(line));
  assert.is(fields.length, 2, out);
  for (const line of fields) assert.not.match(line, /HeapNumber/, line);
});

test('the times read back as the ms given', () => {
  const at = Date.now();
  const s = new Session('127.0.0.1', 1, at, () => {});
  assert.is(s.createdAt, at);
  assert.is(s.lastActivityAt, at);
  s.lastActivityAt = at + 1234;
  assert.is(s.lastActivityAt, at + 1234);
  assert.is(s.createdAt, at);
});

test.run();
