// A remote Streamable HTTP server as a line transport for the message bridge, so the same
// session layer (ChildLink) that serves a stdio child serves it: each line sent is POSTed
// by a StreamableClient (one MCP session upstream), and every message that comes back, or
// that the client made for a request the server cannot answer, is a line. It ends only when
// stopped: a server that fails answers each request with a JSON-RPC error instead.

import type { LineHandler, LineUpstream } from './line-upstream.js';
import { StreamableClient, type StreamableClientOptions } from './streamable-client.js';
import { ProxyError } from '../errors.js';
import { outgoingOf } from '../mcp/outgoing.js';
import type { Logger } from '../observe/logger.js';
import { connectFailure } from './http-agent.js';
import { publicUrl } from './public-url.js';

/** How the server is reached: the client's options, less what this transport supplies. */
export type StreamableUpstreamOptions = Omit<StreamableClientOptions, 'onMessage' | 'blocked' | 'onDrain'> & {
  /** Time a stop gives messages in flight before DELETE. */
  readonly closeTimeoutMs: number;
  /** The reader's output is backed up (forward stdio: stdout): streams pause until onDrain. */
  readonly blocked?: () => boolean;
  readonly onDrain?: (resume: () => void) => void;
};

/** One MCP session with a remote Streamable HTTP server, as lines. */
export class StreamableUpstream implements LineUpstream {
  readonly command: readonly string[];
  readonly pid = null;
  readonly stderrTail = '';
  readonly #client: StreamableClient;
  readonly #closeTimeoutMs: number;
  #handler: LineHandler | null = null;
  #early: Buffer[] = [];
  #stopping: Promise<void> | null = null;
  #ended = false;

  constructor(options: StreamableUpstreamOptions) {
    this.command = [publicUrl(options.url)];
    this.#closeTimeoutMs = options.closeTimeoutMs;
    this.#client = new StreamableClient({
      ...options,
      onMessage: (m) => {
        if (this.#handler !== null) this.#handler.line(m);
        else this.#early.push(m);
      },
      blocked: options.blocked ?? (() => false),
      onDrain: options.onDrain ?? ((resume) => resume()),
    });
  }

  get usable(): boolean {
    return this.#stopping === null && !this.#ended;
  }

  own(handler: LineHandler, _log: Logger): void {
    this.#handler = handler;
    const early = this.#early;
    this.#early = [];
    for (const l of early) handler.line(l);
  }

  send(line: Buffer | string): boolean {
    if (!this.usable) return false;
    const what = outgoingOf(line);
    if (what === null || what === 'not-json') return false;
    this.#client.send({ body: typeof line === 'string' ? Buffer.from(line, 'utf8') : line, ...what });
    return true;
  }

  stop(): Promise<void> {
    this.#stopping ??= this.#client.close(this.#closeTimeoutMs).then(() => this.#end());
    return this.#stopping;
  }

  kill(): void {
    this.#client.destroy();
    this.#end();
  }

  startFailure(err: Error): ProxyError {
    return err instanceof ProxyError ? err : connectFailure(err as NodeJS.ErrnoException);
  }

  #end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#handler?.exit(0, null, null);
  }
}
