// Policy rules (docs/reference.md "Policies: interceptor rules"): read from a JSON or YAML file (or an
// embedder's object), validated whole (the first problem is one line naming the rule and
// field), compiled once (globs to matchers, CIDRs to a BlockList), then matched against
// client messages: the first rule that matches decides.

import { readDataFile } from '../data-file.js';
import { editDistance } from '../edit-distance.js';
import { ConfigError } from '../errors.js';
import { KNOWN_METHOD_NAMES } from '../mcp/jsonrpc.js';
import type { ClientCall } from '../mcp/message.js';
import { CidrList } from './cidr.js';

/** What a rule does with a message it matches. */
export type Action = 'allow' | 'block' | 'hide' | 'mock' | 'delay';
const ACTIONS: readonly Action[] = ['allow', 'block', 'hide', 'mock', 'delay'];

/** A compiled glob (`*` any run, `?` one character) or exact string. */
export type Matcher = (text: string) => boolean;

/** The list method a `hide` rule filters → the method that reaches what it hides. */
const HIDE_TARGETS: Readonly<Record<string, string>> = Object.freeze({
  'tools/list': 'tools/call', 'prompts/list': 'prompts/get', 'resources/list': 'resources/read',
});

/** One compiled rule. */
export interface Rule {
  readonly name: string;
  readonly action: Action;
  readonly method: Matcher | null;
  readonly tool: Matcher | null;
  readonly client: CidrList | null;
  /** The caller's identity (--auth-keys: the key's name): a glob; never matches a caller without one. */
  readonly subject: Matcher | null;
  /** Token claims that must hold these values (--auth-jwt); never matches a caller without a token. */
  readonly claims: ClaimTest | null;
  readonly mcpSessionId: Matcher | null;
  readonly direction: 'request' | 'notification';
  /** block: the error message. */
  readonly message: string;
  /** hide: what list entries (by name, or uri for resources) to drop; the list method and its call method. */
  readonly hide: { readonly names: Matcher; readonly list: string; readonly call: string } | null;
  /** mock: the result as JSON text. */
  readonly resultJson: string;
  /** delay: milliseconds. */
  readonly ms: number;
  /** The rule as written, for GET /policy. */
  readonly source: Readonly<Record<string, unknown>>;
}

/** How a rule matched: by its own match block, or (hide) as the call that reaches a hidden entry. */
export interface RuleMatch {
  readonly rule: Rule;
  readonly hiddenCall: boolean;
}

const RULE_KEYS = new Set(['name', 'match', 'action', 'message', 'names', 'result', 'ms', 'custom']);
// The methods whose params.name (or params.uri) a rule's `tool` is matched against.
const NAMED_METHODS: readonly string[] = ['tools/call', 'prompts/get', 'resources/read'];
const MATCH_KEYS = new Set(['method', 'tool', 'client', 'subject', 'claims', 'mcpSessionId', 'direction']);

/** A claim value a rule names: exact, or a list of which any will do. */
type ClaimValue = string | number | boolean;
/** match.claims compiled: every named claim holds one of its values (or, for a list claim, contains one). */
type ClaimTest = (claims: Readonly<Record<string, unknown>>) => boolean;

/** Compiles match.claims, or returns what is wrong with it. */
function claimTest(spec: unknown): ClaimTest | string {
  if (typeof spec !== 'object' || spec === null || Array.isArray(spec) || Object.keys(spec).length === 0) return 'expected { claim: value | [values] } with at least one claim';
  const entries: [string, readonly ClaimValue[]][] = [];
  for (const [k, v] of Object.entries(spec)) {
    const values = Array.isArray(v) ? v : [v];
    if (values.length === 0 || !values.every((x) => typeof x === 'string' || typeof x === 'number' || typeof x === 'boolean')) {
      return `${k}: expected a string, number or boolean (or a list of them)`;
    }
    entries.push([k, values as ClaimValue[]]);
  }
  return (claims) => entries.every(([k, values]) => {
    const held = claims[k];
    return Array.isArray(held) ? held.some((h) => values.includes(h as ClaimValue)) : values.includes(held as ClaimValue);
  });
}
const NAME = /^[A-Za-z0-9_.:-]{1,64}$/;
const MAX_DELAY_MS = 600_000;
const METHOD_CACHE = 1024;
/** Names remembered across methods (a client's tools; a flood of others clears them). */
const NAME_CACHE = 4096;
/** Longer methods and names are matched without being remembered: the caches stay small
 *  whatever a client sends (a name may be as long as --inspect-limit). */
