// The upstream side of the message bridge: one stdio child and the sessions it serves (one
// with --multi-session, every session of the process by default). It routes by JSON-RPC
// id and progress token and knows no wire: requests get ids of its own (so clients that
// share the child never collide), answers and progress go back to the request's session
// with the client's own id and token, notifications tied to no request go to every session
// it serves, and a server request (sampling, elicitation, roots) goes to the session whose
// request is in flight when there is exactly one, else it is answered with an error.

import { ChildExitedError, UpstreamBrokenError, UpstreamTimeoutError, type ProxyError } from '../errors.js';
import { errorBody } from '../http/error-response.js';
import type { ConformanceLint } from '../mcp/conformance.js';
import type { McpMessageSink } from '../mcp/inspector.js';
import type { RewriteVerdict } from '../mcp/message.js';
import type { Logger } from '../observe/logger.js';
import type { LineUpstream } from '../upstream/line-upstream.js';
import type { BridgeSession } from './bridge-session.js';
import type { Answer } from './post-answer.js';

/** A parsed JSON-RPC message. */
export type RpcMessage = Record<string, unknown>;

interface Pending {
  readonly session: BridgeSession;
  /** The client's id, as JSON text. */
  readonly clientId: string;
  readonly answer: Answer;
  readonly method: string;
  readonly rewrite: RewriteVerdict | null;
  /** The client's progress token, when it sent one (ours is the upstream id). */
  readonly token: unknown;
  timer: NodeJS.Timeout | null;
}

/** What a link needs from the app. */
export interface LinkDeps {
  readonly sink: McpMessageSink;
  readonly lint: ConformanceLint;
  readonly log: Logger;
  /** Longest wait for the child's answer to initialize. */
  readonly initTimeoutMs: number;
  /** The child is gone and the link serves no more sessions. */
  onGone(link: ChildLink): void;
}

/** One child and the sessions it serves. */
export class ChildLink {
  readonly child: LineUpstream;
  readonly shared: boolean;
  readonly sessions = new Set<BridgeSession>();
  readonly #deps: LinkDeps;
  #nextId = 1;
  readonly #pending = new Map<number, Pending>();
  /** Server requests awaiting a client's answer: the child's id (JSON text) → the session asked. */
  readonly #serverRequests = new Map<string, BridgeSession>();
  /** Shared child: the first handshake's result (JSON text), and sessions waiting for it. */
  #initResult: string | null = null;
  #initInFlight = false;
  #initWaiters: Array<() => void> = [];
  #initializedSent = false;
  #gone = false;
  #failure: ProxyError | null = null;
  /** The child answered an initialize: an exit after it is a session ending, not a failed start. */
  #initAnswered = false;

