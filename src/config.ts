// Every setting of a proxy process, from one table of flags: the CLI parser, its help,
// its per-mode refusals and the in-process defaults (makeConfig) all derive from FLAGS,
// so a new flag is one row. Sits below every layer that reads Config; imports only errors.

import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { ConfigError } from './errors.js';
import { publicUrl, publicUrlText } from './upstream/public-url.js';

/** Which corridor the process runs. */
export type Mode = 'http' | 'tcp' | 'stdio';

/** pino levels accepted by --log-level. */
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';

/** host:port of an upstream. */
export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** A header line added to every request sent upstream (--upstream-header). */
export interface HeaderLine {
  readonly name: string;
  readonly value: string;
}

/** Environment variables a flag value may name as ${VAR}. */
export type Env = Readonly<Record<string, string | undefined>>;

/** Every setting of one proxy process, validated once at start. */
export interface Config {
  readonly mode: Mode;
  readonly host: string;
  readonly port: number;
  /** forward http: the upstream URL; null means "start the embedded demo server". */
  readonly upstreamUrl: URL | null;
  /** forward tcp: the upstream address. */
  readonly upstream: HostPort | null;
  /** forward tcp: speak TLS to the upstream. (forward http: an https:// --url.) */
  readonly upstreamTls: boolean;
  /** PEM certificates trusted for the upstream besides Node's CA store. */
  readonly upstreamCa: string | null;
  /** Skip certificate verification of a TLS upstream. */
  readonly upstreamInsecure: boolean;
  /** Added to (or replacing) headers of every request sent upstream; values are secrets. */
  readonly upstreamHeaders: readonly HeaderLine[];
  readonly multiSession: boolean;
  /** --workers: processes sharing the listening socket (1 = this process serves alone). */
  readonly workers: number;
  /** --upstream-pool: idle upstream connections shared by multi-session's sessions; 0 = each session dials its own. */
  readonly upstreamPool: number;
  readonly maxSessions: number;
  readonly maxPerClient: number;
  readonly sessionTimeoutMs: number;
  readonly headerTimeoutMs: number;
  readonly maxHeaderBytes: number;
  readonly maxBodyBytes: number;
  /** Longest gap allowed between two pieces of a request body. */
  readonly bodyTimeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly upstreamTimeoutMs: number;
  readonly shutdownTimeoutMs: number;
  readonly inspectLimitBytes: number;
  /** Requests per second per client IP; 0 = no limit. */
  readonly rateLimit: number;
  /** --policy: the rule file (read, validated and watched by the app), or null. */
  readonly policyFile: string | null;
  /** --record: the folder tapes are written to, or null. */
  readonly recordDir: string | null;
  /** Tape bytes the recorder may queue for the disk before it drops messages. */
  readonly recordQueueBytes: number;
  /** --recover-sessions: re-run a session's handshake when the upstream forgets it. */
  readonly recoverSessions: boolean;
  /** --upstream-transport: how a remote server (--url) is spoken to. */
  readonly upstreamTransport: UpstreamTransport;
  /** --allowed-origins: browser origins allowed besides the defaults ('*': any). */
  readonly allowedOrigins: readonly string[];
  /** --allowed-hosts: Host names allowed besides the defaults ('*': any). */
  readonly allowedHosts: readonly string[];
  /** --auth-keys: the API key file; null: no key needed. */
  readonly authKeys: string | null;
  /** --auth-jwt: bearer JWTs verified against --auth-jwks (with --auth-issuer and --auth-audience). */
  readonly authJwt: boolean;
  /** --auth-jwks: the JSON Web Key Set, an https URL or a file; null when not given. */
  readonly authJwks: string | null;
  /** --auth-issuer: the `iss` a token must carry, and the authorization server clients are sent to. */
  readonly authIssuer: string | null;
  /** --auth-audience: the `aud` a token must carry (this proxy's resource). */
  readonly authAudience: string | null;
  /** --auth-scopes: scopes every token must carry (403 insufficient_scope without). */
  readonly authScopes: readonly string[];
  /** --forward-client-auth: pass the client's Authorization and X-API-Key on to the upstream. */
  readonly forwardClientAuth: boolean;
  /** --cors: answer preflights from allowed origins and expose Mcp-Session-Id to them. */
  readonly cors: boolean;
  /** --serve-sse: also serve the legacy HTTP+SSE transport (GET /sse, POST /message) to old clients. */
  readonly serveSse: boolean;
  /** --config: the file the other settings were read from, or null. */
  readonly configFile: string | null;
  readonly adminPort: number | null;
  readonly adminHost: string;
  /** Bearer token every admin request must carry; null = no check (loopback only). */
  readonly adminToken: string | null;
  readonly logLevel: LogLevel;
  /** forward stdio, and forward http with a stdio server behind it: the child command and its arguments. */
  readonly command: readonly string[];
  /** A stdio server behind HTTP, --multi-session: children kept ready. */
  readonly stdioPool: number;
  /** A stdio server behind HTTP: messages kept per session for GET streams and Last-Event-ID. */
  readonly eventBuffer: number;
}

