// The judge of a held client message (an HTTP request body or a stdio line): read it
// strictly, ask the deciders, and say what the transport must do. It fails closed: what
// it cannot read with certainty (invalid JSON, a repeated member, a batch that holds a
// message a decider acts on) is refused, never forwarded. So is whatever a common server
// stack would read differently from this reader (a BOM, bytes that are not UTF-8, a member
// name that differs from a JSON-RPC/MCP one only by case), and that is checked before the
// deciders are asked whether they care, since the method itself can be disguised.

import { isUtf8 } from 'node:buffer';
import { CallTemplates } from './call-template.js';
import { CallEnvelope, ENVELOPE_BATCH, ENVELOPE_DUPLICATE, ENVELOPE_EMPTY, ENVELOPE_FALLBACK, ENVELOPE_FOLDED, ENVELOPE_OK, hasDuplicateKeys, readCallEnvelope } from './envelope.js';
import type { McpMessageSink } from './inspector.js';
import { methodLabel } from './jsonrpc.js';
import { answerBytes, type ClientCall, type LazyLogger, type MessageHooks, type RewriteVerdict, type Verdict } from './message.js';

/** Where a held message came from. */
export interface GateContext {
  readonly proxySession: string;
  readonly mcpSession: string | null;
  readonly clientIp: string;
  /** Who the caller proved to be, or null. */
  readonly subject: string | null;
  /** The caller's verified token claims, or null. */
  readonly claims: Readonly<Record<string, unknown>> | null;
  readonly log: LazyLogger;
}

/** What the transport does with a held message. */
export type Judgement =
  | { readonly type: 'forward' }
  | { readonly type: 'delay'; readonly ms: number }
  /** Answer instead of the upstream; `body` null: a notification, which gets no answer. */
  | { readonly type: 'answer'; readonly body: Buffer | null }
  /** Forward, and rewrite the result of the response with this id. */
  | { readonly type: 'rewrite'; readonly verdict: RewriteVerdict; readonly idJson: string }
  /** Unreadable while a policy is loaded: refused with `why`. */
  | { readonly type: 'refuse'; readonly why: string };

const FORWARD: Judgement = Object.freeze({ type: 'forward' });
const FOLDED: Judgement = Object.freeze({ type: 'refuse', why: 'a member name differs from a JSON-RPC/MCP member only by case' });

// A rule matches names as strings: a server that coerces another value would run a call no rule saw.
const ODD_NAME: Judgement = Object.freeze({ type: 'refuse', why: 'params.name or params.uri is not a string' });

const WATCHED_TOP = new Set(['jsonrpc', 'method', 'id', 'params']);
const WATCHED_PARAMS = new Set(['name', 'uri', 'arguments']);

/** True when some key of `o` is not a watched name but a case-insensitive reader would take it
 *  for one: Unicode simple folding, as Go's encoding/json compares (U+017F is 's', U+212A 'k'). */
function hasFoldedKey(o: Record<string, unknown>, watched: ReadonlySet<string>): boolean {
  for (const k of Object.keys(o)) {
    if (watched.has(k)) continue;
    if (watched.has(k.toUpperCase().toLowerCase()) || watched.has(k.toLowerCase())) return true;
  }
  return false;
}

/** Why the bytes themselves read differently elsewhere, or null: a BOM (body-parser and
 *  Python strip it, JSON.parse refuses it) or bytes that are not UTF-8 (decoders differ on
 *  what they make of them). */
function codingProblem(body: Buffer): string | null {
  if (body.length >= 3 && body[0] === 0xef && body[1] === 0xbb && body[2] === 0xbf) return 'the message starts with a byte order mark';
  if (!isUtf8(body)) return 'the message is not valid UTF-8';
  return null;
}

/** Reads held client messages and asks the app's deciders about them. */
export class MessageGate {
  readonly #hooks: MessageHooks;
  readonly #env = new CallEnvelope();
  /** Calls read before, to read the next one like them without walking it (mcp/call-template.ts). */
  readonly #kept = new CallTemplates();
  /** The inspectors' sink, offered each read so it need not read a forwarded body again; null when none. */
  readonly #sink: McpMessageSink | null;

  constructor(hooks: MessageHooks, sink: McpMessageSink | null = null) {
    this.#hooks = hooks;
    this.#sink = sink;
  }

