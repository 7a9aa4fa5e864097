// Command line → validated, frozen Config. The only module that interprets argv; it
// never exits the process itself (cli.ts does), so it can be tested in-process.

import { cac } from 'cac';
import { ConfigError } from '../errors.js';

/** Which corridor the process runs. */
export type Mode = 'http' | 'tcp' | 'stdio';

/** pino levels accepted by --log-level. */
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';

/** host:port of an upstream. */
export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** Every setting of one proxy process, validated once at start. */
export interface Config {
  readonly mode: Mode;
  readonly host: string;
  readonly port: number;
  /** forward http: the upstream URL; null means "start the embedded demo server". */
  readonly upstreamUrl: URL | null;
  /** forward tcp: the upstream address. */
  readonly upstream: HostPort | null;
  readonly multiSession: boolean;
  readonly maxSessions: number;
  readonly maxPerClient: number;
  readonly sessionTimeoutMs: number;
  readonly headerTimeoutMs: number;
  readonly maxHeaderBytes: number;
  readonly maxBodyBytes: number;
  readonly connectTimeoutMs: number;
  readonly upstreamTimeoutMs: number;
  readonly shutdownTimeoutMs: number;
  readonly inspectLimitBytes: number;
  /** Requests per second per client IP; 0 = no limit. */
  readonly rateLimit: number;
  readonly adminPort: number | null;
  readonly adminHost: string;
  readonly logLevel: LogLevel;
  /** forward stdio: the child command and its arguments. */
  readonly command: readonly string[];
}

/** What the command line asks for: run a proxy, or print help or the version. */
export type Invocation =
  | { readonly kind: 'run'; readonly config: Config }
  | { readonly kind: 'help'; readonly text: string }
  | { readonly kind: 'version'; readonly text: string };

/** Defaults from SPEC.md's limits table. */
export const DEFAULTS = Object.freeze({
  host: '127.0.0.1',
  port: 8080,
  maxSessions: 1000,
  maxPerClient: 100,
  sessionTimeoutS: 300,
  headerTimeoutS: 10,
  maxHeaderBytes: 16384,
  maxBodyBytes: 67108864,
  connectTimeoutS: 5,
  upstreamTimeoutS: 60,
  shutdownTimeoutS: 30,
  inspectLimitBytes: 1048576,
  rateLimit: 0,
  adminHost: '127.0.0.1',
  logLevel: 'info' as LogLevel,
});

const LOG_LEVELS: readonly LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

const LIMIT_HELP = `Limits (forward http and forward tcp):
  --max-sessions N        sessions alive at once (default ${DEFAULTS.maxSessions})
  --max-per-client N      sessions alive at once from one client IP (default ${DEFAULTS.maxPerClient})
  --session-timeout S     close a session idle for S seconds (default ${DEFAULTS.sessionTimeoutS})
  --header-timeout S      time to receive a whole request head (default ${DEFAULTS.headerTimeoutS})
  --max-header-size B     request head size limit (default ${DEFAULTS.maxHeaderBytes})
  --max-body-size B       request body size limit (default ${DEFAULTS.maxBodyBytes})
  --connect-timeout S     time to open the upstream connection (default ${DEFAULTS.connectTimeoutS})
  --upstream-timeout S    time for the upstream to send a response head (default ${DEFAULTS.upstreamTimeoutS})
  --shutdown-timeout S    graceful drain on SIGTERM/SIGINT (default ${DEFAULTS.shutdownTimeoutS})
  --inspect-limit B       (http) largest JSON body the MCP inspector parses; 0 turns it off (default ${DEFAULTS.inspectLimitBytes})
  --rate-limit R          (http) requests per second per client IP, burst R; over it: 429 (default 0 = off)`;

const COMMON_HELP = `Common:
  --admin-port P          serve /healthz, /metrics and /sessions on this port (off by default)
  --admin-host H          admin bind address (default ${DEFAULTS.adminHost})
  --log-level L           trace|debug|info|warn|error|fatal|silent (default info)
  -h, --help              this help
  -v, --version           print the version`;

