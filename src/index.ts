// The package's embedding API (startProxy, what the package name resolves to): the CLI's flags
// as camelCase options, read through the same flag table (same defaults, same validation
// messages), plus hooks on the message-level hook point and the session lifecycle.

import type { Logger } from 'pino';
import { createApp, type ShutdownReport } from './app/app.js';
import { buildConfig, camelName, FLAGS, flagTexts, type FlagValues } from './config.js';
import { ConfigError } from './errors.js';
import type { ClientCall, McpMessage, MessageDecider, MessageObserver, Verdict } from './mcp/message.js';
import { createLogger } from './observe/logger.js';
import type { AuthRequest } from './policy/inbound-auth.js';
import type { PolicySnapshot } from './policy/policy.js';
import { publicUrl } from './upstream/public-url.js';

export type { ClientCall, McpMessage } from './mcp/message.js';
export type { PolicySnapshot } from './policy/policy.js';
export type { AuthRequest } from './policy/inbound-auth.js';
export type { ShutdownReport } from './app/app.js';
export { ConfigError } from './errors.js';

/** A session as GET /sessions shows it. */
export interface SessionInfo {
  readonly id: string;
  readonly client: string;
  readonly createdAt: string;
  readonly lastActivityAt: string;
  readonly requests: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly mcpSessionId: string | null;
  readonly state: string;
  /** Who the client proved to be (a key's name, a token's sub), when a credential named one. */
  readonly subject?: string;
  /** A bridged session's stdio server. */
  readonly childPid?: number;
}

/** What a `decide` hook returns: nothing (or 'continue') lets the message through. */
export type HookVerdict =
  | void
  | 'continue'
  /** Answer with a JSON-RPC error (code -32001 unless given) instead of the upstream. */
  | { readonly block: string; readonly code?: number; readonly data?: unknown }
  /** Answer with this JSON-RPC result instead of the upstream. */
  | { readonly result: unknown }
  /** Forward after this many milliseconds. */
  | { readonly delayMs: number };

/** Hooks an embedder adds; each is optional. They run in the proxy's event loop: keep them quick. */
export interface ProxyHooks {
  /** Every JSON-RPC message both ways (after shadowcat's own metrics). The object is valid for the call only. */
  onMessage?(message: McpMessage): void;
  onSessionOpen?(session: SessionInfo): void;
  onSessionClose?(session: SessionInfo, reason: string): void;
  /** Judges client messages after the policy (if any); a throw refuses the message. */
  decide?(call: ClientCall): HookVerdict;
  /** The methods `decide` sees (default: all). Only requests with these are held before forwarding. */
  decideMethods?: readonly string[];
  /**
   * A scheme of your own: return the caller's subject, or null to refuse (401). Asked when
   * no key or token of auth settled the request; the credential headers are not forwarded.
   */
  authenticate?(request: AuthRequest): string | null | Promise<string | null>;
}

