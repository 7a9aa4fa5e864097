#!/usr/bin/env node
// make binary: dist/bin/shadowcat, one executable with Node inside (Node's single
// executable applications). The built CLI (dist/cli.js) and every run-time dependency —
// undici's llhttp wasm included — are bundled by esbuild into one CommonJS file, which
// becomes the SEA blob injected (postject) into a copy of this Node. Nothing is read from
// node_modules or package.json at run time.

import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';

const root = new URL('..', import.meta.url).pathname;
const work = join(root, 'build-binary');
const out = join(root, 'dist', 'bin', 'shadowcat');
const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

// Our ESM loads two CommonJS files through createRequire(import.meta.url) (mnemonist's LRU
// map alone, undici's llhttp wasm): in the CommonJS bundle those are plain requires, which
// esbuild can follow.
const createRequireToRequire = {
  name: 'create-require',
  setup(b) {
    b.onLoad({ filter: /[/\\]dist[/\\].*\.js$/ }, (args) => {
      const text = readFileSync(args.path, 'utf8')
        .replace(/^const require = createRequire\(import\.meta\.url\);$/m, '')
        .replace(/createRequire\(import\.meta\.url\)\(/g, 'require(');
      return { contents: text, loader: 'js' };
    });
  },
};

rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });
mkdirSync(join(root, 'dist', 'bin'), { recursive: true });
const bundle = join(work, 'shadowcat.cjs');
await build({
  entryPoints: [join(root, 'dist', 'cli.js')],
  bundle: true,
  platform: 'node',
  format: 'cjs',
  // The bundle only ever runs on the Node it is injected into: nothing is lowered (esbuild's node20
  // target lowers private members in ways that broke the exchange).
  target: 'esnext',
  outfile: bundle,
  define: { SHADOWCAT_BUNDLED_VERSION: JSON.stringify(version) },
  plugins: [createRequireToRequire],
  // No --single-threaded-gc here: a SEA of Node 20 ignores sea-config's execArgv, and setting
  // the flag at run time (v8.setFlagsFromString) makes V8 abort in its first concurrent
  // marking (measured; README "The single binary").
  logLevel: 'warning',
  // cli.js reads package.json through import.meta only when not bundled (the define above).
  logOverride: { 'empty-import-meta': 'silent' },
});
const config = join(work, 'sea-config.json');
const blob = join(work, 'shadowcat.blob');
// No code cache: with it, Node 20's V8 fails brand checks of static private methods
// ("Receiver must be class ...") on the first connection (measured).
writeFileSync(config, JSON.stringify({ main: bundle, output: blob, disableExperimentalSEAWarning: true, useCodeCache: false }));
execFileSync(process.execPath, ['--experimental-sea-config', config], { stdio: ['ignore', 'ignore', 'inherit'] });
rmSync(out, { force: true });
copyFileSync(process.execPath, out);
// postject (LIEF) warns about note sections it cannot name on Debian's node; the result
// runs. Its output is shown only when it fails.
try {
  execFileSync(process.execPath, [join(root, 'node_modules', 'postject', 'dist', 'cli.js'), out, 'NODE_SEA_BLOB', blob,
    '--sentinel-fuse', 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2'], { stdio: 'pipe' });
} catch (err) {
  process.stderr.write(`${err.stdout ?? ''}${err.stderr ?? ''}`);
  throw err;
}
chmodSync(out, 0o755);
console.log(`built ${out} (${(statSync(out).size / 1048576).toFixed(1)} MiB, bundle ${(statSync(bundle).size / 1024).toFixed(0)} KiB)`);