/** Where a flag is listed in --help. */
type Group = 'main' | 'limits' | 'common';

/** One row of the flag table. */
export interface FlagRow {
  /** Long flag name without dashes, kebab-case. */
  readonly name: string;
  /** The Config field it sets. */
  readonly key: keyof Config;
  /** Placeholder of its value in --help; null for a switch that takes no value. */
  readonly arg: string | null;
  readonly modes: readonly Mode[];
  readonly group: Group;
  readonly help: string;
  /** The Config value when the flag is absent. */
  readonly fallback: unknown;
  /** How --help shows the default; '' shows none. */
  readonly shown: string;
  /** Turns the typed text into the Config value; throws ConfigError naming the flag. */
  read(text: string, env: Env): unknown;
  /** May be given more than once: the Config value is the list of every value. */
  readonly repeat?: boolean;
  /** Said when the flag is given to a mode it does not apply to. */
  readonly hint?: string;
}

const LOG_LEVELS: readonly LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];
const NETWORK: readonly Mode[] = ['http', 'tcp'];
const HTTP: readonly Mode[] = ['http'];
const ALL: readonly Mode[] = ['http', 'tcp', 'stdio'];
/** What joins a remote MCP server: forward http, and forward stdio with --url. */
const REMOTE: readonly Mode[] = ['http', 'stdio'];

function int(flag: string, min: number, max: number): (text: string) => number {
  return (text) => {
    if (!/^\d+$/.test(text)) throw new ConfigError(`invalid --${flag} '${text}': expected a whole number`);
    const n = Number(text);
    if (n < min || n > max) throw new ConfigError(`invalid --${flag} '${text}': expected ${min}..${max}`);
    return n;
  };
}

function seconds(flag: string, allowZero = false): (text: string) => number {
  return (text) => {
    if (!/^\d+(\.\d+)?$/.test(text)) throw new ConfigError(`invalid --${flag} '${text}': expected seconds, e.g. 30 or 0.5`);
    const ms = Math.round(Number(text) * 1000);
    if (ms < (allowZero ? 0 : 1) || ms > 2_147_483_647) throw new ConfigError(`invalid --${flag} '${text}': out of range`);
    return ms;
  };
}

function nonEmpty(flag: string): (text: string) => string {
  return (t) => {
    if (t === '') throw new ConfigError(`--${flag} needs a value`);
    return t;
  };
}

/** A comma-separated list (empty items dropped); each item checked by `ok`. */
function list(flag: string, ok: RegExp, what: string): (text: string) => readonly string[] {
  return (t) => {
    const items = t.split(',').map((x) => x.trim()).filter((x) => x !== '');
    if (items.length === 0) throw new ConfigError(`--${flag} needs a value`);
    for (const x of items) if (x !== '*' && !ok.test(x)) throw new ConfigError(`invalid --${flag} entry '${x}': expected ${what}`);
    return Object.freeze(items);
  };
}

function text(): (text: string) => string {
  return (t) => t;
}

function parseUrl(t: string): URL {
  let url: URL;
  try {
    url = new URL(t);
  } catch {
    throw new ConfigError(`invalid --url '${publicUrlText(t)}': not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConfigError(`invalid --url '${publicUrl(url)}': expected http:// or https://`);
  if (url.hostname === '') throw new ConfigError(`invalid --url '${publicUrl(url)}': no host`);
  return url;
}

function parseHostPort(t: string): HostPort {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:\s]+):(\d{1,5})$/.exec(t);
  if (m === null) throw new ConfigError(`invalid --upstream '${t}': expected host:port`);
  const port = Number(m[2]);
  if (port < 1 || port > 65535) throw new ConfigError(`invalid --upstream '${t}': port out of range`);
  const host = m[1]!.startsWith('[') ? m[1]!.slice(1, -1) : m[1]!;
  return Object.freeze({ host, port });
}

