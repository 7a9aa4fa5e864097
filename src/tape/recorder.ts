// --record DIR (docs/reference.md "Recording and replay (tapes)"): an observer that writes every MCP
// message that passes to one JSONL tape per MCP session (per proxy session where there is
// none). A message is written as the bytes that passed (no re-serialisation; the line
// breaks of a pretty-printed body become spaces so it stays one line), beside the HTTP
// facts that carried it. Only the facts named in tape-format are written: no header
// values besides them, no query strings, no secrets. Writes are queued against one
// budget per process (tape-file.ts); what does not fit is dropped, counted and marked in
// the tape, never waited for.

import { Buffer } from 'node:buffer';
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { copyInto } from '../bytes.js';
import { ConfigError } from '../errors.js';
import type { HttpFacts, McpMessage, MessageObserver, SkippedBody } from '../mcp/message.js';
import type { Logger } from '../observe/logger.js';
import type { Metrics } from '../observe/metrics.js';
import type { CounterSeries } from '../observe/hot-metrics.js';
import { msText, put, putInt, putMs } from './digits.js';
import { copyOneLine, TapeFile, WriteBudget, type TapeFailure, type TapeOpener } from './tape-file.js';
import { TAPE_FORMAT, type TapeEndReason, type TapeMeta } from './format.js';

/** What the recorder writes into every tape's first line. */
export interface RecorderSettings {
  readonly dir: string;
  readonly queueBytes: number;
  readonly version: string;
  /** e.g. "http multi-session", "stdio". */
  readonly mode: string;
  /** The upstream URL or command, without credentials or query (forward http learns it at listen: see Recorder.upstream). */
  readonly upstream: string;
  /** An MCP session tape with no message for this long is closed (reopened as a new tape if the session comes back). */
  readonly idleMs: number;
  /** How tape files are opened (tests give a pipe nobody reads); default: created in `dir`. */
  readonly open?: TapeOpener;
}

/** Refuses (ConfigError) a DIR the recorder cannot create files in: said at start, not at the first session. */
export function checkRecordDir(dir: string): void {
  const probe = path.join(dir, `.shadowcat-probe-${process.pid}`);
  try {
    makeDirs(path.resolve(dir));
    fs.writeFileSync(probe, '');
    fs.unlinkSync(probe);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new ConfigError(`--record ${dir}: cannot write tapes there (${code})`);
  }
}

/** mkdir -p, one level at a time: Node's recursive mkdir spins forever where mkdir keeps saying ENOENT (under /proc). */
function makeDirs(dir: string): void {
  try {
    fs.mkdirSync(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' && fs.statSync(dir).isDirectory()) return;
    const parent = path.dirname(dir);
    if (code !== 'ENOENT' || parent === dir) throw err;
    makeDirs(parent);
    fs.mkdirSync(dir);
  }
}

// The constant pieces of a message line, as bytes: the line is written into the slab piece
// by piece, numbers digit by digit, without a string per line. Pieces that always follow
// each other are one piece (a copy each, not a call per piece).
const T_OPEN = Buffer.from('{"t":');
const IN_HTTP = Buffer.from(',"dir":"in","http":{"exchange":');
const OUT_HTTP = Buffer.from(',"dir":"out","http":{"exchange":');
const IN_MSG = Buffer.from(',"dir":"in","msg":');
const OUT_MSG = Buffer.from(',"dir":"out","msg":');
const MSG_OPEN = ',"msg":';
/** Room for a line besides its body and cached http facts (which end with the msg opening): time and exchange number (at most 20 digits each), the longest direction piece, the closing brace and LF. */
const HEAD_ROOM = T_OPEN.length + 20 + OUT_HTTP.length + 20 + 2;

/** A file-name-safe, bounded form of a session id. */
function fileId(id: string): string {
  return id.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 80);
}

/** 20261201T232827.123Z: sortable, and safe in a file name everywhere. */
function stamp(d: Date): string {
  return d.toISOString().replace(/[-:]/g, '');
}

