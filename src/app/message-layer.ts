// The message-level hooks of a process (docs/architecture.md "Observers, not middlemen"),
// built once for forward http and forward stdio alike: the
// metrics observer, the conformance lint, the recorder and an embedder's observers, in that order; the
// policy and an embedder's deciders; the sink the inspectors feed and the gate that
// judges held messages (only when some decider exists).

import type { Config } from '../config.js';
import { ConformanceLint } from '../mcp/conformance.js';
import { Correlator } from '../mcp/correlator.js';
import { MessageGate } from '../mcp/gate.js';
import { McpMessageSink, McpMetricsObserver } from '../mcp/inspector.js';
import { MessageHooks, type MessageDecider, type MessageObserver } from '../mcp/message.js';
import type { Logger } from '../observe/logger.js';
import type { Metrics } from '../observe/metrics.js';
import { PolicyDecider } from '../policy/policy.js';
import { compileRules, loadRuleFile, type LoadedRules } from '../policy/rules.js';
import { checkRecordDir, Recorder } from '../tape/recorder.js';
import type { TapeOpener } from '../tape/tape-file.js';
import { VERSION } from '../version.js';

/** What a process's message layer is made of. */
export interface MessageLayer {
  readonly policy: PolicyDecider | null;
  readonly lint: ConformanceLint;
  readonly sink: McpMessageSink;
  readonly gate: MessageGate | null;
  /** --record's observer, or null. */
  readonly recorder: Recorder | null;
}

/** An embedder's additions. */
export interface MessageExtras {
  readonly observers?: readonly MessageObserver[];
  readonly deciders?: readonly MessageDecider[];
  /** Policy rules as an object, when there is no --policy FILE. */
  readonly policyRules?: unknown;
  /** How --record opens tape files (tests give a pipe nobody reads). */
  readonly openTape?: TapeOpener;
}

/** Builds the layer; a bad policy file throws ConfigError here, before anything starts. */
export function createMessageLayer(config: Config, metrics: Metrics, log: Logger, debug: boolean, extras: MessageExtras = {}): MessageLayer {
  const rules: LoadedRules | null = config.policyFile !== null ? loadRuleFile(config.policyFile)
    : extras.policyRules !== undefined ? { set: compileRules(extras.policyRules, 'rules'), file: null, loadedAt: new Date() } : null;
  const policy = rules === null ? null : new PolicyDecider(rules, metrics, log);
  const deciders: MessageDecider[] = [...(policy === null ? [] : [policy]), ...(extras.deciders ?? [])];
  const lint = new ConformanceLint(metrics, log);
  let recorder: Recorder | null = null;
  if (config.recordDir !== null) {
    checkRecordDir(config.recordDir);
    recorder = new Recorder({
      dir: config.recordDir, queueBytes: config.recordQueueBytes, version: VERSION, idleMs: config.sessionTimeoutMs,
      mode: config.mode === 'stdio' ? 'stdio' : `${config.mode} ${config.multiSession ? 'multi-session' : 'single-session'}`,
      // Only the program: its arguments may carry a key.
      upstream: config.mode === 'stdio' ? (config.command[0] ?? '') : '',
      ...(extras.openTape === undefined ? {} : { open: extras.openTape }),
    }, metrics, log);
  }
  const observers: MessageObserver[] = [new McpMetricsObserver(metrics, new Correlator(), debug), lint, ...(recorder === null ? [] : [recorder]), ...(extras.observers ?? [])];
  const hooks = new MessageHooks(observers, deciders);
  const sink = new McpMessageSink(hooks, metrics, config.inspectLimitBytes, debug);
  return { policy, lint, sink, gate: deciders.length > 0 ? new MessageGate(hooks, sink) : null, recorder };
}