/** How a remote MCP server is spoken to: Streamable HTTP, the legacy HTTP+SSE transport (2024-11-05), or the first falling back to the second. */
export type UpstreamTransport = 'streamable' | 'sse' | 'auto';

function parseUpstreamTransport(t: string): UpstreamTransport {
  if (t !== 'streamable' && t !== 'sse' && t !== 'auto') throw new ConfigError(`invalid --upstream-transport '${t}': expected streamable, sse or auto`);
  return t;
}

function parseLogLevel(t: string): LogLevel {
  if (!(LOG_LEVELS as readonly string[]).includes(t)) {
    throw new ConfigError(`invalid --log-level '${t}': expected one of ${LOG_LEVELS.join(', ')}`);
  }
  return t as LogLevel;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Headers the proxy frames or routes by itself: an injected value would desynchronise it. */
const NOT_INJECTABLE = new Set(['host', 'content-length', 'transfer-encoding', 'connection', 'keep-alive', 'proxy-connection',
  'te', 'trailer', 'upgrade', 'expect']);

/** "Name: value" with ${VAR} taken from the environment; an unset VAR is a start error. */
function parseHeaderLine(t: string, env: Env): HeaderLine {
  const colon = t.indexOf(':');
  const name = colon === -1 ? '' : t.slice(0, colon).trim();
  // The value is never echoed back: it may hold a token.
  if (!TOKEN.test(name)) throw new ConfigError(`invalid --upstream-header: expected "Name: value" with a token for a name`);
  if (NOT_INJECTABLE.has(name.toLowerCase())) throw new ConfigError(`invalid --upstream-header ${name}: the proxy sets that header itself`);
  const value = t.slice(colon + 1).trim().replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_m, v: string) => {
    const got = env[v];
    if (got === undefined) throw new ConfigError(`--upstream-header ${name}: environment variable ${v} is not set`);
    return got;
  });
  if (/[\x00-\x08\x0a-\x1f\x7f]/.test(value)) throw new ConfigError(`invalid --upstream-header ${name}: control characters in the value`);
  return Object.freeze({ name, value });
}

function readPem(file: string): string {
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read --upstream-ca '${file}': ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw new ConfigError(`invalid --upstream-ca '${file}': no PEM certificate in it`);
  return pem;
}

type Row = Omit<FlagRow, 'shown' | 'read'> & { shown?: string; read?: (text: string, env: Env) => unknown };

function row(r: Row): FlagRow {
  const shown = r.shown ?? (r.fallback === null || r.fallback === false ? '' : String(r.fallback));
  const read = r.read ?? ((): boolean => true);
  return Object.freeze({ ...r, shown, read });
}

const S = 1000;

