// The official @modelcontextprotocol/server-everything, run as a child process.

import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);
/** Path of server-everything's entry point. */
export const EVERYTHING = join(dirname(require.resolve('@modelcontextprotocol/server-everything/package.json')), 'dist', 'index.js');
const PRELOAD = new URL('../../test/fixtures/loopback-listen.cjs', import.meta.url).pathname;

/** A running server-everything in Streamable HTTP mode. */
export interface Everything {
  readonly child: ChildProcess;
  readonly port: number;
  readonly url: string;
  close(): Promise<void>;
}

/** Starts server-everything's Streamable HTTP transport (or its legacy SSE one: url ends in /sse) on 127.0.0.1 and `listenPort` (default: an OS-picked one). */
export async function startEverythingHttp(listenPort = 0, transport: 'streamableHttp' | 'sse' = 'streamableHttp'): Promise<Everything> {
  const child = spawn(process.execPath, ['--require', PRELOAD, EVERYTHING, transport], {
    env: { ...process.env, PORT: String(listenPort) },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  const port = await new Promise<number>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`server-everything did not start:\n${log}`)), 20_000);
    child.stderr!.on('data', (d: Buffer) => {
      log += d.toString();
      const m = /LOOPBACK_LISTENING (\d+)/.exec(log);
      if (m !== null) {
        clearTimeout(t);
        resolve(Number(m[1]));
      }
    });
    child.once('exit', (code) => reject(new Error(`server-everything exited ${code}:\n${log}`)));
  });
  return {
    child,
    port,
    url: `http://127.0.0.1:${port}/${transport === 'sse' ? 'sse' : 'mcp'}`,
    close: () => new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    }),
  };
}
