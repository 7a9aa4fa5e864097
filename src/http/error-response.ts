// The one place that turns an error into what a client sees: status, headers and the
// JSON-RPC error body of docs/reference.md "Errors a client can see".

import { ProxyError, type ErrorCode } from '../errors.js';

const STATUS: Readonly<Partial<Record<ErrorCode, number>>> = Object.freeze({
  BAD_REQUEST: 400,
  HEADER_TIMEOUT: 408,
  BODY_TIMEOUT: 408,
  UNSUPPORTED_TRANSFER_CODING: 501,
  FD_EXHAUSTED: 503,
  BODY_TOO_LARGE: 413,
  HEAD_TOO_LARGE: 431,
  RATE_LIMITED: 429,
  SESSION_LIMIT: 503,
  SHUTTING_DOWN: 503,
  UPSTREAM_UNREACHABLE: 502,
  UPSTREAM_BROKEN: 502,
  UPSTREAM_TLS: 502,
  UPSTREAM_STATUS: 502,
  UPSTREAM_TIMEOUT: 504,
  POLICY_UNREADABLE: 400,
  POLICY_TOO_LARGE: 413,
  CHILD_SPAWN: 502,
  CHILD_EXITED: 502,
  SESSION_NOT_FOUND: 404,
  SESSION_MISSING: 400,
  NOT_ACCEPTABLE: 406,
  METHOD_NOT_ALLOWED: 405,
  ORIGIN_NOT_ALLOWED: 403,
  INSUFFICIENT_SCOPE: 403,
  HOST_NOT_ALLOWED: 403,
  UNAUTHORIZED: 401,
});

// data.reason words docs/reference.md names where the code's own word would differ.
const REASON_WORD: Readonly<Partial<Record<ErrorCode, string>>> = Object.freeze({ FD_EXHAUSTED: 'fd-exhausted', UPSTREAM_TLS: 'tls', POLICY_UNREADABLE: 'policy-unreadable', POLICY_TOO_LARGE: 'policy-unreadable',
  UPSTREAM_STATUS: 'upstream-status', CHILD_SPAWN: 'child-spawn', CHILD_EXITED: 'child-exited', SESSION_NOT_FOUND: 'session-not-found', SESSION_MISSING: 'session-missing',
  ORIGIN_NOT_ALLOWED: 'origin', HOST_NOT_ALLOWED: 'host', INSUFFICIENT_SCOPE: 'insufficient_scope',
});

const REASON: Readonly<Record<number, string>> = Object.freeze({
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed', 406: 'Not Acceptable', 408: 'Request Timeout', 413: 'Content Too Large', 429: 'Too Many Requests',
  431: 'Request Header Fields Too Large', 500: 'Internal Server Error', 501: 'Not Implemented', 502: 'Bad Gateway',
  503: 'Service Unavailable', 504: 'Gateway Timeout',
});

/** The HTTP status for an error; unmapped codes fall back by side (pingora's fail_to_proxy). */
export function statusFor(err: unknown): number {
  if (!(err instanceof ProxyError)) return 500;
  return STATUS[err.code] ?? (err.side === 'upstream' ? 502 : err.side === 'client' ? 400 : 500);
}

/** Stable reason string carried in the JSON-RPC error's data. */
export function reasonFor(err: unknown): string {
  if (!(err instanceof ProxyError)) return 'internal';
  return REASON_WORD[err.code] ?? err.code.toLowerCase();
}

/** The JSON-RPC error body docs/reference.md names, as a string; `idJson` the request's id as JSON text when it was read. */
export function errorBody(err: unknown, idJson: string | null = null): string {
  const message = err instanceof ProxyError ? err.message : 'internal error';
  const body = JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32000, message, data: { reason: reasonFor(err) } } });
  return idJson === null ? body : `{"jsonrpc":"2.0","id":${idJson}${body.slice(body.indexOf(',"error"'))}`;
}

/** Status, headers and body of an error answer, for a node:http response (the message bridge). */
export function errorResponseParts(err: unknown, idJson: string | null = null): { status: number; headers: Record<string, string>; body: string } {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (err instanceof ProxyError && err.retryAfterSeconds !== undefined) headers['retry-after'] = String(err.retryAfterSeconds);
  if (err instanceof ProxyError && err.headers !== undefined) Object.assign(headers, err.headers);
  return { status: statusFor(err), headers, body: errorBody(err, idJson) };
}

/** A complete HTTP/1.1 error response; `close` adds Connection: close; `idJson` as errorBody; `extraLines` (CRLF-ended header lines, e.g. --cors) added. */
export function errorResponse(err: unknown, close: boolean, idJson: string | null = null, extraLines: string | null = null): Buffer {
  const status = statusFor(err);
  const body = errorBody(err, idJson);
  let head = `HTTP/1.1 ${status} ${REASON[status] ?? 'Error'}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n`;
  if (err instanceof ProxyError && err.retryAfterSeconds !== undefined) head += `Retry-After: ${err.retryAfterSeconds}\r\n`;
  if (err instanceof ProxyError && err.headers !== undefined) for (const [k, v] of Object.entries(err.headers)) head += `${k}: ${v}\r\n`;
  if (extraLines !== null) head += extraLines;
  if (close) head += 'Connection: close\r\n';
  return Buffer.from(`${head}\r\n${body}`, 'latin1');
}