/** Options: the flags of `forward http` / `forward tcp` in camelCase, with the CLI's units and defaults. */
export interface ProxyOptions {
  /** 'http' (default) or 'tcp'. */
  readonly mode?: 'http' | 'tcp';
  readonly port?: number;
  readonly host?: string;
  /** Upstream URL (http); none: the embedded demo server (or `command`). */
  readonly url?: string;
  /** A stdio MCP server to serve over Streamable HTTP instead of a URL: the program and its arguments (http). */
  readonly command?: readonly string[];
  /** With `command` and multiSession: children kept started and ready. */
  readonly stdioPool?: number;
  /** With `command`: messages kept per session for GET streams and Last-Event-ID. */
  readonly eventBuffer?: number;
  /** host:port (tcp). */
  readonly upstream?: string;
  readonly upstreamTls?: boolean;
  /** A PEM file path. */
  readonly upstreamCa?: string;
  readonly upstreamInsecure?: boolean;
  /** "Name: value" lines; ${VAR} is read from process.env. */
  readonly upstreamHeader?: string | readonly string[];
  readonly multiSession?: boolean;
  /** Worker processes (CLI only: startProxy serves in the calling process and refuses more than 1). */
  readonly workers?: number | 'auto';
  /** With multiSession: idle upstream connections lent to any session's next request. */
  readonly upstreamPool?: number;
  /** Re-run a session's handshake when the upstream answers 404 for it (docs/reference.md "MCP-aware resilience"). */
  readonly recoverSessions?: boolean;
  /** 'sse': the url is a legacy HTTP+SSE server (MCP 2024-11-05), served to clients as Streamable HTTP; 'auto': Streamable HTTP, falling back to SSE on a 4xx to the first initialize. */
  readonly upstreamTransport?: 'streamable' | 'sse' | 'auto';
  /** Browser origins served besides the defaults (loopback origins on a loopback address); '*' any. */
  readonly allowedOrigins?: string | readonly string[];
  /** Host names answered besides the defaults (loopback names on a loopback address, else any); '*' any. */
  readonly allowedHosts?: string | readonly string[];
  /** A key file path: clients must present one of its keys (Authorization: Bearer or X-API-Key). */
  readonly authKeys?: string;
  readonly authJwt?: boolean;
  readonly authJwks?: string;
  readonly authIssuer?: string;
  readonly authAudience?: string;
  readonly authScopes?: string | readonly string[];
  /** Who may connect, grouped: the same as authKeys, or authJwt with its settings. */
  readonly auth?: {
    /** An API key file (authKeys). */
    readonly keys?: string;
    /** Bearer JWTs (authJwt with authJwks, authIssuer, authAudience, authScopes). */
    readonly jwt?: { readonly jwks: string; readonly issuer: string; readonly audience: string; readonly scopes?: readonly string[] };
  };
  /** Pass the client's Authorization and X-API-Key on to the upstream. */
  readonly forwardClientAuth?: boolean;
  /** Answer CORS preflights from allowed origins and expose Mcp-Session-Id to them. */
  readonly cors?: boolean;
  /** Also serve the legacy HTTP+SSE transport to old clients (GET /sse, POST /message?sessionId=). */
  readonly serveSse?: boolean;
  readonly maxSessions?: number;
  readonly maxPerClient?: number;
  /** Seconds. */
  readonly sessionTimeout?: number;
  readonly headerTimeout?: number;
  readonly bodyTimeout?: number;
  /** Bytes. */
  readonly maxHeaderSize?: number;
  readonly maxBodySize?: number;
  readonly connectTimeout?: number;
  readonly upstreamTimeout?: number;
  readonly shutdownTimeout?: number;
  readonly inspectLimit?: number;
  readonly rateLimit?: number;
  /** A rule file path, or the rules themselves ({ rules: [...] }, as in the file). */
  readonly policy?: string | { readonly rules: readonly unknown[] };
  /** A folder to write one JSONL tape per MCP session to (http; see `shadowcat replay`). */
  readonly record?: string;
  /** Bytes of tape lines waiting for the disk before messages are dropped. */
  readonly recordQueue?: number;
  readonly adminPort?: number;
  readonly adminHost?: string;
  readonly adminToken?: string;
  /** Used only when no `logger` is given (then logs go to stderr); default: no logs. */
  readonly logLevel?: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';
  /** A pino logger of yours. */
  readonly logger?: Logger;
  readonly hooks?: ProxyHooks;
}

/** A running proxy. */
export interface RunningProxy {
  /** Where it listens; `upstreamUrl` as shown to people, without the URL's userinfo and query. */
  readonly addresses: { readonly port: number; readonly adminPort: number | null; readonly upstreamUrl: string | null };
  sessions(): SessionInfo[];
  /** The policy rules in force with hit counts, or null. */
  policy(): PolicySnapshot | null;
  /** Stops accepting, lets in-flight requests finish for up to `drainMs` (default: shutdownTimeout), then closes everything. */
  close(opts?: { readonly drainMs?: number }): Promise<ShutdownReport>;
}

const NOT_OPTIONS = new Set(['mode', 'logger', 'hooks', 'command', 'auth']);

/** The options as flag values, checked as the CLI checks flags. */
function optionValues(options: ProxyOptions): { given: FlagValues; policyRules: unknown } {
  const given: FlagValues = new Map();
  let policyRules: unknown;
  for (const [key, value] of Object.entries(options)) {
    if (NOT_OPTIONS.has(key) || value === undefined) continue;
    const f = FLAGS.find((row) => camelName(row.name) === key && row.name !== 'config');
    if (f === undefined) throw new ConfigError(`startProxy: unknown option '${key}'`);
    if (key === 'policy' && typeof value === 'object' && value !== null) {
      policyRules = value;
      continue;
    }
    given.set(f, flagTexts(f, value, `startProxy option ${key}`));
  }
  const grouped = options.auth;
  if (grouped !== undefined) {
    const set = (key: string, value: unknown): void => {
      const f = FLAGS.find((row) => camelName(row.name) === key)!;
      if (given.has(f)) throw new ConfigError(`startProxy: give ${key} or auth, not both`);
      given.set(f, flagTexts(f, value, `startProxy option auth`));
    };
    if (typeof grouped !== 'object' || grouped === null) throw new ConfigError('startProxy: auth must be { keys?: FILE, jwt?: { jwks, issuer, audience, scopes? } }');
    if (grouped.keys !== undefined) set('authKeys', grouped.keys);
    if (grouped.jwt !== undefined) {
      const j = grouped.jwt;
      set('authJwt', true);
      set('authJwks', j.jwks);
      set('authIssuer', j.issuer);
      set('authAudience', j.audience);
      if (j.scopes !== undefined) set('authScopes', j.scopes);
    }
  }
  return { given, policyRules };
}

