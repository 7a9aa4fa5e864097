// The line transport to the remote server of --url for the message bridge, by
// --upstream-transport: Streamable HTTP, the legacy HTTP+SSE transport, or auto (the first
// falling back to the second).

import type { LineUpstream } from './line-upstream.js';
import type { Config } from '../config.js';
import type { Logger } from '../observe/logger.js';
import { AutoUpstream } from './auto-upstream.js';
import { SseUpstream } from './sse-upstream.js';
import { StreamableUpstream } from './streamable-upstream.js';

/** What the reader of the lines adds: output backpressure (forward stdio) and recovery counts. */
export interface RemoteFlow {
  readonly blocked?: () => boolean;
  readonly onDrain?: (resume: () => void) => void;
  readonly onRecovery?: (result: 'ok' | 'failed') => void;
}

/** One session with the --url server over the configured transport. */
export function remoteUpstream(config: Config, log: Logger, flow: RemoteFlow = {}): LineUpstream {
  const url = config.upstreamUrl!;
  const sse = (): LineUpstream => new SseUpstream({
    url, headers: config.upstreamHeaders, ca: config.upstreamCa, verify: !config.upstreamInsecure,
    connectTimeoutMs: config.connectTimeoutMs, maxLineBytes: config.maxBodyBytes, log,
  });
  const streamable = (refused?: (status: number) => boolean): LineUpstream => new StreamableUpstream({
    url, headers: config.upstreamHeaders, ca: config.upstreamCa, verify: !config.upstreamInsecure,
    headTimeoutMs: config.upstreamTimeoutMs, maxBodyBytes: config.maxBodyBytes, recover: config.recoverSessions, log,
    closeTimeoutMs: config.shutdownTimeoutMs, ...flow, onHandshakeRefused: refused,
  });
  switch (config.upstreamTransport) {
    case 'sse': return sse();
    case 'auto': return new AutoUpstream(streamable, sse, log);
    case 'streamable': return streamable();
  }
}
