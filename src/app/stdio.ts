// Wires forward stdio: the bridge on this process's own stdin/stdout, signals, and the
// exit code of the child.

import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { Correlator } from '../mcp/correlator.js';
import { McpMessageSink } from '../mcp/inspector.js';
import { Metrics } from '../observe/metrics.js';
import { startStdioBridge } from '../proxy/stdio-bridge.js';

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
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    signals++;
    log.info({ signal }, signals > 1 ? 'second signal: killing the child' : 'signal: stopping the child');
    if (signals > 1) bridge.kill();
    else bridge.stop();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  const code = await bridge.exited;
  process.removeListener('SIGTERM', onSignal);
  process.removeListener('SIGINT', onSignal);
  return code;
}