/** Help text per mode, and the overview. */
export const HELP: Readonly<Record<'overview' | Mode, string>> = Object.freeze({
  overview: `shadowcat — a fast forward proxy for MCP traffic (HTTP/1.1, TCP, stdio)

Usage:
  shadowcat forward http  --port 8080 [--host 127.0.0.1] [--url http://upstream:port/path]
                          [--multi-session] [limits] [--admin-port 9090] [--log-level info]
  shadowcat forward tcp   --port 8080 --upstream host:port [--multi-session] [limits]
  shadowcat forward stdio [--log-level info] -- <command> [args...]
  shadowcat --help | --version

Run 'shadowcat forward <http|tcp|stdio> --help' for the flags of one mode.`,
  http: `shadowcat forward http — L7 HTTP/1.1 proxy for MCP Streamable HTTP

Usage: shadowcat forward http --port 8080 [--host 127.0.0.1] [--url URL] [--multi-session] [flags]

  --port P                listen port (default ${DEFAULTS.port}; 0 picks a free one)
  --host H                listen address (default ${DEFAULTS.host})
  --url URL               upstream, e.g. http://127.0.0.1:3000/mcp; a request for / goes to
                          URL's path. Without --url the embedded demo MCP server is started.
  --multi-session         every client connection is its own session with its own upstream
                          connection (default: one shared upstream link for all clients)

${LIMIT_HELP}

${COMMON_HELP}`,
  tcp: `shadowcat forward tcp — L4 byte pipe per connection

Usage: shadowcat forward tcp --port 8080 --upstream host:port [flags]

  --port P                listen port (default ${DEFAULTS.port}; 0 picks a free one)
  --host H                listen address (default ${DEFAULTS.host})
  --upstream HOST:PORT    where each connection is piped to (required)
  --multi-session         accepted for symmetry: every TCP connection is its own session

${LIMIT_HELP}

${COMMON_HELP}`,
  stdio: `shadowcat forward stdio — proxy a stdio MCP server

Usage: shadowcat forward stdio [--log-level info] [--shutdown-timeout S] -- <command> [args...]

Spawns <command>, joins our stdin/stdout to the child's, and frames the newline-delimited
JSON-RPC messages on the side for logs and metrics. Logs go to stderr. Exits with the
child's exit code.

  --shutdown-timeout S    time the child gets to exit after its stdin closes (default ${DEFAULTS.shutdownTimeoutS})
  --inspect-limit B       longest line the inspector parses (default ${DEFAULTS.inspectLimitBytes})
  --log-level L           trace|debug|info|warn|error|fatal|silent (default info)`,
});

const KNOWN_FLAGS = new Set([
  '--', 'port', 'host', 'url', 'upstream', 'multiSession', 'maxSessions', 'maxPerClient',
  'sessionTimeout', 'headerTimeout', 'maxHeaderSize', 'maxBodySize', 'connectTimeout',
  'upstreamTimeout', 'shutdownTimeout', 'inspectLimit', 'rateLimit', 'adminPort', 'adminHost', 'logLevel',
  'help', 'h', 'version', 'v',
]);

// Flags a mode has no use for: refused rather than silently ignored. (--url and
// --upstream get their own, more helpful messages below.)
const NOT_FOR: Readonly<Record<Mode, ReadonlySet<string>>> = {
  http: new Set(),
  tcp: new Set(['rateLimit', 'inspectLimit']),
  stdio: new Set(['port', 'host', 'multiSession', 'maxSessions', 'maxPerClient', 'sessionTimeout', 'headerTimeout',
    'maxHeaderSize', 'maxBodySize', 'connectTimeout', 'upstreamTimeout', 'rateLimit', 'adminPort', 'adminHost']),
};

