// The proxy's failure kinds: one class per stable code. The status a client sees for a
// code is chosen in one place only, http/error-response.ts. This module imports nothing.

/** Stable error codes; each maps to one HTTP status in http/error-response.ts. */
export type ErrorCode =
  | 'BAD_REQUEST'
  | 'HEADER_TIMEOUT'
  | 'BODY_TIMEOUT'
  | 'UNSUPPORTED_TRANSFER_CODING'
  | 'HEAD_TOO_LARGE'
  | 'BODY_TOO_LARGE'
  | 'SESSION_LIMIT'
  | 'RATE_LIMITED'
  | 'UPSTREAM_UNREACHABLE'
  | 'UPSTREAM_TIMEOUT'
  | 'UPSTREAM_BROKEN'
  | 'UPSTREAM_TLS'
  | 'UPSTREAM_STATUS'
  | 'FD_EXHAUSTED'
  | 'SHUTTING_DOWN'
  | 'CONFIG_INVALID'
  | 'POLICY_UNREADABLE'
  | 'POLICY_TOO_LARGE'
  | 'CHILD_SPAWN'
  | 'CHILD_EXITED'
  | 'SESSION_NOT_FOUND'
  | 'SESSION_MISSING'
  | 'NOT_ACCEPTABLE'
  | 'METHOD_NOT_ALLOWED'
  | 'ORIGIN_NOT_ALLOWED'
  | 'HOST_NOT_ALLOWED'
  | 'UNAUTHORIZED'
  | 'INSUFFICIENT_SCOPE'
  | 'INTERNAL';

/** Which side caused the failure: decides the fallback status for unmapped codes. */
export type ErrorSide = 'client' | 'upstream' | 'internal';

/** Base class of every error the proxy raises on purpose. */
export class ProxyError extends Error {
  readonly code: ErrorCode;
  readonly side: ErrorSide;
  /** Seconds a client should wait before retrying (503/429 answers). */
  readonly retryAfterSeconds: number | undefined;
  /** Headers the answer carries besides the table's (WWW-Authenticate on a 401). */
  readonly headers: Readonly<Record<string, string>> | undefined;

  constructor(code: ErrorCode, side: ErrorSide, message: string, options?: { cause?: unknown; retryAfterSeconds?: number; headers?: Record<string, string> }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.side = side;
    this.retryAfterSeconds = options?.retryAfterSeconds;
    this.headers = options?.headers;
  }
}

/** Malformed or smuggling-shaped request framing. */
export class BadRequestError extends ProxyError {
  constructor(message = 'malformed request', cause?: unknown) {
    super('BAD_REQUEST', 'client', message, { cause });
  }
}

/** The request head did not arrive within --header-timeout. */
export class HeaderTimeoutError extends ProxyError {
  constructor(message = 'request head not received in time') {
    super('HEADER_TIMEOUT', 'client', message);
  }
}

/** A request body paused longer than --body-timeout between two pieces. */
export class BodyTimeoutError extends ProxyError {
  constructor(message = 'request body not received in time') {
    super('BODY_TIMEOUT', 'client', message);
  }
}

/** A Transfer-Encoding other than exactly `chunked` (RFC 9112 §6.1: the proxy cannot frame it). */
export class UnsupportedTransferCodingError extends ProxyError {
  constructor(message = 'only Transfer-Encoding: chunked is supported') {
    super('UNSUPPORTED_TRANSFER_CODING', 'client', message);
  }
}

/** The request head exceeded --max-header-size. */
export class HeadTooLargeError extends ProxyError {
  constructor(message = 'request head too large') {
    super('HEAD_TOO_LARGE', 'client', message);
  }
}

/** The request body exceeded --max-body-size. */
export class BodyTooLargeError extends ProxyError {
  constructor(message = 'request body too large') {
    super('BODY_TOO_LARGE', 'client', message);
  }
}

/** --max-sessions or --max-per-client reached. */
export class SessionLimitError extends ProxyError {
  constructor(message = 'session limit reached', retryAfterSeconds = 1) {
    super('SESSION_LIMIT', 'internal', message, { retryAfterSeconds });
  }
}

/** A rate limit refused the request. */
export class RateLimitedError extends ProxyError {
  constructor(message = 'rate limit reached', retryAfterSeconds = 1) {
    super('RATE_LIMITED', 'client', message, { retryAfterSeconds });
  }
}

/** The upstream refused, reset or could not be reached. */
export class UpstreamUnreachableError extends ProxyError {
  constructor(message = 'upstream unreachable', cause?: unknown) {
    super('UPSTREAM_UNREACHABLE', 'upstream', message, { cause });
  }
}

/** The TLS handshake with the upstream failed, or its certificate did not verify. */
export class UpstreamTlsError extends ProxyError {
  constructor(message = 'TLS with the upstream failed', cause?: unknown) {
    super('UPSTREAM_TLS', 'upstream', message, { cause });
  }
}

/** The upstream did not connect or answer in time. */
export class UpstreamTimeoutError extends ProxyError {
  constructor(message = 'upstream timed out') {
    super('UPSTREAM_TIMEOUT', 'upstream', message);
  }
}