/** Every flag, in --help order. */
export const FLAGS: readonly FlagRow[] = Object.freeze([
  row({ name: 'port', key: 'port', arg: 'P', modes: NETWORK, group: 'main', fallback: 8080, help: 'listen port; 0 picks a free one', read: int('port', 0, 65535) }),
  row({ name: 'host', key: 'host', arg: 'H', modes: NETWORK, group: 'main', fallback: '127.0.0.1', help: 'listen address', read: text() }),
  row({ name: 'url', key: 'upstreamUrl', arg: 'URL', modes: REMOTE, group: 'main', fallback: null, read: parseUrl,
    help: 'upstream, http:// or https://, e.g. http://127.0.0.1:3000/mcp; a request for / goes to its path (none: the embedded demo server); forward stdio: the remote server stdin is joined to, instead of a command',
    hint: 'use --upstream host:port for forward tcp' }),
  row({ name: 'upstream', key: 'upstream', arg: 'HOST:PORT', modes: ['tcp'], group: 'main', fallback: null, read: parseHostPort,
    help: 'where each connection is piped to (required)', hint: 'use --url for forward http' }),
  row({ name: 'upstream-tls', key: 'upstreamTls', arg: null, modes: ['tcp'], group: 'main', fallback: false,
    help: 'speak TLS to the upstream (certificate checked against its host)', hint: 'forward http speaks TLS to an https:// --url' }),
  row({ name: 'upstream-ca', key: 'upstreamCa', arg: 'FILE', modes: ALL, group: 'main', fallback: null, read: (t) => readPem(t),
    help: 'PEM certificates trusted for a TLS upstream (and a key set fetched over https), besides Node\'s CA store' }),
  row({ name: 'upstream-insecure', key: 'upstreamInsecure', arg: null, modes: ALL, group: 'main', fallback: false,
    help: 'do not verify a TLS upstream\'s certificate (a warning at start and in /healthz)' }),
  row({ name: 'upstream-header', key: 'upstreamHeaders', arg: '"NAME: VALUE"', modes: REMOTE, group: 'main', fallback: Object.freeze([]), shown: '',
    repeat: true, read: parseHeaderLine,
    help: 'add or replace a header on every request sent upstream (repeatable); ${VAR} is read from the environment; never logged' }),
  row({ name: 'recover-sessions', key: 'recoverSessions', arg: null, modes: REMOTE, group: 'main', fallback: false,
    help: 'when the upstream answers 404 (or the SDK examples\' 400 about the session id) for an MCP session it had initialised, re-run its handshake and retry, mapping the new session id to the client\'s' }),
  row({ name: 'upstream-transport', key: 'upstreamTransport', arg: 'streamable|sse|auto', modes: REMOTE, group: 'main', fallback: 'streamable', read: parseUpstreamTransport,
    help: 'how the --url server is spoken to: Streamable HTTP, the legacy HTTP+SSE transport (GET the SSE URL, POST to the endpoint it names; forward http then serves it to clients as Streamable HTTP), or auto: Streamable HTTP, falling back to SSE when the first initialize gets a 4xx' }),
  row({ name: 'serve-sse', key: 'serveSse', arg: null, modes: HTTP, group: 'main', fallback: false,
    help: 'also serve old clients the legacy HTTP+SSE transport: GET /sse opens a session and names /message?sessionId=… for its POSTs; in front of any upstream (runs the message bridge)' }),
  row({ name: 'multi-session', key: 'multiSession', arg: null, modes: NETWORK, group: 'main', fallback: false,
    help: 'every client connection is its own session with its own upstream connection (http default: one shared link)' }),
  row({ name: 'workers', key: 'workers', arg: 'N|auto', modes: NETWORK, group: 'main', fallback: 1, shown: '1',
    help: 'worker processes sharing the listening socket (auto: one per CPU); this process keeps the admin API and restarts a worker that dies',
    read: (t) => (t === 'auto' ? Math.max(1, availableParallelism()) : int('workers', 1, 1024)(t)) }),
  row({ name: 'upstream-pool', key: 'upstreamPool', arg: 'N', modes: HTTP, group: 'main', fallback: 0, shown: '0 = off',
    help: 'with --multi-session: keep up to N idle upstream connections and lend them to any session\'s next request (one request at a time each)',
    read: int('upstream-pool', 0, 100_000) }),
  row({ name: 'stdio-pool', key: 'stdioPool', arg: 'N', modes: HTTP, group: 'main', fallback: 0, shown: '0 = off',
    help: 'a stdio server behind HTTP (-- <command>), with --multi-session: keep N children started and ready, so an initialize does not wait for a process to start',
    read: int('stdio-pool', 0, 1000) }),
  row({ name: 'event-buffer', key: 'eventBuffer', arg: 'N', modes: HTTP, group: 'main', fallback: 100,
    help: 'a stdio server behind HTTP: messages kept per session for a GET stream that is not open and for Last-Event-ID resumption (oldest dropped past it)',
    read: int('event-buffer', 0, 100_000) }),
  row({ name: 'allowed-origins', key: 'allowedOrigins', arg: 'LIST', modes: HTTP, group: 'main', fallback: Object.freeze([]), shown: 'loopback origins on a loopback address, else none',
    read: list('allowed-origins', /^[a-z][a-z0-9+.-]*:\/\/(\[[0-9a-fA-F:.]+\]|[^/:@[\]\s]+)(:\d{1,5})?\/?$/i, 'scheme://host[:port]'),
    help: 'browser origins (comma-separated, * for any) whose requests are served; any other Origin gets 403' }),
  row({ name: 'allowed-hosts', key: 'allowedHosts', arg: 'LIST', modes: HTTP, group: 'main', fallback: Object.freeze([]), shown: 'loopback names on a loopback address, else any',
    read: list('allowed-hosts', /^(\[[0-9a-fA-F:.]+\]|[^/:@[\]\s]+)(:\d{1,5})?$/, 'host or host:port'),
    help: 'Host names (comma-separated, host or host:port, * for any) the proxy answers to; any other Host gets 403 (DNS rebinding)' }),
  row({ name: 'auth-keys', key: 'authKeys', arg: 'FILE', modes: HTTP, group: 'main', fallback: null, shown: 'none', read: nonEmpty('auth-keys'),
    help: 'API keys (JSON or YAML: keys: [{name, key | sha256}]) a client must present as Authorization: Bearer KEY or X-API-Key: KEY (else 401); reloaded when the file changes or on SIGHUP' }),
  row({ name: 'auth-jwt', key: 'authJwt', arg: null, modes: HTTP, group: 'main', fallback: false,
    help: 'require a bearer JWT (Authorization: Bearer TOKEN) signed by a key of --auth-jwks, from --auth-issuer, for --auth-audience (else 401); asymmetric algorithms only, 60 s clock skew' }),
  row({ name: 'auth-jwks', key: 'authJwks', arg: 'URL|FILE', modes: HTTP, group: 'main', fallback: null, shown: 'none', read: nonEmpty('auth-jwks'),
    help: 'with --auth-jwt: the issuer\'s key set, an https:// URL (fetched with the upstream TLS options, cached, fetched again for an unknown key id at most once a minute) or a file (reloaded on change and SIGHUP)' }),
  row({ name: 'auth-issuer', key: 'authIssuer', arg: 'URL', modes: HTTP, group: 'main', fallback: null, shown: 'none', read: nonEmpty('auth-issuer'),
    help: 'with --auth-jwt: the iss a token must carry; named as the authorization server in /.well-known/oauth-protected-resource' }),
  row({ name: 'auth-audience', key: 'authAudience', arg: 'AUD', modes: HTTP, group: 'main', fallback: null, shown: 'none', read: nonEmpty('auth-audience'),
    help: 'with --auth-jwt: the aud a token must carry (this proxy\'s resource identifier)' }),
  row({ name: 'auth-scopes', key: 'authScopes', arg: 'LIST', modes: HTTP, group: 'main', fallback: Object.freeze([]), shown: 'none',
    read: list('auth-scopes', /^[\x21\x23-\x5b\x5d-\x7e]+$/, 'a scope token'),
    help: 'with --auth-jwt: scopes (comma-separated) every token must carry in scope or scp; a token without them gets 403 insufficient_scope' }),
  row({ name: 'forward-client-auth', key: 'forwardClientAuth', arg: null, modes: HTTP, group: 'main', fallback: false,
    help: 'pass the client\'s Authorization and X-API-Key headers on to the upstream (by default they are removed: credentials for the upstream come from --upstream-header)' }),
  row({ name: 'cors', key: 'cors', arg: null, modes: HTTP, group: 'main', fallback: false,
    help: 'answer CORS preflights (OPTIONS) from allowed origins and expose Mcp-Session-Id to browser clients' }),
  row({ name: 'max-sessions', key: 'maxSessions', arg: 'N', modes: NETWORK, group: 'limits', fallback: 1000, help: 'sessions alive at once', read: int('max-sessions', 1, 10_000_000) }),
  row({ name: 'max-per-client', key: 'maxPerClient', arg: 'N', modes: NETWORK, group: 'limits', fallback: 100, help: 'sessions alive at once from one client IP (from one caller, once a key or token named it)', read: int('max-per-client', 1, 10_000_000) }),
  row({ name: 'session-timeout', key: 'sessionTimeoutMs', arg: 'S', modes: NETWORK, group: 'limits', fallback: 300 * S, shown: '300', help: 'close a session idle for S seconds', read: seconds('session-timeout') }),
  row({ name: 'header-timeout', key: 'headerTimeoutMs', arg: 'S', modes: NETWORK, group: 'limits', fallback: 10 * S, shown: '10', help: 'time to receive a whole request head', read: seconds('header-timeout') }),
  row({ name: 'body-timeout', key: 'bodyTimeoutMs', arg: 'S', modes: HTTP, group: 'limits', fallback: 30 * S, shown: '30', help: 'longest gap between two pieces of a request body (408)', read: seconds('body-timeout') }),
  row({ name: 'max-header-size', key: 'maxHeaderBytes', arg: 'B', modes: NETWORK, group: 'limits', fallback: 16384, help: 'request head size limit', read: int('max-header-size', 256, 1 << 24) }),
  row({ name: 'max-body-size', key: 'maxBodyBytes', arg: 'B', modes: NETWORK, group: 'limits', fallback: 67108864, help: 'request body size limit', read: int('max-body-size', 0, Number.MAX_SAFE_INTEGER) }),
  row({ name: 'connect-timeout', key: 'connectTimeoutMs', arg: 'S', modes: NETWORK, group: 'limits', fallback: 5 * S, shown: '5', help: 'time to open the upstream connection', read: seconds('connect-timeout') }),
  row({ name: 'upstream-timeout', key: 'upstreamTimeoutMs', arg: 'S', modes: ALL, group: 'limits', fallback: 60 * S, shown: '60', help: 'time for the upstream to send a response head, waiting for the link included', read: seconds('upstream-timeout') }),
  row({ name: 'shutdown-timeout', key: 'shutdownTimeoutMs', arg: 'S', modes: ALL, group: 'limits', fallback: 30 * S, shown: '30', help: 'graceful drain on SIGTERM/SIGINT (stdio: time the child gets to exit)', read: seconds('shutdown-timeout', true) }),
  row({ name: 'inspect-limit', key: 'inspectLimitBytes', arg: 'B', modes: ['http', 'stdio'], group: 'limits', fallback: 1048576, help: 'largest JSON message the MCP inspector reads (with --policy: a larger request is refused, 413); 0 turns it off', read: int('inspect-limit', 0, 1 << 30) }),
  row({ name: 'rate-limit', key: 'rateLimit', arg: 'R', modes: HTTP, group: 'limits', fallback: 0, shown: '0 = off', help: 'requests per second per client IP (per subject once a key or token proved one), burst R; over it: 429', read: int('rate-limit', 0, 10_000_000) }),
  row({ name: 'policy', key: 'policyFile', arg: 'FILE', modes: ['http', 'stdio'], group: 'main', fallback: null, shown: 'none', read: nonEmpty('policy'),
    help: 'interceptor rules (JSON or YAML): block, hide, mock or delay MCP messages; reloaded when the file changes or on SIGHUP' }),
  row({ name: 'record', key: 'recordDir', arg: 'DIR', modes: ['http', 'stdio'], group: 'main', fallback: null, shown: 'off', read: nonEmpty('record'),
    help: 'write every MCP message to a JSONL tape per MCP session in DIR (created if missing), for `shadowcat replay` and `shadowcat tape show`' }),
  row({ name: 'record-queue', key: 'recordQueueBytes', arg: 'B', modes: ['http', 'stdio'], group: 'limits', fallback: 8 * 1024 * 1024,
    help: 'tape bytes waiting for the disk before messages are dropped (counted in shadowcat_recorder_dropped_total)', read: int('record-queue', 4096, 1 << 30) }),
  row({ name: 'admin-port', key: 'adminPort', arg: 'P', modes: NETWORK, group: 'common', fallback: null, shown: 'off', help: 'serve /healthz, /metrics, /sessions and /policy on this port', read: int('admin-port', 0, 65535) }),
  row({ name: 'admin-host', key: 'adminHost', arg: 'H', modes: NETWORK, group: 'common', fallback: '127.0.0.1', help: 'admin bind address; a non-loopback one needs --admin-token', read: text() }),
  row({ name: 'admin-token', key: 'adminToken', arg: 'T', modes: NETWORK, group: 'common', fallback: null, shown: '$SHADOWCAT_ADMIN_TOKEN', help: 'admin requests need Authorization: Bearer T', read: text() }),
  row({ name: 'config', key: 'configFile', arg: 'FILE', modes: ALL, group: 'common', fallback: null, shown: 'none', read: nonEmpty('config'),
    help: 'read flags from a JSON or YAML file, by their long names (a policy: section may hold the rules); the command line wins' }),
  row({ name: 'log-level', key: 'logLevel', arg: 'L', modes: ALL, group: 'common', fallback: 'info', help: LOG_LEVELS.join('|'), read: parseLogLevel }),
]);