/** Turns argv (without node and script) into an Invocation; throws ConfigError on bad input. */
export function parseConfig(argv: readonly string[], version: string): Invocation {
  const cli = cac('shadowcat');
  cli.command('forward <mode> [...rest]', 'forward traffic');
  // Every flag takes a string so that validation below sees what the user typed.
  const parsed = cli.parse(['node', 'shadowcat', ...argv], { run: false });
  const opts = parsed.options as Record<string, unknown>;

  if (opts.version === true || opts.v === true) return { kind: 'version', text: version };
  const [verb, modeArg] = argv[0] === 'forward' ? ['forward', argv[1]] : [argv[0], undefined];
  const wantsHelp = opts.help === true || opts.h === true;
  if (verb === undefined || verb.startsWith('-')) {
    if (wantsHelp) return { kind: 'help', text: HELP.overview };
    throw new ConfigError("missing command: try 'shadowcat forward http --help'");
  }
  if (verb !== 'forward') throw new ConfigError(`unknown command '${verb}': try 'shadowcat --help'`);
  if (modeArg === undefined || modeArg.startsWith('-')) {
    if (wantsHelp) return { kind: 'help', text: HELP.overview };
    throw new ConfigError('forward needs a mode: http, tcp or stdio');
  }
  if (modeArg !== 'http' && modeArg !== 'tcp' && modeArg !== 'stdio') {
    throw new ConfigError(`unknown mode '${modeArg}': expected http, tcp or stdio`);
  }
  const mode: Mode = modeArg;
  if (wantsHelp) return { kind: 'help', text: HELP[mode] };

  for (const key of Object.keys(opts)) {
    if (!KNOWN_FLAGS.has(key)) throw new ConfigError(`unknown flag --${kebab(key)}`);
    if (NOT_FOR[mode].has(key)) throw new ConfigError(`--${kebab(key)} does not apply to forward ${mode}`);
  }
  if (parsed.args.length > 1) throw new ConfigError(`unexpected argument '${String(parsed.args[1])}'`);

  const command = (opts['--'] as string[] | undefined) ?? [];
  if (mode === 'stdio' && command.length === 0) throw new ConfigError('forward stdio needs a command after --');
  if (mode !== 'stdio' && command.length > 0) throw new ConfigError(`forward ${mode} takes no command after --`);

  let upstreamUrl: URL | null = null;
  let upstream: HostPort | null = null;
  if (opts.url !== undefined) {
    if (mode !== 'http') throw new ConfigError('--url is for forward http; use --upstream for tcp');
    upstreamUrl = parseUrl(opts.url);
  }
  if (mode === 'tcp') {
    if (opts.upstream === undefined) throw new ConfigError('forward tcp needs --upstream host:port');
    upstream = parseHostPort('--upstream', opts.upstream);
  } else if (opts.upstream !== undefined) {
    throw new ConfigError('--upstream is for forward tcp; use --url for forward http');
  }

  const logLevel = str('--log-level', opts.logLevel, DEFAULTS.logLevel);
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    throw new ConfigError(`invalid --log-level '${logLevel}': expected one of ${LOG_LEVELS.join(', ')}`);
  }
  if (opts.multiSession !== undefined && typeof opts.multiSession !== 'boolean') {
    throw new ConfigError('--multi-session takes no value');
  }

  const config: Config = {
    mode,
    host: str('--host', opts.host, DEFAULTS.host),
    port: int('--port', opts.port, DEFAULTS.port, 0, 65535),
    upstreamUrl,
    upstream,
    multiSession: opts.multiSession === true,
    maxSessions: int('--max-sessions', opts.maxSessions, DEFAULTS.maxSessions, 1, 10_000_000),
    maxPerClient: int('--max-per-client', opts.maxPerClient, DEFAULTS.maxPerClient, 1, 10_000_000),
    sessionTimeoutMs: seconds('--session-timeout', opts.sessionTimeout, DEFAULTS.sessionTimeoutS),
    headerTimeoutMs: seconds('--header-timeout', opts.headerTimeout, DEFAULTS.headerTimeoutS),
    maxHeaderBytes: int('--max-header-size', opts.maxHeaderSize, DEFAULTS.maxHeaderBytes, 256, 1 << 24),
    maxBodyBytes: int('--max-body-size', opts.maxBodySize, DEFAULTS.maxBodyBytes, 0, Number.MAX_SAFE_INTEGER),
    connectTimeoutMs: seconds('--connect-timeout', opts.connectTimeout, DEFAULTS.connectTimeoutS),
    upstreamTimeoutMs: seconds('--upstream-timeout', opts.upstreamTimeout, DEFAULTS.upstreamTimeoutS),
    shutdownTimeoutMs: seconds('--shutdown-timeout', opts.shutdownTimeout, DEFAULTS.shutdownTimeoutS, true),
    inspectLimitBytes: int('--inspect-limit', opts.inspectLimit, DEFAULTS.inspectLimitBytes, 0, 1 << 30),
    rateLimit: int('--rate-limit', opts.rateLimit, DEFAULTS.rateLimit, 0, 10_000_000),
    adminPort: opts.adminPort === undefined ? null : int('--admin-port', opts.adminPort, 0, 0, 65535),
    adminHost: str('--admin-host', opts.adminHost, DEFAULTS.adminHost),
    logLevel: logLevel as LogLevel,
    command: Object.freeze([...command]),
  };
  return { kind: 'run', config: Object.freeze(config) };
}

