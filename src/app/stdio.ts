// Wires forward stdio: the bridge on this process's own stdin/stdout, signals, and the
// exit code of the child.

import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { createMessageLayer } from './message-layer.js';
import { Metrics } from '../observe/metrics.js';
import { startStdioBridge } from '../proxy/stdio-bridge.js';
import { onShutdownSignals } from './signals.js';

/** Runs the stdio bridge until the child exits; resolves with the exit code to use. */
export async function runStdio(config: Config, log: Logger): Promise<number> {
  const metrics = new Metrics({ liveSessions: () => 1, liveBytes: () => ({ in: 0, out: 0 }) });
  const debug = log.isLevelEnabled('debug');
  const { policy, lint, sink, gate, recorder } = createMessageLayer(config, metrics, log.child({ sid: 'stdio' }), debug);
  sink.onMalformed = (from, bytes) => {
    if (from === 'server') lint.onNonJsonLine(bytes);
  };
  const bridge = startStdioBridge({
    command: config.command,
    input: process.stdin,
    output: process.stdout,
    shutdownTimeoutMs: config.shutdownTimeoutMs,
    killGraceMs: Math.min(5000, Math.max(1000, config.shutdownTimeoutMs)),
    sink,
    gate,
    log: log.child({ sid: 'stdio' }),
  });
  policy?.watch();
  const onHup = (): void => {
    policy?.reload('SIGHUP');
  };
  if (policy !== null) process.on('SIGHUP', onHup);
  const unsubscribe = onShutdownSignals((signal) => {
    log.info({ signal }, 'signal: stopping the child');
    bridge.stop();
  }, (signal) => {
    log.info({ signal }, 'second signal: killing the child');
    bridge.kill();
  });
  const code = await bridge.exited;
  if (recorder !== null) {
    sink.proxySessionEnded('stdio');
    await recorder.close(Math.max(1000, config.shutdownTimeoutMs));
  }
  unsubscribe();
  policy?.close();
  process.removeListener('SIGHUP', onHup);
  return code;
}
