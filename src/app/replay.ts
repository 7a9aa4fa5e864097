// Wires the tape commands: `replay` (tapes → a Streamable HTTP or stdio MCP server, until
// a signal or the end of stdin) and `tape show` (a timeline on stdout).

import type { Logger } from '../observe/logger.js';
import type { ReplayArgs } from '../tape/replay.js';
import { CallBook } from '../tape/book.js';
import { readTape, tapeFiles } from '../tape/format.js';
import { startReplayHttp } from '../tape/replay-http.js';
import { runReplayStdio } from '../tape/replay-stdio.js';
import { paintFor, showTape } from '../tape/show.js';
import { onShutdownSignals } from './signals.js';

/** Loads the tapes and serves them until stopped; throws TapeError for tapes it cannot read. */
export async function runReplay(args: ReplayArgs, log: Logger): Promise<void> {
  const tapes = tapeFiles(args.target).map(readTape);
  const book = new CallBook(tapes);
  const unreadable = tapes.reduce((n, t) => n + t.unreadable, 0);
  if (unreadable > 0) log.warn({ lines: unreadable }, 'replay: some tape lines are not JSON or hold values replay cannot use, and were skipped');
  if (args.stdio) {
    log.info({ tapes: tapes.length, calls: book.size, sessions: book.sessions.length, timing: args.timing }, 'replaying on stdio');
    await runReplayStdio(book, { input: process.stdin, output: process.stdout, timing: args.timing, log });
    return;
  }
  const server = await startReplayHttp(book, { host: args.host, port: args.port, timing: args.timing, log });
  const host = args.host.includes(':') ? `[${args.host}]` : args.host;
  log.info({ tapes: tapes.length, calls: book.size, sessions: book.sessions.length, timing: args.timing, url: `http://${host}:${server.port}/mcp` }, 'replaying');
  await new Promise<void>((resolve) => {
    const unsubscribe = onShutdownSignals(() => {
      unsubscribe();
      void server.close().then(resolve);
    }, () => process.exit(130));
  });
}

/** Prints the timeline of a tape, or of each tape of a folder (oldest first, a blank line between); throws TapeError. */
export function runTapeShow(target: string): void {
  const paint = paintFor(process.stdout.isTTY === true, process.env);
  const shown = tapeFiles(target).map((file) => showTape(readTape(file), paint).join('\n'));
  process.stdout.write(`${shown.join('\n\n')}\n`);
}