const MAX_CACHED_KEY = 256;

/** The name in `names` closest to `text` by edit distance. */
function nearest(text: string, names: readonly string[]): string {
  let best = names[0]!;
  let bestD = Infinity;
  for (const n of names) {
    const d = editDistance(text, n);
    if (d < bestD) {
      best = n;
      bestD = d;
    }
  }
  return best;
}

/** The regular-expression source of a glob (unanchored). */
function globSource(pattern: string): string {
  return pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[\\s\\S]*').replace(/\?/g, '[\\s\\S]');
}

/** A glob as a matcher; exact text compares as a string. */
export function glob(pattern: string): Matcher {
  if (!/[*?]/.test(pattern)) return (t) => t === pattern;
  const re = new RegExp(`^${globSource(pattern)}$`);
  return (t) => re.test(t);
}

function anyOf(matchers: readonly Matcher[]): Matcher {
  return matchers.length === 1 ? matchers[0]! : (t) => matchers.some((m) => m(t));
}

/** The rules that may match one method, and per name the ones whose method and name tests pass. */
interface MethodRules {
  readonly rules: readonly Rule[];
  /** By params.name (or uri): the matches as far as method and name decide, in rule order. */
  readonly byName: Map<string, readonly RuleMatch[]>;
  /** The same for a message with no name; made on first use. */
  unnamed: readonly RuleMatch[] | null;
}

const NO_MATCHES: readonly RuleMatch[] = Object.freeze([]);

/** The rule set in force: rules in order, and which methods any of them may match. */
export class RuleSet {
  readonly rules: readonly Rule[];
  /** Methods named exactly; null when some rule matches every method. */
  readonly #exact: ReadonlySet<string> | null;
  readonly #globs: readonly Matcher[];
  readonly #cache = new Map<string, boolean>();
  // Per method, then per name: the method, tool and hide tests depend on nothing else, so
  // a client calling the same tools is matched only on what rests on the caller (session,
  // address, identity). Bounded in entries and in key length: a flood clears them, never grows them.
  readonly #byMethod = new Map<string, MethodRules>();
  /** Names remembered in every method's byName together. */
  #names = 0;

  constructor(rules: readonly Rule[]) {
    this.rules = Object.freeze([...rules]);
    const exact = new Set<string>();
    const globs: Matcher[] = [];
    let all = false;
    for (const r of rules) {
      const m = r.source.match as Record<string, unknown> | undefined;
      const method = typeof m?.method === 'string' ? m.method : null;
      if (method === null) all = true;
      else if (/[*?]/.test(method)) globs.push(r.method!);
      else exact.add(method);
      if (r.hide !== null) exact.add(r.hide.call);
    }
    this.#exact = all ? null : exact;
    this.#globs = globs;
  }

  /** True when some rule may match a message with this method. */
  cares(method: string): boolean {
    const exact = this.#exact;
    if (exact === null) return true;
    if (exact.has(method)) return true;
    if (this.#globs.length === 0) return false;
    if (method.length > MAX_CACHED_KEY) return this.#globs.some((g) => g(method));
    let hit = this.#cache.get(method);
    if (hit === undefined) {
      hit = this.#globs.some((g) => g(method));
      if (this.#cache.size >= METHOD_CACHE) this.#cache.clear();
      this.#cache.set(method, hit);
    }
    return hit;
  }

  #forMethod(method: string): MethodRules {
    let c = this.#byMethod.get(method);
    if (c === undefined) {
      const rules = this.rules.filter((r) => (r.hide !== null && r.hide.call === method) || (r.hide?.call !== method && (r.method === null || r.method(method))));
      c = { rules, byName: new Map(), unnamed: null };
      if (method.length > MAX_CACHED_KEY) return c;
      if (this.#byMethod.size >= METHOD_CACHE) {
        this.#byMethod.clear();
        this.#names = 0;
      }
      this.#byMethod.set(method, c);
    }
    return c;
  }

  /** The matches of (method, name) as far as method and name decide, remembered when short. */
  #named(c: MethodRules, method: string, name: string): readonly RuleMatch[] {
    if (name.length > MAX_CACHED_KEY || method.length > MAX_CACHED_KEY) return RuleSet.#byNameTests(c, method, name);
    let named = c.byName.get(name);
    if (named === undefined) {
      named = RuleSet.#byNameTests(c, method, name);
      if (this.#names >= NAME_CACHE) {
        for (const m of this.#byMethod.values()) m.byName.clear();
        this.#names = 0;
      }
      c.byName.set(name, named);
      this.#names++;
    }
    return named;
  }

  /** The rules of `c` whose method and name tests pass for (method, name), in order. */
  static #byNameTests(c: MethodRules, method: string, name: string | null): readonly RuleMatch[] {
    const out: RuleMatch[] = [];
    for (const rule of c.rules) {
      const hide = rule.hide;
      if (hide !== null && method === hide.call) {
        if (name !== null && hide.names(name)) out.push(Object.freeze({ rule, hiddenCall: true }));
        continue;
      }
      if (rule.method !== null && !rule.method(method)) continue;
      if (rule.tool !== null && (name === null || !rule.tool(name))) continue;
      out.push(Object.freeze({ rule, hiddenCall: false }));
    }
    return out.length === 0 ? NO_MATCHES : Object.freeze(out);
  }