/** The upstream sent something that is not valid HTTP, or closed mid-response. */
export class UpstreamBrokenError extends ProxyError {
  constructor(message = 'upstream sent an invalid or truncated response', cause?: unknown) {
    super('UPSTREAM_BROKEN', 'upstream', message, { cause });
  }
}

/** A remote MCP server answered a message with an HTTP error and no JSON-RPC answer (forward stdio --url). */
export class UpstreamStatusError extends ProxyError {
  constructor(status: number) {
    super('UPSTREAM_STATUS', 'upstream', `upstream answered HTTP ${status}`);
  }
}

/** No file descriptor was left to open the upstream connection (EMFILE/ENFILE). */
export class FdExhaustedError extends ProxyError {
  constructor(message = 'no file descriptor left to reach the upstream', cause?: unknown) {
    super('FD_EXHAUSTED', 'internal', message, { cause, retryAfterSeconds: 1 });
  }
}

/** The proxy is draining and takes no new work. */
export class ShuttingDownError extends ProxyError {
  constructor(message = 'proxy is shutting down') {
    super('SHUTTING_DOWN', 'internal', message, { retryAfterSeconds: 1 });
  }
}

/** A policy is loaded and the request cannot be read with certainty (invalid JSON, a repeated member, a batch, an Upgrade). */
export class PolicyUnreadableError extends ProxyError {
  constructor(message: string) {
    super('POLICY_UNREADABLE', 'client', `policy: ${message}`);
  }
}

/** A policy is loaded and the request body is larger than --inspect-limit, so it cannot be read. */
export class PolicyTooLargeError extends ProxyError {
  constructor(limit: number) {
    super('POLICY_TOO_LARGE', 'client', `policy: a request body larger than ${limit} bytes (--inspect-limit) cannot be checked`);
  }
}

/** A command-line flag is missing or invalid. */
export class ConfigError extends ProxyError {
  constructor(message: string) {
    super('CONFIG_INVALID', 'internal', message);
  }
}

/** A bridged stdio server could not be started. */
export class ChildSpawnError extends ProxyError {
  constructor(command: string, cause?: unknown) {
    super('CHILD_SPAWN', 'upstream', `the stdio server '${command}' could not be started${cause instanceof Error ? `: ${cause.message}` : ''}`, { cause });
  }
}

/** A bridged stdio server exited before answering. */
export class ChildExitedError extends ProxyError {
  constructor(code: number | null, signal: string | null) {
    super('CHILD_EXITED', 'upstream', `the stdio server exited (${signal !== null ? `signal ${signal}` : `code ${code ?? '?'}`}) before answering`);
  }
}

/** A request names an MCP session the bridge does not have (ended, expired, or never issued). */
export class SessionNotFoundError extends ProxyError {
  constructor() {
    super('SESSION_NOT_FOUND', 'client', 'session not found: start a new one with initialize');
  }
}

/** A request other than initialize came without an Mcp-Session-Id. */
export class SessionMissingError extends ProxyError {
  constructor(message = 'Bad Request: no Mcp-Session-Id (only initialize may come without one)') {
    super('SESSION_MISSING', 'client', message);
  }
}

/** A browser request from an origin the proxy does not allow (--allowed-origins). */
export class OriginNotAllowedError extends ProxyError {
  constructor(origin: string) {
    super('ORIGIN_NOT_ALLOWED', 'client', `Forbidden: requests from origin ${origin.slice(0, 200)} are not allowed (--allowed-origins)`);
  }
}

/** A request naming a Host the proxy does not serve (--allowed-hosts): DNS rebinding looks like this. */
export class HostNotAllowedError extends ProxyError {
  constructor(host: string) {
    super('HOST_NOT_ALLOWED', 'client', `Forbidden: Host ${host.slice(0, 200)} is not allowed (--allowed-hosts)`);
  }
}

/** No valid credential (--auth-keys): answered 401 with where to learn how to get one. */
export class UnauthorizedError extends ProxyError {
  constructor(message: string, wwwAuthenticate: string) {
    super('UNAUTHORIZED', 'client', message, { headers: { 'WWW-Authenticate': wwwAuthenticate } });
  }
}

/** A valid token without the scopes --auth-scopes asks for: 403, naming them in WWW-Authenticate. */
export class InsufficientScopeError extends ProxyError {
  constructor(missing: readonly string[], wwwAuthenticate: string) {
    super('INSUFFICIENT_SCOPE', 'client', `Forbidden: the token lacks the scope ${missing.join(' ')}`, { headers: { 'WWW-Authenticate': wwwAuthenticate } });
  }
}

/** The client does not accept what the endpoint answers with. */
export class NotAcceptableError extends ProxyError {
  constructor(message: string) {
    super('NOT_ACCEPTABLE', 'client', message);
  }
}

/** An HTTP method the MCP endpoint does not serve. */
export class MethodNotAllowedError extends ProxyError {
  constructor(method: string) {
    super('METHOD_NOT_ALLOWED', 'client', `method ${method} is not allowed here: use POST, GET or DELETE`);
  }
}
