// --config FILE: any flag by its long name, in JSON or YAML (by extension). A `policy:`
// section may hold the rules themselves (then the file is also the policy file, watched and
// reloaded as one); `policy: FILE` names a rule file. Relative FILE values are read from
// the config file's folder. Unknown keys and bad values are errors naming the key.

import { dirname, resolve } from 'node:path';
import { readDataFile } from '../data-file.js';
import { flagRow, flagTexts, type FlagValues, type Mode } from '../config.js';
import { ConfigError } from '../errors.js';

/** The flag values a config file gives for `mode`; throws ConfigError naming the file and key. */
export function readConfigFile(file: string, mode: Mode): FlagValues {
  const doc = readDataFile(file, 'config');
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new ConfigError(`config ${file}: expected an object of flags by their long names`);
  const out: FlagValues = new Map();
  for (const [key, value] of Object.entries(doc)) {
    const where = `config ${file}: ${key}`;
    const f = key === 'config' ? undefined : flagRow(key);
    if (f === undefined) throw new ConfigError(`config ${file}: unknown key '${key}' (keys are flags' long names, e.g. max-sessions)`);
    if (!f.modes.includes(mode)) throw new ConfigError(`${where}: does not apply to forward ${mode}`);
    if (key === 'policy' && typeof value === 'object' && value !== null && !Array.isArray(value)) {
      // The rules are in this file: it is the policy file too.
      out.set(f, [file]);
      continue;
    }
    const texts = flagTexts(f, value, where);
    out.set(f, f.arg === 'FILE' ? texts.map((t) => resolve(dirname(file), t)) : texts);
  }
  return out;
}