/** The facts of an `"http"` member after its exchange number, as JSON text (a cache entry). */
class FactsText {
  method = '';
  path = '';
  status = -1;
  contentType: string | null = null;
  mcpSessionId: string | null = null;
  lastEventId: string | null = null;
  eventId: string | null = null;
  text = '';
  /** `text` and the `"msg"` member's opening, encoded, for the line writer. */
  bytes: Buffer = Buffer.alloc(0);

  /** True when `h` says what this entry says (the exchange number aside). */
  matches(h: HttpFacts): boolean {
    return h.status === this.status && h.method === this.method && h.path === this.path && h.contentType === this.contentType
      && h.mcpSessionId === this.mcpSessionId && h.lastEventId === this.lastEventId && h.eventId === this.eventId;
  }

  fill(h: HttpFacts): void {
    this.method = h.method;
    this.path = h.path;
    this.status = h.status;
    this.contentType = h.contentType;
    this.mcpSessionId = h.mcpSessionId;
    this.lastEventId = h.lastEventId;
    this.eventId = h.eventId;
    let s = `,"method":${JSON.stringify(h.method)},"path":${JSON.stringify(h.path)}`;
    if (h.status !== 0) s += `,"status":${h.status}`;
    if (h.contentType !== null) s += `,"content-type":${JSON.stringify(h.contentType)}`;
    if (h.mcpSessionId !== null) s += `,"mcp-session-id":${JSON.stringify(h.mcpSessionId)}`;
    if (h.lastEventId !== null) s += `,"last-event-id":${JSON.stringify(h.lastEventId)}`;
    if (h.eventId !== null) s += `,"event-id":${JSON.stringify(h.eventId)}`;
    this.text = `${s}}`;
    this.bytes = Buffer.from(this.text + MSG_OPEN, 'utf8');
  }
}

/** Builds `"http"` members; consecutive requests (and responses) mostly say the same, so the last text of each side is reused. */
class HttpMembers {
  readonly #request = new FactsText();
  readonly #response = new FactsText();

  /** The `"http":{...}` member of a line (with its leading comma), or ''. */
  of(h: HttpFacts | null): string {
    if (h === null) return '';
    return `,"http":{"exchange":${h.exchange}${this.rest(h).text}`;
  }

  /** What follows the exchange number in `h`'s member (cached per side). */
  rest(h: HttpFacts): FactsText {
    const c = h.status === 0 ? this.#request : this.#response;
    if (!c.matches(h)) c.fill(h);
    return c;
  }
}

/** One tape: its file, its clock, and what its first line will say. */
class Tape {
  readonly file: TapeFile;
  readonly startedAt = new Date();
  readonly start = performance.now();
  lastAt = this.start;
  mcpSessionId: string | null = null;
  /** The file exists (its first line is written first); before that, lines wait in its queue. */
  named = false;
  protocolVersion: string | null = null;
  clientInfo: unknown = null;
  serverInfo: unknown = null;
  /** The id of the initialize request, while its answer is awaited. */
  initId: string | null = null;
  messages = 0;
  dropped = 0;
  /** Dropped since the last line that got in: said in a marker line before the next one. */
  gap = 0;
  warned = false;

  constructor(readonly proxySession: string, readonly client: string, budget: WriteBudget, onFail: (t: Tape, err: TapeFailure, lost: number) => void) {
    this.file = new TapeFile(budget, (err, lost) => onFail(this, err, lost));
  }
}