/** A `decide` hook as a decider: its answers become verdicts, and a throw refuses (fail closed). */
function hookDecider(hooks: ProxyHooks): MessageDecider {
  const methods = hooks.decideMethods === undefined ? null : new Set(hooks.decideMethods);
  const decide = hooks.decide!;
  return {
    cares: (method) => methods === null || methods.has(method),
    decide(call): Verdict {
      let v: HookVerdict;
      try {
        v = decide(call);
      } catch (err) {
        call.log().error({ err: err instanceof Error ? err.message : String(err), method: call.rawMethod }, 'decide hook threw: message refused');
        return { type: 'answer', member: 'error', json: JSON.stringify({ code: -32603, message: 'refused: the proxy\'s decide hook failed', data: { reason: 'hook' } }) };
      }
      if (v === undefined || v === 'continue') return null;
      if ('block' in v) return { type: 'answer', member: 'error', json: JSON.stringify({ code: v.code ?? -32001, message: v.block, data: v.data ?? { reason: 'hook' } }) };
      if ('result' in v) return { type: 'answer', member: 'result', json: JSON.stringify(v.result ?? null) };
      return { type: 'delay', ms: Math.max(0, v.delayMs) };
    },
  };
}

/** Starts a proxy; resolves once it listens. Bad options reject with a ConfigError whose message is the CLI's. */
export async function startProxy(options: ProxyOptions = {}): Promise<RunningProxy> {
  const mode = options.mode ?? 'http';
  if (mode !== 'http' && mode !== 'tcp') throw new ConfigError(`startProxy: mode must be 'http' or 'tcp'`);
  const { given, policyRules } = optionValues(options);
  const command = options.command ?? [];
  if (!Array.isArray(command) || command.some((a) => typeof a !== 'string') || (options.command !== undefined && command.length === 0)) {
    throw new ConfigError('startProxy: command must be a non-empty list of strings (the program and its arguments)');
  }
  const config = buildConfig(mode, given, process.env, command);
  if (config.workers > 1) throw new ConfigError('startProxy: workers is for the CLI (shadowcat forward http --workers N); an embedding process serves in itself');
  if (policyRules !== undefined && config.inspectLimitBytes === 0) throw new ConfigError('--policy needs --inspect-limit above 0: a policy must read the messages it rules on');
  const hooks = options.hooks ?? {};
  const onMessage = hooks.onMessage;
  const observers: MessageObserver[] = onMessage === undefined ? [] : [{ onMessage: (m) => onMessage(m) }];
  const logger = options.logger ?? (options.logLevel === undefined ? undefined : createLogger(options.logLevel));
  const app = createApp(config, {
    logger,
    observers,
    deciders: hooks.decide === undefined ? [] : [hookDecider(hooks)],
    policyRules,
    authenticate: hooks.authenticate === undefined ? undefined : (request) => hooks.authenticate!(request),
    onSessionOpen: hooks.onSessionOpen === undefined ? undefined : (s) => hooks.onSessionOpen!(s.toJSON() as unknown as SessionInfo),
    onSessionClose: hooks.onSessionClose === undefined ? undefined : (s, reason) => hooks.onSessionClose!(s.toJSON() as unknown as SessionInfo, reason),
  });
  let addr;
  try {
    addr = await app.listen();
  } catch (err) {
    await app.close(0);
    throw err;
  }
  return {
    addresses: Object.freeze({ port: addr.port, adminPort: addr.adminPort, upstreamUrl: addr.upstreamUrl === null ? null : publicUrl(addr.upstreamUrl) }),
    sessions: () => app.registry.list().map((s) => s.toJSON() as unknown as SessionInfo),
    policy: () => app.policy(),
    close: (opts = {}) => app.close(opts.drainMs),
  };
}
