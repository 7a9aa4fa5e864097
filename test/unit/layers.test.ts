// The layers of src/ (docs/architecture.md): imports between folders point one way, so no
// folder imports one that imports it back, directly or through others. Read from the
// sources, as a reviewer would.

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

const SRC = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src');

/** Folder → the folders its files import, with one example import each. */
function folderImports(): Map<string, Map<string, string>> {
  const out = new Map<string, Map<string, string>>();
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (name.endsWith('.ts')) {
        const from = relative(SRC, dir).split('/')[0]!;
        if (from === '') continue;
        for (const m of readFileSync(path, 'utf8').matchAll(/from '(\.[^']+)'/g)) {
          const to = relative(SRC, normalize(join(dir, m[1]!))).split('/');
          if (to.length < 2 || to[0] === from) continue;
          if (!out.has(from)) out.set(from, new Map());
          out.get(from)!.set(to[0]!, `${relative(SRC, path)} → ${m[1]}`);
        }
      }
    }
  };
  walk(SRC);
  return out;
}

const layers = suite('layers');
layers('no folder of src/ imports one that imports it back', () => {
  const graph = folderImports();
  const reaches = (a: string, b: string, seen = new Set<string>()): boolean => {
    for (const n of graph.get(a)?.keys() ?? []) {
      if (n === b) return true;
      if (!seen.has(n)) {
        seen.add(n);
        if (reaches(n, b, seen)) return true;
      }
    }
    return false;
  };
  const cycles: string[] = [];
  for (const [a, tos] of graph) for (const [b, example] of tos) if (reaches(b, a)) cycles.push(`${a} → ${b} (${example}) and back`);
  assert.equal(cycles, []);
  assert.ok(graph.size >= 8, 'the walk found the layers');
});
layers('every docs/ section a comment in src/ names exists', () => {
  const missing: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (name.endsWith('.ts')) {
        for (const m of readFileSync(path, 'utf8').matchAll(/docs\/([a-z-]+\.md) "([^"]+)"/g)) {
          const doc = readFileSync(join(SRC, '..', 'docs', m[1]!), 'utf8');
          if (!doc.split('\n').some((line) => line.startsWith('#') && line.includes(m[2]!))) missing.push(`${relative(SRC, path)}: ${m[1]} "${m[2]}"`);
        }
      }
    }
  };
  walk(SRC);
  assert.equal(missing, []);
});
layers.run();
