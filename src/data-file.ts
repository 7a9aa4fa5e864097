// Settings files (--config, --policy): JSON or YAML by extension, read whole, YAML with
// unique keys. Below every layer, like config.ts: both the CLI and the policy read them.

import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from './errors.js';

/** The parsed document of a .json, .yaml or .yml file; `what` ('config', 'policy') names it in errors. */
export function readDataFile(file: string, what: string): unknown {
  const ext = extname(file).toLowerCase();
  if (ext !== '.json' && ext !== '.yaml' && ext !== '.yml') throw new ConfigError(`${what} ${file}: expected a .json, .yaml or .yml file`);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`${what} ${file}: cannot read it: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  try {
    return ext === '.json' ? JSON.parse(text) : parseYaml(text, { uniqueKeys: true });
  } catch (err) {
    throw new ConfigError(`${what} ${file}: not valid ${ext === '.json' ? 'JSON' : 'YAML'}: ${String((err as Error).message).split('\n')[0]}`);
  }
}
