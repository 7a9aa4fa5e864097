// argv read by Node's util.parseArgs, in its lenient mode (a value is taken exactly as
// typed, so "--port -1" is a bad port and "0123" stays a string), then checked here so
// every refusal is one of ours: an unknown flag, a switch given a value, a flag without a
// value, a flag given twice. Reading stops at `--`, or where `stopAt` says a command begins.

import { parseArgs } from 'node:util';
import { ConfigError } from '../errors.js';

/** How a flag is written: with a value or as a switch, once or repeatable. */
export interface FlagShape {
  readonly value: boolean;
  readonly repeat?: boolean;
}

/** What a command line holds. */
export interface ReadFlags {
  /** Values per flag name, in order (a switch: ''). */
  readonly flags: Map<string, string[]>;
  readonly positionals: string[];
  /** The words after `--` or from where `stopAt` said a command starts; null when there were none. */
  readonly command: string[] | null;
  readonly help: boolean;
  readonly version: boolean;
}

/**
 * Reads `argv` against `shapes` (long names without dashes). `unknown` makes the message for
 * a flag it does not know; `stopAt` is asked before each positional, with those read so far.
 */
export function readFlags(
  argv: readonly string[],
  shapes: ReadonlyMap<string, FlagShape>,
  unknown: (raw: string) => string,
  stopAt: (positionals: readonly string[]) => boolean = () => false,
): ReadFlags {
  const options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }> = {
    help: { type: 'boolean', short: 'h' },
    version: { type: 'boolean', short: 'v' },
  };
  for (const [name, shape] of shapes) options[name] = { type: shape.value ? 'string' : 'boolean', multiple: true };
  const { tokens } = parseArgs({ args: [...argv], options, strict: false, allowPositionals: true, tokens: true });
  const flags = new Map<string, string[]>();
  const positionals: string[] = [];
  let command: string[] | null = null;
  let help = false;
  let version = false;
  for (const t of tokens) {
    if (t.kind === 'option-terminator') {
      command = argv.slice(t.index + 1);
      break;
    }
    if (t.kind === 'positional') {
      if (stopAt(positionals)) {
        command = argv.slice(t.index);
        break;
      }
      positionals.push(t.value);
      continue;
    }
    const raw = argv[t.index]!;
    if (raw === '-h' || raw === '--help') {
      help = true;
      continue;
    }
    if (raw === '-v' || raw === '--version') {
      // As soon as it is seen: what follows is not read.
      version = true;
      break;
    }
    const shape = t.rawName.startsWith('--') ? shapes.get(t.name) : undefined;
    if (shape === undefined) throw new ConfigError(unknown(t.rawName.startsWith('--') ? `--${t.name}` : raw));
    const seen = flags.get(t.name);
    if (seen !== undefined && shape.repeat !== true) throw new ConfigError(`--${t.name} given twice`);
    let value = '';
    if (!shape.value) {
      if (t.inlineValue === true) throw new ConfigError(`--${t.name} takes no value`);
    } else {
      // A value may start with one dash (a negative number is a bad value, not a flag), not two.
      if (t.value === undefined || t.value === '' || (t.inlineValue !== true && t.value.startsWith('--'))) throw new ConfigError(`--${t.name} needs a value`);
      value = t.value;
    }
    flags.set(t.name, [...(seen ?? []), value]);
  }
  return { flags, positionals, command, help, version };
}