  /** The first rule that matches `call`, or null. */
  match(call: ClientCall): RuleMatch | null {
    const method = call.rawMethod;
    const c = this.#forMethod(method);
    if (c.rules.length === 0) return null;
    const name = call.name;
    const named = name === null ? (c.unnamed ??= RuleSet.#byNameTests(c, method, null)) : this.#named(c, method, name);
    if (named.length === 0) return null;
    const isNotification = !call.hasId;
    const requestLike = call.hasId || !method.startsWith('notifications/');
    // Cheapest tests first: the direction, then the session, then the client address.
    for (let i = 0; i < named.length; i++) {
      const hit = named[i]!;
      const rule = hit.rule;
      if (rule.direction === 'notification' ? !isNotification : !requestLike) continue;
      if (rule.mcpSessionId !== null && (call.mcpSession === null || !rule.mcpSessionId(call.mcpSession))) continue;
      if (rule.client !== null && !rule.client.has(call.clientIp)) continue;
      if (rule.subject !== null && (call.subject === null || !rule.subject(call.subject))) continue;
      if (rule.claims !== null && (call.claims === null || !rule.claims(call.claims))) continue;
      return hit;
    }
    return null;
  }
}

/** A loaded rule file: its rules and when it was read. */
export interface LoadedRules {
  readonly set: RuleSet;
  readonly file: string | null;
  readonly loadedAt: Date;
}

/** Reads and compiles a rule file (JSON or YAML by extension); throws ConfigError naming the problem. */
export function loadRuleFile(file: string): LoadedRules {
  const doc = readDataFile(file, 'policy');
  // A --config file may carry the rules in its policy: section.
  const rules = typeof doc === 'object' && doc !== null && !Array.isArray(doc) && 'policy' in doc ? (doc as { policy: unknown }).policy : doc;
  return { set: compileRules(rules, file), file, loadedAt: new Date() };
}

/** Compiles a rule document (`{ rules: [...] }`); `where` names it in errors. */
export function compileRules(doc: unknown, where: string): RuleSet {
  const fail = (msg: string): never => {
    throw new ConfigError(`policy ${where}: ${msg}`);
  };
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) fail('expected an object with a rules list');
  const top = doc as Record<string, unknown>;
  for (const k of Object.keys(top)) if (k !== 'rules') fail(`unknown key '${k}' (expected rules)`);
  if (!Array.isArray(top.rules)) fail('rules: expected a list');
  const names = new Set<string>();
  const rules = (top.rules as unknown[]).map((raw, i) => {
    const label = (): string => {
      const n = typeof raw === 'object' && raw !== null ? (raw as Record<string, unknown>).name : undefined;
      return typeof n === 'string' ? `rule ${i + 1} (${n})` : `rule ${i + 1}`;
    };
    const bad = (field: string, msg: string): never => fail(`${label()}: ${field}: ${msg}`);
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return fail(`${label()}: expected an object`);
    const r = raw as Record<string, unknown>;
    for (const k of Object.keys(r)) if (!RULE_KEYS.has(k)) bad(k, 'unknown field');
    if (typeof r.name !== 'string' || !NAME.test(r.name)) bad('name', 'expected 1-64 letters, digits, _ . : or -');
    const name = r.name as string;
    if (names.has(name)) bad('name', 'used by an earlier rule');
    names.add(name);
    if (typeof r.action !== 'string' || !(ACTIONS as readonly string[]).includes(r.action)) bad('action', `expected one of ${ACTIONS.join(', ')}`);
    const action = r.action as Action;
    const m = r.match ?? {};
    if (typeof m !== 'object' || m === null || Array.isArray(m)) bad('match', 'expected an object');
    const match = m as Record<string, unknown>;
    for (const k of Object.keys(match)) if (!MATCH_KEYS.has(k)) bad(`match.${k}`, 'unknown field');
    const str = (k: string): string | null => {
      const v = match[k];
      if (v === undefined) return null;
      if (typeof v !== 'string' || v === '') return bad(`match.${k}`, 'expected a non-empty string');
      return v as string;
    };
    const method = str('method');
    const tool = str('tool');
    if (r.custom !== undefined && typeof r.custom !== 'boolean') bad('custom', 'expected true or false');
    // A method no message will carry is a rule that never matches: a policy that fails open.
    if (method !== null && r.custom !== true) {
      const m = glob(method);
      const known = KNOWN_METHOD_NAMES.filter(m);
      if (known.length === 0) {
        bad('match.method', `'${method}' is no MCP method (nearest: ${nearest(method, KNOWN_METHOD_NAMES)}); a server's own method needs custom: true`);
      }
      if (tool !== null && !known.some((k) => NAMED_METHODS.includes(k))) {
        bad('match.tool', `'${method}' carries no tool name (tool matches ${NAMED_METHODS.join(', ')})`);
      }
    }
    const mcp = str('mcpSessionId');
    const subject = str('subject');
    let claims: ClaimTest | null = null;
    if (match.claims !== undefined) {
      const t = claimTest(match.claims);
      if (typeof t === 'string') bad('match.claims', t);
      claims = t as ClaimTest;
    }
    const direction = str('direction') ?? 'request';
    if (direction !== 'request' && direction !== 'notification') bad('match.direction', 'expected request or notification');
    let client: CidrList | null = null;
    if (match.client !== undefined) {
      const list = Array.isArray(match.client) ? match.client : [match.client];
      client = new CidrList();
      for (const c of list) {
        if (typeof c !== 'string') return bad('match.client', 'expected an IP or CIDR (or a list of them)');
        const problem = client.add(c);
        if (problem !== null) return bad('match.client', problem);
      }
    }
    const allowed = (field: string, ok: boolean): void => {
      if (r[field] !== undefined && !ok) bad(field, `only for action ${field === 'message' ? 'block' : field === 'names' ? 'hide' : field === 'result' ? 'mock' : 'delay'}`);
    };
    allowed('message', action === 'block');
    allowed('names', action === 'hide');
    allowed('result', action === 'mock');
    allowed('ms', action === 'delay');
    let message = `blocked by policy rule ${name}`;
    if (r.message !== undefined) {
      if (typeof r.message !== 'string' || r.message === '') bad('message', 'expected a non-empty string');
      message = r.message as string;
    }
    let hide: Rule['hide'] = null;
    if (action === 'hide') {
      if (method === null || HIDE_TARGETS[method] === undefined) bad('match.method', `hide needs one of ${Object.keys(HIDE_TARGETS).join(', ')}`);
      if (tool !== null) bad('match.tool', 'hide filters by names, not by tool');
      if (!Array.isArray(r.names) || r.names.length === 0 || !r.names.every((n) => typeof n === 'string' && n !== '')) bad('names', 'expected a list of names or globs');
      hide = Object.freeze({ names: anyOf((r.names as string[]).map(glob)), list: method!, call: HIDE_TARGETS[method!]! });
    }
    let resultJson = '';
    if (action === 'mock') {
      if (typeof r.result !== 'object' || r.result === null || Array.isArray(r.result)) bad('result', 'expected an object (the JSON-RPC result)');
      resultJson = JSON.stringify(r.result);
    }
    let ms = 0;
    if (action === 'delay') {
      if (typeof r.ms !== 'number' || !Number.isInteger(r.ms) || r.ms < 0 || r.ms > MAX_DELAY_MS) bad('ms', `expected whole milliseconds, 0..${MAX_DELAY_MS}`);
      ms = r.ms as number;
    }
    return Object.freeze({
      name, action, method: method === null ? null : glob(method), tool: tool === null ? null : glob(tool), client, subject: subject === null ? null : glob(subject), claims,
      mcpSessionId: mcp === null ? null : glob(mcp), direction: direction as Rule['direction'], message, hide, resultJson, ms,
      source: Object.freeze(structuredClone(r)),
    });
  });
  return new RuleSet(rules);
}
