// Command line → validated, frozen Config, read through the flag table in ../config.ts.
// The only module that interprets argv; it never exits the process itself (cli.ts does),
// so it can be tested in-process. util.parseArgs reads argv (flag-tokens.ts), driven by
// the flag table: a value is taken exactly as typed ("0123" stays a string, "--port -1" is
// a bad port, not an unknown flag "-1").

import { ConfigError } from '../errors.js';
import { buildConfig, FLAGS, flagRow, type Config, type Env, type FlagRow, type FlagValues, type Mode } from '../config.js';
import { readConfigFile } from './config-file.js';
import { readFlags, type FlagShape } from './flag-tokens.js';
import type { ReplayArgs } from '../tape/replay.js';
import { parseReplayArgs, parseTapeArgs, REPLAY_HELP, TAPE_HELP } from './tape-args.js';

/** Every flag of the table, as util.parseArgs is to read it. */
const SHAPES: ReadonlyMap<string, FlagShape> = new Map(FLAGS.map((f) => [f.name, { value: f.arg !== null, repeat: f.repeat === true }]));

/** What the command line asks for: run a proxy, or print help or the version. */
export type Invocation =
  | { readonly kind: 'run'; readonly config: Config }
  | { readonly kind: 'replay'; readonly args: ReplayArgs }
  | { readonly kind: 'tape-show'; readonly file: string }
  | { readonly kind: 'help'; readonly text: string }
  | { readonly kind: 'version'; readonly text: string };

/** The environment the CLI reads: SHADOWCAT_ADMIN_TOKEN, and ${VAR}s named in flag values. */
export type CliEnv = Env;

const USAGE: Readonly<Record<'overview' | Mode, string>> = Object.freeze({
  overview: `shadowcat — a fast forward proxy for MCP traffic (HTTP/1.1, TCP, stdio)

Usage:
  shadowcat forward http  --port 8080 [--host 127.0.0.1] [--url http(s)://upstream:port/path]
                          [--upstream-ca FILE] [--upstream-insecure] [--upstream-header "Name: value"]
                          [--multi-session [--upstream-pool N]] [--workers N|auto] [--policy FILE]
                          [--record DIR] [limits] [--admin-port 9090]
                          [--log-level info]
  shadowcat forward tcp   --port 8080 --upstream host:port [--upstream-tls] [--multi-session] [--workers N] [limits]
  shadowcat forward stdio [--policy FILE] [--record DIR] [--log-level info] [--] <command> [args...]
  shadowcat forward stdio --url URL [--upstream-header "Name: value"] [--recover-sessions] [--policy FILE]
  shadowcat replay TAPE|DIR --port 8080 [--timing recorded|fast] | --stdio
  shadowcat tape show FILE
  shadowcat --help | --version

Run 'shadowcat forward <http|tcp|stdio> --help' for the flags of one mode,
'shadowcat replay --help' and 'shadowcat tape show --help' for the tape commands.`,
  http: `shadowcat forward http — L7 HTTP/1.1 proxy for MCP Streamable HTTP

Usage: shadowcat forward http --port 8080 [--host 127.0.0.1] [--url URL] [--multi-session] [flags]`,
  tcp: `shadowcat forward tcp — L4 byte pipe per connection

Usage: shadowcat forward tcp --port 8080 --upstream host:port [flags]`,
  stdio: `shadowcat forward stdio — proxy a stdio MCP server, or join a stdio client to a remote one

Usage: shadowcat forward stdio [flags] [--] <command> [args...]
       shadowcat forward stdio --url http(s)://server/mcp [flags]

With --url, stdin's JSON-RPC lines go to the remote Streamable HTTP server (its session id
and protocol version on every request, a GET stream for its own messages, DELETE when
stdin ends, then exit 0); each answer is one stdout line, and a request the server cannot
answer gets a JSON-RPC error line.

Spawns <command>, joins our stdin/stdout to the child's, and frames the newline-delimited
JSON-RPC messages on the side for logs and metrics (with --policy, each client line is
judged before it reaches the child). Logs go to stderr. Exits with the child's exit code.
The first argument that is not one of our flags starts the command; \`--\` is optional.`,
});

const GROUP_TITLES = { main: '', limits: 'Limits:', common: 'Common:' } as const;

const HELP_INDENT = 26;
const HELP_WIDTH = 100;

