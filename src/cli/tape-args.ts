// Command lines of the tape commands: `shadowcat replay TAPE|DIR [--port P] [--host H]
// [--timing recorded|fast] [--stdio] [--log-level L]` and `shadowcat tape show FILE|DIR`.
// Their own small table: they run no proxy, so the proxy's flags do not apply.

import { ConfigError } from '../errors.js';
import type { LogLevel } from '../config.js';
import type { ReplayArgs } from '../tape/replay.js';
import { readFlags, type FlagShape } from './flag-tokens.js';

const REPLAY_FLAGS: ReadonlyMap<string, FlagShape> = new Map([
  ['port', { value: true }], ['host', { value: true }], ['timing', { value: true }], ['log-level', { value: true }], ['stdio', { value: false }],
]);

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
  const read = readFlags(argv, REPLAY_FLAGS, (raw) => `unknown flag ${raw} for replay: try 'shadowcat replay --help'`);
  if (read.help) return 'help';
  const [target, extra] = read.positionals;
  if (extra !== undefined) throw new ConfigError(`unexpected argument '${extra}'`);
  if (read.command !== null && read.command.length > 0) throw new ConfigError(`unexpected argument '${read.command[0]!}'`);
  const one = (name: string): string | undefined => read.flags.get(name)?.[0];
  let port = 8080;
  const portText = one('port');
  if (portText !== undefined) {
    if (!/^\d+$/.test(portText) || Number(portText) > 65535) throw new ConfigError(`invalid --port '${portText}': expected 0..65535`);
    port = Number(portText);
  }
  const timing = one('timing') ?? 'recorded';
  if (timing !== 'recorded' && timing !== 'fast') throw new ConfigError(`invalid --timing '${timing}': expected recorded or fast`);
  const logLevel = one('log-level') ?? 'info';
  if (!LEVELS.includes(logLevel)) throw new ConfigError(`invalid --log-level '${logLevel}': expected one of ${LEVELS.join(', ')}`);
  const stdio = read.flags.has('stdio');
  if (target === undefined) throw new ConfigError('replay needs a tape file or a folder of tapes');
  if (stdio && portText !== undefined) throw new ConfigError('--stdio and --port are two ways to serve: pick one');
  return Object.freeze({ target, host: one('host') ?? '127.0.0.1', port, timing, stdio, logLevel: logLevel as LogLevel });
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