/** The row of a long flag name, or undefined. */
export function flagRow(name: string): FlagRow | undefined {
  return FLAGS.find((f) => f.name === name);
}

/** Checks that need more than one flag; throws ConfigError. */
export function checkConfig(config: Config): void {
  if (config.mode === 'tcp' && config.upstream === null) throw new ConfigError('forward tcp needs --upstream host:port');
  if (config.mode === 'stdio' && config.command.length === 0 && config.upstreamUrl === null) throw new ConfigError('forward stdio needs a command or --url: shadowcat forward stdio [flags] [--] <command> [args...], or shadowcat forward stdio --url URL');
  if (config.mode === 'stdio' && config.command.length > 0 && config.upstreamUrl !== null) throw new ConfigError('--url and a command are two upstreams: pick one');
  if (config.mode === 'stdio' && config.command.length > 0 && (config.recoverSessions || config.upstreamHeaders.length > 0)) throw new ConfigError('--recover-sessions and --upstream-header are for a remote server (--url), not a command');
  if (config.mode === 'tcp' && config.command.length > 0) throw new ConfigError('forward tcp takes no command after --');
  if (config.upstreamTransport !== 'streamable' && config.upstreamUrl === null) throw new ConfigError(`--upstream-transport ${config.upstreamTransport} needs --url (the server's URL)`);
  if (config.upstreamTransport === 'sse' && config.recoverSessions) throw new ConfigError('--recover-sessions is not available with --upstream-transport sse');
  if (config.upstreamPool > 0 && (config.upstreamTransport !== 'streamable' || config.serveSse)) {
    throw new ConfigError('--upstream-pool is for the Streamable HTTP byte path: not available with --upstream-transport sse|auto or --serve-sse');
  }
  if (config.serveSse && config.command.length === 0 && config.upstreamUrl === null) throw new ConfigError('--serve-sse needs an upstream: --url URL or a stdio server after --');
  if (config.mode === 'http' && config.command.length > 0) {
    // A stdio server behind HTTP: the message bridge, whose upstream is the command.
    if (config.upstreamUrl !== null) throw new ConfigError('--url and a command after -- are two upstreams: pick one');
    if (config.upstreamPool > 0 || config.recoverSessions || config.upstreamHeaders.length > 0) {
      throw new ConfigError('--upstream-pool, --recover-sessions and --upstream-header are for an HTTP upstream (--url), not a stdio server after --');
    }
  }
  if (config.stdioPool > 0 && (config.command.length === 0 || !config.multiSession)) throw new ConfigError('--stdio-pool needs --multi-session and a stdio server after --');
  if (config.authJwt) {
    if (config.authJwks === null || config.authIssuer === null || config.authAudience === null) {
      throw new ConfigError('--auth-jwt needs --auth-jwks URL|FILE, --auth-issuer URL and --auth-audience AUD: a token is checked against all three');
    }
    if (/^[a-z][a-z0-9+.-]*:/i.test(config.authJwks) && !/^https:\/\//i.test(config.authJwks) && !(/^http:\/\//i.test(config.authJwks) && isLoopbackUrl(config.authJwks))) {
      throw new ConfigError(`--auth-jwks ${config.authJwks.slice(0, 200)}: a key set is fetched over https:// (http:// only from a loopback address), or read from a file`);
    }
  } else if (config.authJwks !== null || config.authIssuer !== null || config.authAudience !== null || config.authScopes.length > 0) {
    throw new ConfigError('--auth-jwks, --auth-issuer, --auth-audience and --auth-scopes go with --auth-jwt');
  }
  if (config.adminToken === '') throw new ConfigError('--admin-token needs a value');
  if (config.policyFile !== null && config.inspectLimitBytes === 0) throw new ConfigError('--policy needs --inspect-limit above 0: a policy must read the messages it rules on');
  if (config.upstreamPool > 0 && !config.multiSession) throw new ConfigError('--upstream-pool needs --multi-session: single-session mode already shares one upstream link');
  if (config.recordDir !== null && config.inspectLimitBytes === 0) throw new ConfigError('--record needs --inspect-limit above 0: the recorder writes the messages the inspector reads');
  const tls = config.mode === 'tcp' ? config.upstreamTls : config.upstreamUrl?.protocol === 'https:' || /^https:\/\//i.test(config.authJwks ?? '');
  if (!tls && (config.upstreamCa !== null || config.upstreamInsecure)) {
    throw new ConfigError(`--upstream-ca and --upstream-insecure need a TLS upstream (${config.mode === 'tcp' ? '--upstream-tls' : 'an https:// --url or --auth-jwks'})`);
  }
  if (config.mode !== 'stdio' && config.adminPort !== null && config.adminToken === null && !isLoopback(config.adminHost)) {
    throw new ConfigError(`--admin-host ${config.adminHost} is not a loopback address: set --admin-token (or SHADOWCAT_ADMIN_TOKEN) so the admin API is not open to the network`);
  }
}

