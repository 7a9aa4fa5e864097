// Command lines of the tape commands: `shadowcat replay TAPE|DIR [--port P] [--host H]
// [--timing recorded|fast] [--stdio] [--log-level L]` and `shadowcat tape show FILE|DIR`.
// Their own small table: they run no proxy, so the proxy's flags do not apply.

import { ConfigError } from '../errors.js';
import type { LogLevel } from '../config.js';
import type { ReplayArgs, Timing } from '../tape/replay.js';

export const REPLAY_HELP = `shadowcat replay — play tapes back as an MCP server (a deterministic fake upstream)

Usage: shadowcat replay TAPE|DIR [--port 8080] [--host 127.0.0.1] [--timing recorded|fast]
       shadowcat replay TAPE|DIR --stdio [--timing recorded|fast]

initialize gets the recorded result (and a fresh session id); each request gets the recorded
answer to the same method and params (params._meta aside), with its recorded notifications
and framing; a call recorded more than once is answered in recorded order. A request the
tapes do not hold gets JSON-RPC error -32601 naming the closest recorded call. Every .jsonl
tape in DIR is one pool of calls.

  --port P                listen port; 0 picks a free one (default 8080)
  --host H                listen address (default 127.0.0.1)
  --timing T              recorded: each message at its recorded delay; fast: at once (default recorded)
  --stdio                 serve on stdin/stdout instead of HTTP
  --log-level L           trace|debug|info|warn|error|fatal|silent (default info; logs go to stderr)
  -h, --help              this help`;

export const TAPE_HELP = `shadowcat tape show FILE|DIR — a tape as a readable timeline

Usage: shadowcat tape show FILE|DIR

Prints time, direction (→ client to server, ← server to client), method, tool, id, latency
and errors of every message; a folder: each of its .jsonl tapes, oldest first. Colours on a
terminal only (NO_COLOR turns them off).`;

const LEVELS: readonly string[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

/** Reads `replay`'s arguments (after the word replay); throws ConfigError. */
export function parseReplayArgs(argv: readonly string[]): ReplayArgs | 'help' {
  let target: string | null = null;
  let host = '127.0.0.1';
  let port = 8080;
  let timing: Timing = 'recorded';
  let stdio = false;
  let logLevel: LogLevel = 'info';
  let portGiven = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '-h' || arg === '--help') return 'help';
    if (!arg.startsWith('--')) {
      if (target !== null) throw new ConfigError(`unexpected argument '${arg}'`);
      target = arg;
      continue;
    }
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq === -1 ? undefined : eq);
    if (name === 'stdio') {
      if (eq !== -1) throw new ConfigError('--stdio takes no value');
      stdio = true;
      continue;
    }
    if (!['port', 'host', 'timing', 'log-level'].includes(name)) throw new ConfigError(`unknown flag --${name} for replay: try 'shadowcat replay --help'`);
    let value: string | undefined;
    if (eq !== -1) value = arg.slice(eq + 1);
    else {
      value = argv[i + 1];
      i++;
    }
    if (value === undefined || value === '' || value.startsWith('--')) throw new ConfigError(`--${name} needs a value`);
    switch (name) {
      case 'port':
        if (!/^\d+$/.test(value) || Number(value) > 65535) throw new ConfigError(`invalid --port '${value}': expected 0..65535`);
        port = Number(value);
        portGiven = true;
        break;
      case 'host': host = value; break;
      case 'timing':
        if (value !== 'recorded' && value !== 'fast') throw new ConfigError(`invalid --timing '${value}': expected recorded or fast`);
        timing = value;
        break;
      case 'log-level':
        if (!LEVELS.includes(value)) throw new ConfigError(`invalid --log-level '${value}': expected one of ${LEVELS.join(', ')}`);
        logLevel = value as LogLevel;
        break;
      default: break;
    }
  }
  if (target === null) throw new ConfigError('replay needs a tape file or a folder of tapes');
  if (stdio && portGiven) throw new ConfigError('--stdio and --port are two ways to serve: pick one');
  return Object.freeze({ target, host, port, timing, stdio, logLevel });
}

/** Reads `tape`'s arguments (after the word tape): the file or folder to show; throws ConfigError. */
export function parseTapeArgs(argv: readonly string[]): { readonly file: string } | 'help' {
  if (argv.includes('-h') || argv.includes('--help')) return 'help';
  const [sub, file, extra] = argv;
  if (sub !== 'show') throw new ConfigError(sub === undefined ? "tape needs a subcommand: 'shadowcat tape show FILE'" : `unknown tape subcommand '${sub}': expected show`);
  if (file === undefined) throw new ConfigError('tape show needs a tape file or a folder of tapes');
  if (extra !== undefined) throw new ConfigError(`unexpected argument '${extra}'`);
  if (file.startsWith('--')) throw new ConfigError(`unknown flag ${file} for tape show`);
  return { file };
}