  constructor(child: LineUpstream, shared: boolean, deps: LinkDeps) {
    this.child = child;
    this.shared = shared;
    this.#deps = deps;
    child.own({ line: (l) => this.#onLine(l), exit: (code, signal, err) => this.#onExit(code, signal, err) }, deps.log);
  }

  /** The child is gone. */
  get gone(): boolean {
    return this.#gone;
  }

  /** Serves `session` from now on. */
  attach(session: BridgeSession): void {
    this.sessions.add(session);
  }

  /** A client request of `session` (its id as JSON text), answered through `answer`. */
  request(session: BridgeSession, msg: RpcMessage, clientId: string, answer: Answer, rewrite: RewriteVerdict | null): void {
    const method = msg.method as string;
    if (this.#gone) return this.#failOne(session, clientId, answer, this.#failure ?? new ChildExitedError(null, null));
    if (this.shared && method === 'initialize') {
      if (this.#initResult !== null) return this.#answerInit(session, clientId, answer);
      if (this.#initInFlight) {
        this.#initWaiters.push(() => (this.#initResult !== null ? this.#answerInit(session, clientId, answer)
          : this.#failOne(session, clientId, answer, this.#failure ?? new ChildExitedError(null, null))));
        return;
      }
      this.#initInFlight = true;
    }
    const upstreamId = this.#nextId++;
    const params = typeof msg.params === 'object' && msg.params !== null ? msg.params as RpcMessage : null;
    const meta = params !== null && typeof params._meta === 'object' && params._meta !== null ? params._meta as RpcMessage : null;
    let token: unknown;
    if (meta !== null && meta.progressToken !== undefined) {
      token = meta.progressToken;
      // Ours is the upstream id: unique across every session of the child.
      meta.progressToken = upstreamId;
    }
    const pending: Pending = { session, clientId, answer, method, rewrite, token, timer: null };
    if (method === 'initialize') {
      pending.timer = setTimeout(() => this.#initTimedOut(upstreamId), this.#deps.initTimeoutMs);
      pending.timer.unref();
    }
    this.#pending.set(upstreamId, pending);
    session.inFlight.set(clientId, upstreamId);
    msg.id = upstreamId;
    if (!this.child.send(JSON.stringify(msg))) {
      this.#pending.delete(upstreamId);
      session.inFlight.delete(clientId);
      if (pending.timer !== null) clearTimeout(pending.timer);
      const err = this.#gone ? this.#failure ?? new ChildExitedError(null, null) : new UpstreamBrokenError('the stdio server is not reading its input (8 MiB waiting)');
      this.#failOne(session, clientId, answer, err);
    }
  }

  /** A client notification of `session`. */
  notify(session: BridgeSession, msg: RpcMessage): void {
    if (this.#gone) return;
    if (msg.method === 'notifications/initialized') {
      // A shared child was initialised once: later clients' notices are theirs alone.
      if (this.shared && this.#initializedSent) return;
      this.#initializedSent = true;
    } else if (msg.method === 'notifications/cancelled') {
      const params = typeof msg.params === 'object' && msg.params !== null ? msg.params as RpcMessage : null;
      const upstreamId = params === null ? undefined : session.inFlight.get(JSON.stringify(params.requestId ?? null));
      if (upstreamId === undefined) return;
      params!.requestId = upstreamId;
    }
    this.child.send(JSON.stringify(msg));
  }

  /** A client's answer to a server request. */
  respond(session: BridgeSession, msg: RpcMessage): void {
    const key = JSON.stringify(msg.id ?? null);
    if (this.#serverRequests.get(key) !== session) return;
    this.#serverRequests.delete(key);
    this.child.send(JSON.stringify(msg));
  }

  /** `session` ended: its requests in flight are cancelled upstream; a child of its own is stopped. */
  detach(session: BridgeSession): void {
    if (!this.sessions.delete(session)) return;
    for (const [upstreamId, p] of this.#pending) {
      if (p.session !== session) continue;
      this.#pending.delete(upstreamId);
      if (p.timer !== null) clearTimeout(p.timer);
      if (!this.#gone) this.child.send(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: upstreamId, reason: 'the client session ended' } }));
    }
    for (const [key, s] of this.#serverRequests) if (s === session) this.#serverRequests.delete(key);
    if (!this.shared) void this.child.stop();
  }

  /** Stops the child (shutdown). */
  stop(): Promise<void> {
    return this.child.stop();
  }

  #answerInit(session: BridgeSession, clientId: string, answer: Answer): void {
    const data = `{"jsonrpc":"2.0","id":${clientId},"result":${this.#initResult!}}`;
    this.#deps.sink.body(Buffer.from(data), 'server', session.origin);
    answer.message(data, true);
  }

  #failOne(session: BridgeSession, clientId: string, answer: Answer, err: ProxyError): void {
    if (answer.untouched && answer.outstanding <= 1) return answer.failWhole(err, clientId);
    const data = errorBody(err, clientId);
    this.#deps.sink.body(Buffer.from(data), 'server', session.origin);
    answer.message(data, true);
  }

  #initTimedOut(upstreamId: number): void {
    const p = this.#pending.get(upstreamId);
    if (p === undefined) return;
    this.#pending.delete(upstreamId);
    p.session.inFlight.delete(p.clientId);
    this.#failOne(p.session, p.clientId, p.answer, new UpstreamTimeoutError(`the stdio server did not answer initialize within ${this.#deps.initTimeoutMs} ms`));
    if (this.shared) {
      this.#initInFlight = false;
      for (const w of this.#initWaiters.splice(0)) w();
    }
    // A child that cannot finish its handshake serves nobody.
    p.session.session.close('upstream-error');
  }

  #onLine(line: Buffer): void {
    let msg: unknown;
    try {
      msg = JSON.parse(line.toString('utf8'));
    } catch {
      msg = undefined;
    }
    if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) {
      // A banner or a log line on stdout: counted by the lint and skipped.
      if (line.length > 0) this.#deps.lint.onNonJsonLine(line);
      return;
    }
    const m = msg as RpcMessage;
    if (typeof m.method === 'string') {
      if (m.id !== undefined && m.id !== null) this.#serverRequest(m);
      else this.#serverNotification(m);
      return;
    }
    if (typeof m.id !== 'number') return;
    const p = this.#pending.get(m.id);
    if (p === undefined) return;
    this.#pending.delete(m.id);
    if (p.timer !== null) clearTimeout(p.timer);
    p.session.inFlight.delete(p.clientId);
    if (p.method === 'initialize' && m.result !== undefined) this.#initAnswered = true;
    if (this.shared && p.method === 'initialize') {
      this.#initInFlight = false;
      if (m.result !== undefined) this.#initResult = JSON.stringify(m.result);
      for (const w of this.#initWaiters.splice(0)) w();
    }
    let result = m.result;
    if (p.rewrite !== null && typeof result === 'object' && result !== null && !Array.isArray(result)) result = p.rewrite.rewrite(result as RpcMessage);
    const data = m.error !== undefined
      ? `{"jsonrpc":"2.0","id":${p.clientId},"error":${JSON.stringify(m.error)}}`
      : `{"jsonrpc":"2.0","id":${p.clientId},"result":${JSON.stringify(result ?? null)}}`;
    this.#deps.sink.body(Buffer.from(data), 'server', p.session.origin);
    p.answer.message(data, true);
  }

  #serverNotification(m: RpcMessage): void {
    const params = typeof m.params === 'object' && m.params !== null ? m.params as RpcMessage : null;
    if (m.method === 'notifications/progress' && params !== null && typeof params.progressToken === 'number') {
      const p = this.#pending.get(params.progressToken);
      if (p === undefined || p.token === undefined) return;
      params.progressToken = p.token;
      const data = JSON.stringify(m);
      this.#deps.sink.body(Buffer.from(data), 'server', p.session.origin);
      p.answer.message(data, false);
      return;
    }
    if (m.method === 'notifications/cancelled' && params !== null) {
      // The server gave up on a request: its client learns with the request's own id.
      const p = typeof params.requestId === 'number' ? this.#pending.get(params.requestId) : undefined;
      if (p === undefined) return;
      params.requestId = JSON.parse(p.clientId) as unknown;
      const data = JSON.stringify(m);
      this.#deps.sink.body(Buffer.from(data), 'server', p.session.origin);
      p.answer.message(data, false);
      return;
    }
    // Tied to no request: every session the child serves.
    const data = JSON.stringify(m);
    for (const s of this.sessions) {
      this.#deps.sink.body(Buffer.from(data), 'server', s.origin);
      s.toGetStream(data);
    }
  }

  #serverRequest(m: RpcMessage): void {
    const key = JSON.stringify(m.id);
    let target: BridgeSession | null = null;
    if (!this.shared) {
      target = this.sessions.values().next().value ?? null;
    } else {
      for (const p of this.#pending.values()) {
        if (target === null) target = p.session;
        else if (target !== p.session) {
          target = null;
          break;
        }
      }
    }
    if (target === null) {
      this.child.send(JSON.stringify({ jsonrpc: '2.0', id: m.id, error: { code: -32603, message: 'shadowcat: no single client session to ask (the stdio server is shared)' } }));
      return;
    }
    this.#serverRequests.set(key, target);
    const data = JSON.stringify(m);
    this.#deps.sink.body(Buffer.from(data), 'server', target.origin);
    // On the stream of the request it belongs to when that is plain (one open), else the GET stream.
    const streaming = target.streamingAnswer();
    if (streaming !== null) streaming.message(data, false);
    else target.toGetStream(data);
  }

  #onExit(code: number | null, signal: NodeJS.Signals | null, spawnError: Error | null): void {
    this.#gone = true;
    const err = spawnError !== null ? this.child.startFailure(spawnError) : new ChildExitedError(code, signal);
    this.#failure = err;
    const log = this.#deps.log;
    if (spawnError !== null) log.error({ command: this.child.command[0], err: spawnError.message }, 'could not start the stdio server');
    else if (this.#pending.size > 0 || !this.#initAnswered) {
      log.warn({ child: this.child.pid, code, signal, stderr: this.child.stderrTail.slice(-2048) || undefined }, 'stdio server exited');
    } else log.info({ child: this.child.pid, code, signal }, 'stdio server exited');
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    this.#serverRequests.clear();
    for (const p of pending) {
      if (p.timer !== null) clearTimeout(p.timer);
      this.#failOne(p.session, p.clientId, p.answer, err);
    }
    this.#initInFlight = false;
    for (const w of this.#initWaiters.splice(0)) w();
    // Its sessions end: later requests get 404, and SDK clients start a new session.
    for (const s of [...this.sessions]) s.session.close('upstream-closed');
    this.#deps.onGone(this);
  }
}
