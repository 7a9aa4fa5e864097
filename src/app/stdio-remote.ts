// Wires forward stdio --url: a stdio MCP client (this process's stdin and stdout) joined to
// a remote Streamable HTTP server, one MCP session, with the message layer (policy, tapes,
// lint) between them. Only JSON-RPC lines are written to stdout; logs go to stderr. When
// stdin ends, the session is ended upstream with DELETE and the process exits 0.

import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { gatedLines } from '../bridge/gated-lines.js';
import { StreamableClient, type OutgoingMessage } from '../upstream/streamable-client.js';
import { UpstreamBrokenError, type ProxyError } from '../errors.js';
import { errorBody } from '../http/error-response.js';
import { Envelope, ENVELOPE_OK, readEnvelope } from '../mcp/envelope.js';
import type { Logger as PinoLogger } from '../observe/logger.js';
import { remoteUpstream } from '../upstream/remote-upstream.js';
import type { LineUpstream } from '../upstream/line-upstream.js';
import { outgoingOf } from '../mcp/outgoing.js';
import type { MessageOrigin } from '../mcp/inspector.js';
import { Metrics } from '../observe/metrics.js';
import { publicUrl } from '../upstream/public-url.js';
import { createMessageLayer } from './message-layer.js';
import { onShutdownSignals } from './signals.js';

const NL = Buffer.from('\n');
const PARSE_ERROR = Buffer.from('{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error: the line is not JSON"}}\n');
const INVALID = Buffer.from('{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"Invalid Request: not a JSON-RPC message"}}\n');

/** The one session with the remote server, whichever transport reaches it. */
interface RemoteSession {
  send(message: OutgoingMessage): void;
  close(timeoutMs: number): Promise<void>;
  destroy(): void;
}

/** A remote server reached through a line transport (sse, auto): every request it can no longer answer gets an error line. */
function lineSession(upstream: LineUpstream, log: PinoLogger, onMessage: (m: Buffer) => void): RemoteSession {
  const owed = new Set<string>();
  const env = new Envelope();
  let ended: ProxyError | null = null;
  const fail = (ids: Iterable<string>, err: ProxyError): void => {
    for (const id of ids) onMessage(Buffer.from(errorBody(err, id), 'utf8'));
  };
  upstream.own({
    line: (l) => {
      if (readEnvelope(l, 0, l.length, env) === ENVELOPE_OK && env.id !== null && (env.kind === 'result' || env.kind === 'error')) owed.delete(env.id);
      onMessage(l);
    },
    exit: (_code, _signal, err) => {
      ended = err !== null ? upstream.startFailure(err) : new UpstreamBrokenError('the remote server ended the session');
      if (owed.size > 0 || err !== null) log.warn({ err: ended.message }, 'the remote session ended');
      fail(owed, ended);
      owed.clear();
    },
  }, log);
  return {
    send: (m) => {
      if (ended !== null) return fail(m.requestIds, ended);
      for (const id of m.requestIds) owed.add(id);
      if (!upstream.send(m.body)) {
        for (const id of m.requestIds) owed.delete(id);
        fail(m.requestIds, new UpstreamBrokenError('the remote server is not taking messages (8 MiB waiting)'));
      }
    },
    close: () => upstream.stop(),
    destroy: () => upstream.kill(),
  };
}

/** Runs until stdin ends (or a signal); resolves with the exit code. */
export async function runStdioRemote(config: Config, log: Logger): Promise<number> {
  const url = config.upstreamUrl!;
  const metrics = new Metrics({ liveSessions: () => 1, liveBytes: () => ({ in: 0, out: 0 }) });
  const debug = log.isLevelEnabled('debug');
  const slog = log.child({ sid: 'stdio' });
  const { policy, sink, gate, recorder } = createMessageLayer(config, metrics, slog, debug);
  if (recorder !== null) recorder.upstream = publicUrl(url);
  const output = process.stdout;
  const input = process.stdin;
  const origin: MessageOrigin = { proxySession: 'stdio', mcpSession: null, clientIp: '', onGetStream: false, http: null, log: () => slog };
  const write = (b: Buffer): boolean => output.write(b);

  const toClient = (m: Buffer): void => lines.fromServer.push(Buffer.concat([m, NL]));
  const flow = {
    onRecovery: (result: 'ok' | 'failed') => metrics.mcpSessionsRecovered.labels(result).inc(),
    blocked: () => output.writableNeedDrain,
    onDrain: (resume: () => void) => void output.once('drain', resume),
  };
  // Streamable HTTP is spoken directly (each line read once); sse and auto through their line transports.
  const client: RemoteSession = config.upstreamTransport !== 'streamable' ? lineSession(remoteUpstream(config, slog, flow), slog, toClient) : new StreamableClient({
    url, headers: config.upstreamHeaders, ca: config.upstreamCa, verify: !config.upstreamInsecure,
    headTimeoutMs: config.upstreamTimeoutMs, maxBodyBytes: config.maxBodyBytes, recover: config.recoverSessions, log: slog,
    onMessage: toClient, ...flow,
  });
  const lines = gatedLines(gate, sink, slog, (line) => {
    const what = outgoingOf(line);
    if (what === 'not-json') return void write(PARSE_ERROR);
    if (what === null) return void write(INVALID);
    client.send({ body: line, ...what });
  }, write, origin);

  log.info({ mode: 'stdio', upstream: publicUrl(url) }, 'forwarding stdin to a remote MCP server');
  policy?.watch();
  const onHup = (): void => {
    policy?.reload('SIGHUP');
  };
  if (policy !== null) process.on('SIGHUP', onHup);

  let stopping: Promise<void> | null = null;
  const stop = (why: string): Promise<void> => {
    if (stopping !== null) return stopping;
    log.info({ why }, 'ending the session');
    input.pause();
    lines.fromClient.end();
    lines.flushDelayed();
    stopping = client.close(config.shutdownTimeoutMs);
    return stopping;
  };
  const ended = new Promise<void>((resolve) => {
    input.on('data', (chunk: Buffer) => lines.fromClient.push(chunk));
    input.once('end', () => void stop('stdin ended').then(resolve));
    output.on('error', (err: NodeJS.ErrnoException) => {
      log.warn({ err: err.code ?? err.message }, 'stdout closed by the client');
      void stop('stdout closed').then(resolve);
    });
    onShutdownSignals((signal) => void stop(signal).then(resolve), () => {
      client.destroy();
      resolve();
    });
  });
  await ended;
  lines.close();
  lines.fromServer.end();
  if (recorder !== null) {
    sink.proxySessionEnded('stdio');
    await recorder.close(Math.max(1000, config.shutdownTimeoutMs));
  }
  policy?.close();
  process.removeListener('SIGHUP', onHup);
  return 0;
}
