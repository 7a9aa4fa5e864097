// What the message bridge's session layer (ChildLink) needs of an upstream: a line
// transport carrying one JSON-RPC message per line, that ends once. A stdio child is one;
// a legacy HTTP+SSE server (one SSE connection, a POST per message) is another.

import type { ProxyError } from '../errors.js';
import type { Logger } from '../observe/logger.js';

/** Receives an upstream's lines and its end. */
export interface LineHandler {
  /** One message line (without the LF). */
  line(line: Buffer): void;
  /** The upstream ended: an exit code or signal (a child), or why it could not start. */
  exit(code: number | null, signal: NodeJS.Signals | null, startError: Error | null): void;
}

/** A message transport to one MCP server. */
export interface LineUpstream {
  /** What it runs or reaches (for logs and errors): the command, or the URL for people. */
  readonly command: readonly string[];
  /** A child's pid; null for a remote server. */
  readonly pid: number | null;
  /** False once it ended or is being stopped. */
  readonly usable: boolean;
  /** The last bytes of a child's stderr ('' for a remote server). */
  readonly stderrTail: string;
  /** Takes the lines and the end; what came before is handed over first. */
  own(handler: LineHandler, log: Logger): void;
  /** Sends one message line; false when gone or backed up past its limit. */
  send(line: Buffer | string): boolean;
  /** Ends it gracefully; resolves once it is gone. */
  stop(): Promise<void>;
  /** Ends it at once. */
  kill(): void;
  /** The error a client sees when it could not start. */
  startFailure(err: Error): ProxyError;
}
