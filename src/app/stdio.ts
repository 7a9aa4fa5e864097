// Wires forward stdio: the bridge on this process's own stdin/stdout, signals, and the
// exit code of the child.

import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { Correlator } from '../mcp/correlator.js';
import { McpMessageSink } from '../mcp/inspector.js';
import { Metrics } from '../observe/metrics.js';
import { startStdioBridge } from '../proxy/stdio-bridge.js';
import { onShutdownSignals } from './signals.js';

/** Runs the stdio bridge until the child exits; resolves with the exit code to use. */
export async function runStdio(config: Config, log: Logger): Promise<number> {
  const metrics = new Metrics({ liveSessions: () => 1, liveBytes: () => ({ in: 0, out: 0 }) });
  const sink = new McpMessageSink(metrics, new Correlator(), config.inspectLimitBytes, log.isLevelEnabled('debug'));
  const bridge = startStdioBridge({
    command: config.command,
    input: process.stdin,
    output: process.stdout,
    shutdownTimeoutMs: config.shutdownTimeoutMs,
    killGraceMs: Math.min(5000, Math.max(1000, config.shutdownTimeoutMs)),
    sink,
    log: log.child({ sid: 'stdio' }),
  });
  const unsubscribe = onShutdownSignals((signal) => {
    log.info({ signal }, 'signal: stopping the child');
    bridge.stop();
  }, (signal) => {
    log.info({ signal }, 'second signal: killing the child');
    bridge.kill();
  });
  const code = await bridge.exited;
  unsubscribe();
  return code;
}