/** `left` padded to the help column, then `text` wrapped at HELP_WIDTH under that column. */
function helpEntry(left: string, text: string): string {
  const lines: string[] = [];
  // A flag too long for the column gets its help on the lines below.
  if (left.length >= HELP_INDENT - 1) lines.push(left);
  let line = left.length >= HELP_INDENT - 1 ? ' '.repeat(HELP_INDENT) : left.padEnd(HELP_INDENT);
  for (const word of text.split(' ')) {
    if (line.length + word.length > HELP_WIDTH && line.trim() !== left.trim() && line.trim() !== '') {
      lines.push(line.trimEnd());
      line = ' '.repeat(HELP_INDENT);
    }
    line += `${word} `;
  }
  lines.push(line.trimEnd());
  return lines.join('\n');
}

function helpLine(f: FlagRow): string {
  const dflt = f.shown === '' ? '' : ` (default ${f.shown})`;
  return helpEntry(`  --${f.name}${f.arg === null ? '' : ` ${f.arg}`}`, `${f.help}${dflt}`);
}

/** The --help text of one mode (or the overview), built from the flag table. */
export function helpText(mode: 'overview' | Mode): string {
  if (mode === 'overview') return USAGE.overview;
  let out = USAGE[mode];
  for (const group of ['main', 'limits', 'common'] as const) {
    const rows = FLAGS.filter((f) => f.group === group && f.modes.includes(mode));
    if (rows.length === 0) continue;
    out += `\n\n${GROUP_TITLES[group] === '' ? '' : `${GROUP_TITLES[group]}\n`}${rows.map(helpLine).join('\n')}`;
  }
  return `${out}\n${helpEntry('  -h, --help', 'this help')}\n${helpEntry('  -v, --version', 'print the version')}`;
}

/** Turns argv (without node and script) into an Invocation; throws ConfigError on bad input. */
export function parseConfig(argv: readonly string[], version: string, env: CliEnv = {}): Invocation {
  // The tape commands run no proxy: their own arguments.
  const first = argv.findIndex((a) => !a.startsWith('-'));
  if (first !== -1 && (argv[first] === 'replay' || argv[first] === 'tape') && !argv.slice(0, first).some((a) => a === '-v' || a === '--version')) {
    const rest = [...argv.slice(0, first), ...argv.slice(first + 1)];
    if (argv[first] === 'replay') {
      const r = parseReplayArgs(rest);
      return r === 'help' ? { kind: 'help', text: REPLAY_HELP } : { kind: 'replay', args: r };
    }
    const t = parseTapeArgs(rest);
    return t === 'help' ? { kind: 'help', text: TAPE_HELP } : { kind: 'tape-show', file: t.file };
  }
  // forward stdio: the first argument that is not a flag starts the command, since
  // launchers (the MCP Inspector among them) drop the `--` a user wrote.
  const read = readFlags(argv, SHAPES, (raw) => `unknown flag ${raw}`, (seen) => seen.length === 2 && seen[0] === 'forward' && seen[1] === 'stdio');
  if (read.version) return { kind: 'version', text: version };
  const given = new Map<FlagRow, string[]>();
  for (const [name, texts] of read.flags) given.set(flagRow(name)!, texts);
  const positional = read.positionals;
  const command = read.command ?? [];
  const wantsHelp = read.help;

  const [verb, modeArg, extra] = positional;
  if (verb === undefined) {
    if (wantsHelp) return { kind: 'help', text: helpText('overview') };
    throw new ConfigError("missing command: try 'shadowcat forward http --help'");
  }
  if (verb !== 'forward') throw new ConfigError(`unknown command '${verb}': try 'shadowcat --help'`);
  if (modeArg === undefined) {
    if (wantsHelp) return { kind: 'help', text: helpText('overview') };
    throw new ConfigError('forward needs a mode: http, tcp or stdio');
  }
  if (modeArg !== 'http' && modeArg !== 'tcp' && modeArg !== 'stdio') {
    throw new ConfigError(`unknown mode '${modeArg}': expected http, tcp or stdio`);
  }
  const mode: Mode = modeArg;
  if (wantsHelp) return { kind: 'help', text: helpText(mode) };
  if (extra !== undefined) throw new ConfigError(`unexpected argument '${extra}'`);

  const configFlag = flagRow('config')!;
  const file = given.get(configFlag)?.[0];
  // The file's values first; a flag on the command line replaces the file's.
  const merged: FlagValues = file === undefined ? new Map() : readConfigFile(file, mode);
  for (const [f, texts] of given) merged.set(f, texts);
  return { kind: 'run', config: buildConfig(mode, merged, env, command) };
}
