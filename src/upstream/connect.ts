// Opening upstream sockets, plain or TLS: a connect timeout that covers the handshake,
// and errno → typed ProxyError.

import net from 'node:net';
import { FdExhaustedError, ProxyError, UpstreamTimeoutError, UpstreamTlsError, UpstreamUnreachableError } from '../errors.js';
import { connectReading, SOCKET_READS } from '../socket-reads.js';
import type { UpstreamTls } from './upstream-tls.js';

/** Called once: with a connected socket, or with the reason there is none; `dialed` when the socket is new (not an idle link handed on). */
export type DialCallback = (err: ProxyError | null, socket: net.Socket | null, dialed?: boolean) => void;

/** Where and how to reach an upstream: fixed for the app's life. */
export interface UpstreamTarget {
  readonly host: string;
  readonly port: number;
  readonly connectTimeoutMs: number;
  /** null: plain TCP. */
  readonly tls: UpstreamTls | null;
}

/** Connects to the target within its connect timeout (the TLS handshake included); returns the socket so the caller can abort it. */
export function dial(target: UpstreamTarget, done: DialCallback): net.Socket {
  const { host, port, connectTimeoutMs: timeoutMs } = target;
  const secure = target.tls;
  // The three properties Node's Socket sets on its copy of these options are given up front:
  // added to the copy, they would make a new hidden class per socket (listener/stable-accept.ts).
  const socket = secure === null
    ? connectReading({ host, port, noDelay: true, allowHalfOpen: true, emitClose: false, autoDestroy: true, decodeStrings: false, onread: SOCKET_READS } as net.NetConnectOpts)
    : secure.connect(port);
  const ready = secure === null ? 'connect' : 'secureConnect';
  let tcpUp = false;
  let settled = false;
  const finish = (err: ProxyError | null): void => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    socket.removeListener(ready, onReady);
    socket.removeListener('connect', onTcp);
    socket.removeListener('error', onError);
    socket.removeListener('close', onClose);
    if (err !== null) {
      socket.destroy();
      done(err, null);
    } else {
      if (secure !== null) socket.setNoDelay(true);
      done(null, socket, true);
    }
  };
  const onReady = (): void => finish(null);
  const onTcp = (): void => {
    tcpUp = true;
  };
  const onError = (e: NodeJS.ErrnoException): void => {
    if (e.code === 'EMFILE' || e.code === 'ENFILE') {
      // Not the upstream's fault and over as soon as connections close: a 503 to retry, not a 502.
      finish(new FdExhaustedError(`no file descriptor left to reach upstream ${host}:${port} (${e.code})`, e));
    } else if (secure !== null && (tcpUp || isTlsError(e))) {
      finish(new UpstreamTlsError(`TLS with upstream ${host}:${port} failed: ${e.code ?? 'handshake'} (${e.message})`, e));
    } else {
      finish(new UpstreamUnreachableError(`upstream ${host}:${port} unreachable (${e.code ?? e.message})`, e));
    }
  };
  const onClose = (): void => finish(secure !== null && tcpUp
    ? new UpstreamTlsError(`TLS with upstream ${host}:${port} failed: the connection closed during the handshake`)
    : new UpstreamUnreachableError(`upstream ${host}:${port} connection aborted`));
  const timer = setTimeout(() => finish(new UpstreamTimeoutError(`upstream ${host}:${port} did not ${tcpUp ? 'complete the TLS handshake' : 'accept'} within ${timeoutMs} ms`)), timeoutMs);
  socket.once(ready, onReady);
  if (secure !== null) socket.once('connect', onTcp);
  socket.once('error', onError);
  socket.once('close', onClose);
  return socket;
}

/** Errors only a TLS layer raises (certificate checks, OpenSSL), whenever they come. */
function isTlsError(e: NodeJS.ErrnoException): boolean {
  const code = e.code ?? '';
  return code.startsWith('ERR_SSL') || code.startsWith('ERR_TLS') || code.includes('CERT') || code.startsWith('UNABLE_TO')
    || code === 'DEPTH_ZERO_SELF_SIGNED_CERT' || code === 'SELF_SIGNED_CERT_IN_CHAIN';
}

/** The upstream_errors_total kind of a failed dial. */
export function dialFailureKind(err: ProxyError | null): 'timeout' | 'connect' | 'fd-exhausted' | 'tls' {
  switch (err?.code) {
    case 'UPSTREAM_TIMEOUT': return 'timeout';
    case 'FD_EXHAUSTED': return 'fd-exhausted';
    case 'UPSTREAM_TLS': return 'tls';
    default: return 'connect';
  }
}

/** Maps an error on an established upstream socket to the error a client sees. */
export function upstreamSocketError(e: NodeJS.ErrnoException): ProxyError {
  return new UpstreamUnreachableError(`upstream connection failed (${e.code ?? e.message})`, e);
}
