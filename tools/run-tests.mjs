#!/usr/bin/env node
// Runs every compiled test file (build-test/**/*.test.js) in its own node process, so a
// leaked handle or a crash in one file cannot hang or hide another, and ends with the
// one line CI reads: "N passed, M failed". A file that times out or crashes counts as
// one failure on top of whatever it reported.

import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const dir = join(root, 'build-test');
const filter = process.argv[2] ?? '';
const FILE_TIMEOUT_MS = Number(process.env.TEST_FILE_TIMEOUT_MS ?? 300_000);

function walk(d) {
  const out = [];
  for (const name of readdirSync(d).sort()) {
    const p = join(d, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

const strip = (s) => s.replace(/\x1b\[[0-9;]*m/g, '');

function runFile(file) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--enable-source-maps', '--expose-gc', file], {
      cwd: root,
      env: { ...process.env, NO_COLOR: '1', NODE_DISABLE_COLORS: '1', FORCE_COLOR: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (c) => { out += c; process.stdout.write(c); });
    child.stderr.on('data', (c) => { out += c; process.stderr.write(c); });
    const timer = setTimeout(() => {
      process.stdout.write(`\n!! ${relative(root, file)} timed out after ${FILE_TIMEOUT_MS} ms\n`);
      child.kill('SIGKILL');
    }, FILE_TIMEOUT_MS);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const text = strip(out);
      const total = Number(/Total:\s+(\d+)/.exec(text)?.[1] ?? NaN);
      const passed = Number(/Passed:\s+(\d+)/.exec(text)?.[1] ?? NaN);
      const skipped = Number(/Skipped:\s+(\d+)/.exec(text)?.[1] ?? 0);
      if (Number.isNaN(total) || Number.isNaN(passed)) {
        process.stdout.write(`\n!! ${relative(root, file)} ended (code ${code}, signal ${signal}) without uvu totals\n`);
        resolve({ passed: 0, failed: 1, skipped: 0 });
        return;
      }
      let failed = total - passed - skipped;
      if (code !== 0 && failed === 0) {
        process.stdout.write(`\n!! ${relative(root, file)} exited with code ${code} after its tests\n`);
        failed = 1;
      }
      resolve({ passed, failed, skipped });
    });
  });
}

const files = walk(dir).filter((f) => f.includes(filter));
let passed = 0;
let failed = 0;
let skipped = 0;
const failedFiles = [];
for (const file of files) {
  process.stdout.write(`\n# ${relative(dir, file)}\n`);
  const r = await runFile(file);
  passed += r.passed;
  failed += r.failed;
  skipped += r.skipped;
  if (r.failed > 0) failedFiles.push(relative(dir, file));
}
if (failedFiles.length > 0) process.stdout.write(`\nfailing files: ${failedFiles.join(', ')}\n`);
if (files.length === 0) {
  process.stdout.write('no test files found\n');
  failed++;
}
process.stdout.write(`\n${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}\n`);
process.exit(failed > 0 ? 1 : 0);