/** The --record observer: owns every open tape of a process. */
export class Recorder implements MessageObserver {
  readonly wantsHttp = true;
  readonly #settings: RecorderSettings;
  readonly #budget: WriteBudget;
  readonly #log: Logger;
  readonly #dropped: CounterSeries;
  readonly #writeErrors: CounterSeries;
  readonly #tapesTotal: CounterSeries;
  /** Open tapes by 'm:' + MCP session id or 'p:' + proxy session id. */
  readonly #tapes = new Map<string, Tape>();
  readonly #sweep: NodeJS.Timeout;
  /** The bytes of the last message written: a batch reaches observers once per message, and is written once. */
  #lastBytes: Buffer | null = null;
  readonly #members = new HttpMembers();
  // The tape of the last message, and what found it: the next message is most often the same session's.
  #lastTape: Tape | null = null;
  #lastMcp: string | null = null;
  #lastProxy = '';
  #closed = false;
  /** What the tapes name as the upstream. */
  upstream: string;
  /** The subject of a proxy session (set by an app with inbound auth), for the tape's first line. */
  subjectOf: (proxySession: string) => string | null = () => null;

  constructor(settings: RecorderSettings, metrics: Metrics, log: Logger) {
    this.#settings = settings;
    this.upstream = settings.upstream;
    this.#budget = new WriteBudget(settings.queueBytes);
    this.#log = log;
    this.#dropped = metrics.recorderDropped.labels('queue_full');
    this.#writeErrors = metrics.recorderDropped.labels('write_error');
    this.#tapesTotal = metrics.recorderTapes.labels();
    metrics.recorderQueued(() => this.#budget.used);
    const every = Math.max(1000, Math.min(30_000, settings.idleMs / 4));
    this.#sweep = setInterval(() => this.#closeIdle(), every);
    this.#sweep.unref();
  }

  /** Tapes open now. */
  get openTapes(): number {
    return this.#tapes.size;
  }

  onMessage(m: McpMessage): void {
    if (this.#closed) return;
    const bytes = m.bytes;
    if (bytes === this.#lastBytes) return;
    this.#lastBytes = bytes;
    const mcp = m.http?.mcpSessionId ?? m.mcpSession;
    let tape = this.#lastTape;
    if (tape === null || mcp !== this.#lastMcp || (mcp === null && m.proxySession !== this.#lastProxy)) {
      tape = this.#tapeOf(mcp, m.proxySession, m.clientIp);
      this.#lastTape = tape;
      this.#lastMcp = mcp;
      this.#lastProxy = m.proxySession;
    }
    const now = performance.now();
    tape.lastAt = now;
    // The handshake names the tape: its first line says what was negotiated.
    if (!tape.named) this.#learn(tape, m);
    this.#writeMessage(tape, now, m, bytes);
    if (!tape.named && (m.from === 'server' || tape.mcpSessionId !== null)) this.#name(tape);
  }

  onSkipped(s: SkippedBody): void {
    if (this.#closed) return;
    const tape = this.#tapeOf(s.http?.mcpSessionId ?? s.mcpSession, s.proxySession, '');
    const now = performance.now();
    tape.lastAt = now;
    const text = `{"t":${msText(now - tape.start)},"dir":"${s.from === 'client' ? 'in' : 'out'}"${this.#members.of(s.http)},"skipped":"${s.reason}","bytes":${s.bytes}}\n`;
    this.#write(tape, text);
  }

  onMcpSessionEnd(mcpSession: string): void {
    const tape = this.#tapes.get(`m:${mcpSession}`);
    if (tape !== undefined) this.#end(`m:${mcpSession}`, tape, 'deleted');
  }

  onProxySessionEnd(proxySession: string): void {
    const key = `p:${proxySession}`;
    const tape = this.#tapes.get(key);
    if (tape !== undefined) this.#end(key, tape, 'session-end');
  }

  /** Ends every tape (a closing line each) and waits up to `deadlineMs` for the disk; what is still queued then is lost, counted and logged. */
  async close(deadlineMs: number): Promise<void> {
    if (this.#closed) return;
    clearInterval(this.#sweep);
    for (const [key, tape] of [...this.#tapes]) void this.#end(key, tape, 'shutdown');
    // Tapes that ended before (DELETE, idle) may still be on their way to the disk too.
    const ending = [...this.#pendingFiles.values()];
    this.#closed = true;
    this.#lastBytes = null;
    let timer: NodeJS.Timeout | null = null;
    const late = await Promise.race([
      Promise.all(ending).then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), deadlineMs);
      }),
    ]);
    if (timer !== null) clearTimeout(timer);
    if (late) {
      let lost = 0;
      for (const t of this.#pendingFiles.keys()) lost += t.abandon();
      if (lost > 0) {
        this.#writeErrors.inc(lost);
        this.#log.error({ lost }, 'recorder: the disk did not take the last lines before the shutdown deadline');
      }
    }
    this.#pendingFiles.clear();
  }

  /** Files ended but not yet flushed, with when they will be (a shutdown waits for them, or gives up on them). */
  readonly #pendingFiles = new Map<TapeFile, Promise<void>>();

  #tapeOf(mcpSession: string | null, proxySession: string, client: string): Tape {
    if (mcpSession !== null) {
      const key = `m:${mcpSession}`;
      const tape = this.#tapes.get(key);
      if (tape !== undefined) return tape;
      // The answer that first names the session (initialize) joins the tape its request began.
      const pending = this.#tapes.get(`p:${proxySession}`);
      if (pending !== undefined && pending.mcpSessionId === null && !pending.named) {
        this.#tapes.delete(`p:${proxySession}`);
        if (this.#lastTape === pending) this.#lastTape = null;
        pending.mcpSessionId = mcpSession;
        this.#tapes.set(key, pending);
        return pending;
      }
      const fresh = this.#newTape(proxySession, client);
      fresh.mcpSessionId = mcpSession;
      this.#tapes.set(key, fresh);
      return fresh;
    }
    const key = `p:${proxySession}`;
    let tape = this.#tapes.get(key);
    if (tape === undefined) {
      tape = this.#newTape(proxySession, client);
      this.#tapes.set(key, tape);
    }
    return tape;
  }

  #newTape(proxySession: string, client: string): Tape {
    this.#tapesTotal.inc();
    return new Tape(proxySession, client, this.#budget, (t, err, lost) => {
      t.dropped += lost;
      this.#writeErrors.inc(lost);
      this.#log.error({ sid: t.proxySession, mcp: t.mcpSessionId ?? undefined, tape: t.file.path ?? undefined, err: err.code ?? err.message, lost },
        'recorder: tape stopped (the disk refused a write); traffic goes on');
    });
  }

  /** Reads what the first line needs from the handshake (one JSON.parse per session, never per message). */
  #learn(tape: Tape, m: McpMessage): void {
    if (m.from === 'client' && m.method === 'initialize' && m.id !== null) {
      tape.initId = m.id;
      const params = (parse(m.bytes) as { params?: { clientInfo?: unknown } } | null)?.params;
      tape.clientInfo = params?.clientInfo ?? null;
    } else if (m.from === 'server' && m.kind === 'result' && m.id !== null && m.id === tape.initId) {
      const result = (parse(m.bytes) as { result?: { protocolVersion?: unknown; serverInfo?: unknown } } | null)?.result;
      if (typeof result?.protocolVersion === 'string') tape.protocolVersion = result.protocolVersion;
      tape.serverInfo = result?.serverInfo ?? null;
    }
  }

  /** Creates the tape's file, its metadata line first. */
  #name(tape: Tape): void {
    tape.named = true;
    const s = this.#settings;
    const meta: TapeMeta = {
      tape: TAPE_FORMAT, shadowcat: s.version, mode: s.mode, upstream: this.upstream, client: tape.client,
      subject: this.subjectOf(tape.proxySession) ?? undefined, proxySession: tape.proxySession, mcpSessionId: tape.mcpSessionId, protocolVersion: tape.protocolVersion,
      clientInfo: tape.clientInfo ?? undefined, serverInfo: tape.serverInfo ?? undefined, startedAt: tape.startedAt.toISOString(),
    };
    tape.file.lineAlways(`${JSON.stringify(meta)}\n`, true);
    const base = `${stamp(tape.startedAt)}-${fileId(tape.mcpSessionId ?? tape.proxySession)}`;
    tape.file.open([0, 2, 3, 4, 5].map((n) => path.join(s.dir, `${base}${n === 0 ? '' : `-${n}`}.jsonl`)), s.open);
  }

  /** A message line, written into the tape's slab in pieces (the hot path: no line-sized string is built). */
  #writeMessage(tape: Tape, now: number, m: McpMessage, body: Buffer): void {
    if (tape.gap > 0 && !this.#writeGap(tape)) return;
    const h = m.http;
    const rest = h === null ? null : this.#members.rest(h).bytes;
    const file = tape.file;
    // Room for the longest head; what the line does not use goes back at commit.
    const slab = file.reserve(HEAD_ROOM + (rest === null ? 0 : rest.length) + body.length);
    if (slab === null) {
      this.#drop(tape);
      return;
    }
    const from = file.cursor;
    let at = put(slab, from, T_OPEN);
    at = putMs(slab, at, now - tape.start);
    if (h !== null) {
      const head = m.from === 'client' ? IN_HTTP : OUT_HTTP;
      copyInto(slab, head, at);
      at = putInt(slab, at + head.length, h.exchange);
      copyInto(slab, rest!, at);
      at += rest!.length;
    } else {
      const head = m.from === 'client' ? IN_MSG : OUT_MSG;
      copyInto(slab, head, at);
      at += head.length;
    }
    at = copyOneLine(body, slab, at);
    slab[at++] = 0x7d; // }
    slab[at++] = 0x0a; // LF
    file.commit(at - from);
    tape.messages++;
  }

  /** The marker of messages dropped since the last line that got in; false when it did not fit either. */
  #writeGap(tape: Tape): boolean {
    if (!tape.file.line(`{"t":${msText(performance.now() - tape.start)},"dropped":${tape.gap}}\n`)) {
      this.#drop(tape);
      return false;
    }
    tape.gap = 0;
    return true;
  }

