// The policy decider: the rule set in force (reloaded from its file on change or SIGHUP;
// a file that fails validation keeps the old rules), turned into verdicts, counted per
// rule and logged once per decision (rule, method, tool, session; never arguments).

import { watchFile } from '../file-watch.js';
import type { ClientCall, MessageDecider, Verdict } from '../mcp/message.js';
import type { Logger } from '../observe/logger.js';
import type { Metrics } from '../observe/metrics.js';
import { loadRuleFile, type LoadedRules, type Rule, type RuleSet } from './rules.js';

/** The JSON-RPC error code of a blocked request (docs/reference.md). */
export const POLICY_ERROR_CODE = -32001;

const LIST_KEY: Readonly<Record<string, string>> = Object.freeze({ 'tools/list': 'tools', 'prompts/list': 'prompts', 'resources/list': 'resources' });

/** What GET /policy shows. */
export interface PolicySnapshot {
  readonly file: string | null;
  readonly loadedAt: string;
  readonly rules: readonly Record<string, unknown>[];
  readonly lastReloadError: string | null;
}

/** Decides client messages by the rules in force. */
export class PolicyDecider implements MessageDecider {
  #loaded: LoadedRules;
  #set: RuleSet;
  readonly #hits = new Map<string, number>();
  readonly #metrics: Metrics;
  readonly #log: Logger;
  #unwatch: (() => void) | null = null;
  #lastError: string | null = null;

  constructor(loaded: LoadedRules, metrics: Metrics, log: Logger) {
    this.#loaded = loaded;
    this.#set = loaded.set;
    this.#metrics = metrics;
    this.#log = log;
  }

  cares(method: string): boolean {
    return this.#set.cares(method);
  }

  decide(call: ClientCall): Verdict {
    const hit = this.#set.match(call);
    if (hit === null) return null;
    const rule = hit.rule;
    const action = hit.hiddenCall ? 'block' : rule.action;
    this.#hits.set(rule.name, (this.#hits.get(rule.name) ?? 0) + 1);
    this.#metrics.policyDecisions.labels(rule.name, action).inc();
    call.log().info({ rule: rule.name, action, method: call.rawMethod, tool: call.name ?? undefined, mcp: call.mcpSession ?? undefined, id: call.id ?? undefined }, 'policy decision');
    if (hit.hiddenCall) return blockVerdict(rule, `${call.name ?? 'this'} is not available here`);
    switch (rule.action) {
      case 'allow': return null;
      case 'block': return blockVerdict(rule, rule.message);
      case 'mock': return { type: 'answer', member: 'result', json: rule.resultJson };
      case 'delay': return { type: 'delay', ms: rule.ms };
      case 'hide': return hideVerdict(rule);
    }
  }

  /** Re-reads the file; a file that fails keeps the rules in force. Returns whether it loaded. */
  reload(why: string): boolean {
    const file = this.#loaded.file;
    if (file === null) return false;
    try {
      const loaded = loadRuleFile(file);
      this.#loaded = loaded;
      this.#set = loaded.set;
      this.#lastError = null;
      this.#metrics.policyReloads.labels('ok').inc();
      this.#log.info({ file, rules: loaded.set.rules.length, why }, 'policy reloaded');
      return true;
    } catch (err) {
      this.#lastError = (err as Error).message;
      this.#metrics.policyReloads.labels('error').inc();
      this.#log.error({ file, err: this.#lastError, why }, 'policy reload failed: the rules in force stay');
      return false;
    }
  }

  /** Reloads when the file changes (its folder is watched: editors replace files by rename). */
  watch(): void {
    const file = this.#loaded.file;
    if (file === null || this.#unwatch !== null) return;
    this.#unwatch = watchFile(file, () => this.reload('file changed'),
      (err) => this.#log.warn({ file, err: err.message }, 'cannot watch the policy file: reload with SIGHUP'));
  }

  /** Stops watching. */
  close(): void {
    this.#unwatch?.();
    this.#unwatch = null;
  }

  /** The rules in force with hit counts, for GET /policy. */
  snapshot(): PolicySnapshot {
    return {
      file: this.#loaded.file,
      loadedAt: this.#loaded.loadedAt.toISOString(),
      rules: this.#set.rules.map((r) => ({ ...r.source, hits: this.#hits.get(r.name) ?? 0 })),
      lastReloadError: this.#lastError,
    };
  }
}

function blockVerdict(rule: Rule, message: string): Verdict {
  return { type: 'answer', member: 'error', json: JSON.stringify({ code: POLICY_ERROR_CODE, message, data: { reason: 'policy', rule: rule.name } }) };
}

function hideVerdict(rule: Rule): Verdict {
  const hide = rule.hide!;
  const key = LIST_KEY[hide.list]!;
  const uriToo = key === 'resources';
  return {
    type: 'rewrite',
    rewrite(result) {
      const list = result[key];
      if (!Array.isArray(list)) return result;
      const kept = list.filter((e: unknown) => {
        if (typeof e !== 'object' || e === null) return true;
        const entry = e as Record<string, unknown>;
        if (typeof entry.name === 'string' && hide.names(entry.name)) return false;
        return !(uriToo && typeof entry.uri === 'string' && hide.names(entry.uri));
      });
      return kept.length === list.length ? result : { ...result, [key]: kept };
    },
  };
}
