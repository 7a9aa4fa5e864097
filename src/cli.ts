#!/usr/bin/env node
// The shadowcat command: parse flags once, start the chosen mode, and turn signals into
// a graceful shutdown (a second signal forces exit). The only reader of argv and exit codes.

import cluster from 'node:cluster';
import { createApp } from './app/app.js';
import { runPrimary, serveWorker, workerConfig, workerSlot } from './app/cluster.js';
import { onShutdownSignals } from './app/signals.js';
import { runStdio } from './app/stdio.js';
import { runStdioRemote } from './app/stdio-remote.js';
import { runReplay, runTapeShow } from './app/replay.js';
import { TapeError } from './tape/format.js';
import { parseConfig } from './cli/argv.js';
import type { Config } from './config.js';
import { ConfigError, ProxyError } from './errors.js';
import { createLogger } from './observe/logger.js';
import { BUNDLED, VERSION } from './version.js';

// The binary also names the Node inside it.
const version = BUNDLED ? `${VERSION} (single executable, Node.js ${process.version} inside)` : VERSION;

async function runNetwork(given: Config): Promise<void> {
  const log = createLogger(given.logLevel);
  if (given.workers > 1 && cluster.isPrimary) {
    process.exit(await runPrimary(given, log));
  }
  const worker = cluster.isWorker;
  const config = worker ? workerConfig(given, process.env) : given;
  const app = createApp(config, worker ? { logger: log, workerSlot: workerSlot(process.env) } : { logger: log });
  // SIGHUP reloads the policy; without one it keeps its default (the process ends).
  if (config.policyFile !== null || config.authKeys !== null || config.authJwt) process.on('SIGHUP', () => app.reloadPolicy());
  onShutdownSignals((signal) => {
    log.info({ signal, sessions: app.registry.size, timeoutMs: config.shutdownTimeoutMs }, 'draining');
    app.close().then(
      // app.close() logs how many sessions drained and how many were forced.
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err: String(err) }, 'shutdown failed');
        process.exit(1);
      },
    );
  }, (signal) => {
    log.warn({ signal }, 'second signal: exiting now');
    process.exit(130);
  });
  const addr = await app.listen();
  // One word at start when the upstream cannot be reached (from the first worker alone with --workers).
  if (!worker || cluster.worker?.id === 1) void app.probeUpstream();
  if (worker) {
    serveWorker(app, addr.port);
    return;
  }
  // docs/reference.md: without --url, tell a newcomer how to reach the demo server through the proxy.
  if (config.mode === 'http' && config.upstreamUrl === null && addr.upstreamUrl !== null) {
    const host = config.host.includes(':') ? `[${config.host}]` : config.host;
    const body = '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"curl","version":"1"}}}';
    const curl = `curl -s -i -X POST http://${host}:${addr.port}/mcp -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' -d '${body}'`;
    log.info({ curl }, 'try it');
    // The JSON log escapes the quotes; a human pastes from this plain line instead.
    process.stderr.write(`\nTry it (paste in another terminal):\n  ${curl}\n\n`);
  }
}

async function main(): Promise<void> {
  let invocation;
  try {
    // A worker of the single executable gets the binary's path once more before the
    // arguments (cluster passes its "script", and a single executable has none).
    invocation = parseConfig(process.argv.slice(BUNDLED && cluster.isWorker ? 3 : 2), version, process.env);
  } catch (err) {
    if (err instanceof ProxyError) {
      process.stderr.write(`shadowcat: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  if (invocation.kind === 'help' || invocation.kind === 'version') {
    process.stdout.write(`${invocation.text}\n`);
    return;
  }
  if (invocation.kind === 'replay' || invocation.kind === 'tape-show') {
    try {
      if (invocation.kind === 'replay') await runReplay(invocation.args, createLogger(invocation.args.logLevel));
      else runTapeShow(invocation.file);
    } catch (err) {
      // A tape that cannot be read is a bad argument, like a bad flag.
      process.stderr.write(`shadowcat: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(err instanceof TapeError ? 2 : 1);
    }
    return;
  }
  const config = invocation.config;
  try {
    if (config.mode === 'stdio') {
      const log = createLogger(config.logLevel);
      process.exitCode = config.upstreamUrl !== null ? await runStdioRemote(config, log) : await runStdio(config, log);
      return;
    }
    await runNetwork(config);
  } catch (err) {
    // A bad --policy file is found when the app is made: a flag error like the others.
    process.stderr.write(`shadowcat: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(err instanceof ConfigError ? 2 : 1);
  }
}

void main();