function isLoopbackUrl(text: string): boolean {
  try {
    return isLoopback(new URL(text).hostname);
  } catch {
    return false;
  }
}

/** True for addresses only this machine can reach. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || /^::ffff:127\./.test(h);
}

/** A frozen Config from the table's defaults plus `overrides` (tests, embedding); checked like the CLI's. */
export function makeConfig(overrides: Partial<Config> & Pick<Config, 'mode'>, defaults: Partial<Config> = { port: 0, logLevel: 'silent' }): Config {
  const base: Record<string, unknown> = { command: [] };
  for (const f of FLAGS) base[f.key] = f.fallback;
  const config = { ...base, ...defaults, ...overrides } as Config;
  checkConfig(config);
  return Object.freeze(config);
}

/** Text values per flag as given (the command line, a --config file or an embedder's options). */
export type FlagValues = Map<FlagRow, string[]>;

/** The camelCase name of a flag (its key in embedding options). */
export function camelName(flag: string): string {
  return flag.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());
}

/**
 * A flag's value from a config file or options object as the texts the command line would
 * carry, so one `read` validates all three: true for a switch (false: not given), a string
 * or number for a valued flag, a list for a repeatable one. `where` names the source in errors.
 */
export function flagTexts(f: FlagRow, value: unknown, where: string): string[] {
  const bad = (what: string): never => {
    throw new ConfigError(`${where}: ${what}`);
  };
  if (f.arg === null) {
    if (typeof value !== 'boolean') bad('expected true or false');
    return value === true ? [''] : [];
  }
  const one = (v: unknown): string => {
    if (typeof v === 'number' && Number.isFinite(v)) return String(v);
    if (typeof v !== 'string' || v === '') return bad(f.repeat === true ? 'expected a list of non-empty strings' : 'expected a non-empty string or a number');
    return v as string;
  };
  if (Array.isArray(value)) {
    // A comma-separated flag may be written as a list.
    if (f.arg === 'LIST') return [value.map(one).join(',')];
    if (f.repeat !== true) bad('expected one value, not a list');
    return value.map(one);
  }
  return [one(value)];
}

/** Builds the frozen Config of `mode` from given flag values (the rest from the table's defaults); throws ConfigError. */
export function buildConfig(mode: Mode, given: FlagValues, env: Env, command: readonly string[]): Config {
  const values: Record<string, unknown> = { mode, command: Object.freeze([...command]) };
  for (const f of FLAGS) values[f.key] = f.fallback;
  for (const [f, texts] of given) {
    if (texts.length === 0) continue;
    if (!f.modes.includes(mode)) throw new ConfigError(`--${f.name} does not apply to forward ${mode}${f.hint === undefined ? '' : `; ${f.hint}`}`);
    values[f.key] = f.repeat === true ? Object.freeze(texts.map((t) => f.read(t, env))) : f.read(texts[0]!, env);
  }
  // The environment stands in for a flag that was not given (a token stays out of `ps`).
  const envToken = env.SHADOWCAT_ADMIN_TOKEN;
  if (values.adminToken === null && envToken !== undefined && envToken !== '' && mode !== 'stdio') values.adminToken = envToken;
  const config = values as unknown as Config;
  checkConfig(config);
  return Object.freeze(config);
}