  /** True when a message with this method would be held (a decider may care). */
  cares(method: string): boolean {
    return this.#hooks.cares(method);
  }

  /** Judges the JSON body or line in `body`. */
  judge(body: Buffer, ctx: GateContext): Judgement {
    const problem = codingProblem(body);
    if (problem !== null) {
      this.#sink?.offer(null, this.#env);
      return { type: 'refuse', why: problem };
    }
    const env = this.#env;
    let read = ENVELOPE_OK;
    if (!this.#kept.read(body, env)) {
      read = readCallEnvelope(body, 0, body.length, env);
      if (read === ENVELOPE_OK) this.#kept.learn(body, env);
    }
    this.#sink?.offer(read === ENVELOPE_OK ? body : null, env);
    if (read === ENVELOPE_OK) {
      if (env.method === null || !this.#hooks.cares(env.method)) return FORWARD;
      if (env.oddName) return ODD_NAME;
      const name = env.method === 'resources/read' ? env.uri : env.name ?? env.uri;
      return this.#judgeOne(env.method, env.hasId, env.id, name, body, ctx);
    }
    if (read === ENVELOPE_EMPTY) return FORWARD;
    if (read === ENVELOPE_DUPLICATE) return { type: 'refuse', why: 'a member appears twice in the message' };
    if (read === ENVELOPE_FOLDED) return FOLDED;
    if (read !== ENVELOPE_BATCH && read !== ENVELOPE_FALLBACK) return { type: 'refuse', why: 'the message is not valid JSON' };
    return this.#judgeParsed(body, ctx);
  }

  /** The slow path: escapes, odd ids and batches, read with JSON.parse. */
  #judgeParsed(body: Buffer, ctx: GateContext): Judgement {
    const text = body.toString('utf8');
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      return { type: 'refuse', why: 'the message is not valid JSON' };
    }
    if (hasDuplicateKeys(text)) return { type: 'refuse', why: 'a member appears twice in the message' };
    if (!Array.isArray(value)) return this.#judgeValue(value, body, ctx);
    for (const item of value) {
      const j = this.#judgeValue(item, body, ctx);
      if (j === FOLDED) return j;
      if (j.type !== 'forward') return { type: 'refuse', why: 'a batch holds a message a policy rule acts on' };
    }
    return FORWARD;
  }

  #judgeValue(value: unknown, body: Buffer, ctx: GateContext): Judgement {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return FORWARD;
    const m = value as Record<string, unknown>;
    if (hasFoldedKey(m, WATCHED_TOP)) return FOLDED;
    const params = typeof m.params === 'object' && m.params !== null && !Array.isArray(m.params) ? m.params as Record<string, unknown> : null;
    if (params !== null && hasFoldedKey(params, WATCHED_PARAMS)) return FOLDED;
    if (typeof m.method !== 'string') return FORWARD;
    const method = m.method;
    if (!this.#hooks.cares(method)) return FORWARD;
    const hasId = 'id' in m;
    if (params !== null && ((params.name !== undefined && typeof params.name !== 'string') || (params.uri !== undefined && typeof params.uri !== 'string'))) return ODD_NAME;
    const nameOf = (k: string): string | null => (params !== null && typeof params[k] === 'string' ? params[k] as string : null);
    const name = method === 'resources/read' ? nameOf('uri') : nameOf('name') ?? nameOf('uri');
    return this.#judgeOne(method, hasId, hasId ? JSON.stringify(m.id ?? null) : null, name, body, ctx);
  }

  #judgeOne(method: string, hasId: boolean, idJson: string | null, name: string | null, body: Buffer, ctx: GateContext): Judgement {
    const call: ClientCall = {
      from: 'client', proxySession: ctx.proxySession, mcpSession: ctx.mcpSession, kind: hasId ? 'request' : 'notification',
      method: methodLabel(method), rawMethod: method, hasId, id: idJson, name, bytes: body, clientIp: ctx.clientIp, subject: ctx.subject, claims: ctx.claims, onGetStream: false, http: null, log: ctx.log,
    };
    const v: Verdict = this.#hooks.decide(call);
    if (v === null) return FORWARD;
    if (v.type === 'delay') return v;
    if (v.type === 'answer') return { type: 'answer', body: hasId ? answerBytes(idJson!, v) : null };
    return hasId ? { type: 'rewrite', verdict: v, idJson: idJson! } : FORWARD;
  }
}