/** Builds a Config for in-process use (tests, embedding) from defaults plus overrides. */
export function makeConfig(overrides: Partial<Config> & Pick<Config, 'mode'>): Config {
  return Object.freeze({
    host: DEFAULTS.host,
    port: 0,
    upstreamUrl: null,
    upstream: null,
    multiSession: false,
    maxSessions: DEFAULTS.maxSessions,
    maxPerClient: DEFAULTS.maxPerClient,
    sessionTimeoutMs: DEFAULTS.sessionTimeoutS * 1000,
    headerTimeoutMs: DEFAULTS.headerTimeoutS * 1000,
    maxHeaderBytes: DEFAULTS.maxHeaderBytes,
    maxBodyBytes: DEFAULTS.maxBodyBytes,
    connectTimeoutMs: DEFAULTS.connectTimeoutS * 1000,
    upstreamTimeoutMs: DEFAULTS.upstreamTimeoutS * 1000,
    shutdownTimeoutMs: DEFAULTS.shutdownTimeoutS * 1000,
    inspectLimitBytes: DEFAULTS.inspectLimitBytes,
    rateLimit: DEFAULTS.rateLimit,
    adminPort: null,
    adminHost: DEFAULTS.adminHost,
    logLevel: 'silent' as LogLevel,
    command: [],
    ...overrides,
  });
}

function kebab(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

function str(flag: string, value: unknown, fallback: string): string {
  if (value === undefined) return fallback;
  if (typeof value === 'boolean' || Array.isArray(value) || String(value) === '') {
    throw new ConfigError(`${flag} needs a value`);
  }
  return String(value);
}

function int(flag: string, value: unknown, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  const text = str(flag, value, '');
  if (!/^\d+$/.test(text)) throw new ConfigError(`invalid ${flag} '${text}': expected a whole number`);
  const n = Number(text);
  if (n < min || n > max) throw new ConfigError(`invalid ${flag} '${text}': expected ${min}..${max}`);
  return n;
}

function seconds(flag: string, value: unknown, fallbackS: number, allowZero = false): number {
  if (value === undefined) return fallbackS * 1000;
  const text = str(flag, value, '');
  if (!/^\d+(\.\d+)?$/.test(text)) throw new ConfigError(`invalid ${flag} '${text}': expected seconds, e.g. 30 or 0.5`);
  const ms = Math.round(Number(text) * 1000);
  if (ms < (allowZero ? 0 : 1) || ms > 2_147_483_647) throw new ConfigError(`invalid ${flag} '${text}': out of range`);
  return ms;
}

function parseUrl(value: unknown): URL {
  const text = str('--url', value, '');
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ConfigError(`invalid --url '${text}': not a URL`);
  }
  if (url.protocol !== 'http:') throw new ConfigError(`invalid --url '${text}': only http:// upstreams are supported`);
  if (url.hostname === '') throw new ConfigError(`invalid --url '${text}': no host`);
  return url;
}

function parseHostPort(flag: string, value: unknown): HostPort {
  const text = str(flag, value, '');
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:\s]+):(\d{1,5})$/.exec(text);
  if (m === null) throw new ConfigError(`invalid ${flag} '${text}': expected host:port`);
  const port = Number(m[2]);
  if (port < 1 || port > 65535) throw new ConfigError(`invalid ${flag} '${text}': port out of range`);
  const host = m[1]!.startsWith('[') ? m[1]!.slice(1, -1) : m[1]!;
  return Object.freeze({ host, port });
}