  #write(tape: Tape, text: string): void {
    if (tape.gap > 0 && !this.#writeGap(tape)) return;
    if (tape.file.line(text)) {
      tape.messages++;
      return;
    }
    this.#drop(tape);
  }

  #drop(tape: Tape): void {
    tape.dropped++;
    tape.gap++;
    if (tape.file.failed) {
      this.#writeErrors.inc();
      return;
    }
    this.#dropped.inc();
    if (!tape.warned) {
      tape.warned = true;
      this.#log.warn({ sid: tape.proxySession, mcp: tape.mcpSessionId ?? undefined, tape: tape.file.path ?? undefined, queueBytes: this.#settings.queueBytes },
        'recorder: the disk is behind, dropping messages from this tape (shadowcat_recorder_dropped_total)');
    }
  }

  #end(key: string, tape: Tape, reason: TapeEndReason): Promise<void> {
    this.#tapes.delete(key);
    if (this.#lastTape === tape) this.#lastTape = null;
    if (!tape.named) this.#name(tape);
    const now = performance.now();
    tape.file.lineAlways(`{"t":${msText(now - tape.start)},"end":"${reason}","messages":${tape.messages},"dropped":${tape.dropped}}\n`);
    const done = tape.file.end().then(() => {
      this.#pendingFiles.delete(tape.file);
    });
    this.#pendingFiles.set(tape.file, done);
    return done;
  }

  #closeIdle(): void {
    const cutoff = performance.now() - this.#settings.idleMs;
    for (const [key, tape] of [...this.#tapes]) {
      if (key.startsWith('m:') && tape.lastAt < cutoff) void this.#end(key, tape, 'idle');
    }
  }
}

function parse(bytes: Buffer): unknown {
  try {
    return JSON.parse(bytes.toString('utf8')) as unknown;
  } catch {
    return null;
  }
}
