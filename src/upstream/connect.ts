// Opening upstream sockets: a connect timeout, and errno → typed ProxyError.

import net from 'node:net';
import { FdExhaustedError, ProxyError, UpstreamTimeoutError, UpstreamUnreachableError } from '../errors.js';

/** Called once: with a connected socket, or with the reason there is none. */
export type DialCallback = (err: ProxyError | null, socket: net.Socket | null) => void;

/** Connects to host:port within timeoutMs; returns the socket so the caller can abort it. */
export function dial(host: string, port: number, timeoutMs: number, done: DialCallback): net.Socket {
  const socket = net.connect({ host, port, noDelay: true, allowHalfOpen: true });
  let settled = false;
  const finish = (err: ProxyError | null): void => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    socket.removeListener('connect', onConnect);
    socket.removeListener('error', onError);
    socket.removeListener('close', onClose);
    if (err !== null) {
      socket.destroy();
      done(err, null);
    } else {
      done(null, socket);
    }
  };
  const onConnect = (): void => finish(null);
  const onError = (e: NodeJS.ErrnoException): void =>
    finish(e.code === 'EMFILE' || e.code === 'ENFILE'
      // Not the upstream's fault and over as soon as connections close: a 503 to retry, not a 502.
      ? new FdExhaustedError(`no file descriptor left to reach upstream ${host}:${port} (${e.code})`, e)
      : new UpstreamUnreachableError(`upstream ${host}:${port} unreachable (${e.code ?? e.message})`, e));
  const onClose = (): void => finish(new UpstreamUnreachableError(`upstream ${host}:${port} connection aborted`));
  const timer = setTimeout(() => finish(new UpstreamTimeoutError(`upstream ${host}:${port} did not accept within ${timeoutMs} ms`)), timeoutMs);
  socket.once('connect', onConnect);
  socket.once('error', onError);
  socket.once('close', onClose);
  return socket;
}

/** The upstream_errors_total kind of a failed dial. */
export function dialFailureKind(err: ProxyError | null): 'timeout' | 'connect' | 'fd-exhausted' {
  return err?.code === 'UPSTREAM_TIMEOUT' ? 'timeout' : err?.code === 'FD_EXHAUSTED' ? 'fd-exhausted' : 'connect';
}

/** Maps an error on an established upstream socket to the error a client sees. */
export function upstreamSocketError(e: NodeJS.ErrnoException): ProxyError {
  return new UpstreamUnreachableError(`upstream connection failed (${e.code ?? e.message})`, e);
}
