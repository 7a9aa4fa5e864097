// The tape file format (docs/reference.md "Recording and replay (tapes)"): JSONL, a metadata line, then
// one line per message, marker lines where messages were dropped, and a closing line.
// Written by tape/recorder.ts; read here for replay and `tape show`.

import fs from 'node:fs';
import path from 'node:path';

/** The format version a tape's first line names. */
export const TAPE_FORMAT = 1;

/** Why a tape's last line was written. */
export type TapeEndReason = 'session-end' | 'deleted' | 'idle' | 'shutdown';

/** A tape's first line. */
export interface TapeMeta {
  readonly tape: number;
  /** The proxy version that wrote it. */
  readonly shadowcat: string;
  readonly mode: string;
  readonly upstream: string;
  readonly client: string;
  /** Who the client proved to be (a key's name, a token's sub); never the credential. */
  readonly subject?: string;
  readonly proxySession: string;
  readonly mcpSessionId: string | null;
  readonly protocolVersion: string | null;
  readonly clientInfo?: unknown;
  readonly serverInfo?: unknown;
  readonly startedAt: string;
}

/** The HTTP facts beside a message (absent for stdio). */
export interface TapeHttp {
  readonly exchange?: number;
  readonly method?: string;
  readonly path?: string;
  readonly status?: number;
  readonly 'content-type'?: string;
  readonly 'mcp-session-id'?: string;
  readonly 'last-event-id'?: string;
  readonly 'event-id'?: string;
}

/** A message line: `msg` is the JSON-RPC message (or batch) as it passed. */
export interface TapeMessage {
  readonly t: number;
  readonly dir: 'in' | 'out';
  readonly http?: TapeHttp;
  readonly msg: unknown;
}

/** A body that passed unread. */
export interface TapeSkipped {
  readonly t: number;
  readonly dir: 'in' | 'out';
  readonly http?: TapeHttp;
  readonly skipped: string;
  readonly bytes: number;
}

/** Messages the recorder had to drop here. */
export interface TapeGap {
  readonly t: number;
  readonly dropped: number;
}

/** The closing line. */
export interface TapeEnd {
  readonly t: number;
  readonly end: TapeEndReason;
  readonly messages: number;
  readonly dropped: number;
}

/** One line after the first. */
export type TapeEntry = TapeMessage | TapeSkipped | TapeGap;

/** A tape read from disk. */
export interface LoadedTape {
  readonly file: string;
  readonly meta: TapeMeta;
  readonly entries: readonly TapeEntry[];
  /** null: the tape was cut off (the proxy was killed, or is still writing it). */
  readonly end: TapeEnd | null;
  /** Lines that were not JSON, or held values that cannot be used as they are (see isEntry). */
  readonly unreadable: number;
}

/** A tape that cannot be read. */
export class TapeError extends Error {}

/** True for a message line. */
export function isMessage(e: TapeEntry): e is TapeMessage {
  return 'msg' in e;
}

// A tape is input from anywhere (a colleague's, a bug report's): every value replay puts on
// the wire or into a timer is checked here, and a line that fails is skipped and counted.
// A CR or LF in a value that becomes an SSE field or a header would let the tape write
// fields of its own; a status Node cannot send would end the process.

/** Longest time into a tape replay waits for (a timer's own limit, ~24.8 days). */
const MAX_T = 2_147_483_647;
const LINE_BREAK = /[\r\n\0]/;

function isTime(t: unknown): t is number {
  return typeof t === 'number' && Number.isFinite(t) && t >= 0 && t <= MAX_T;
}

const HTTP_TEXT_FIELDS = ['method', 'path', 'content-type', 'mcp-session-id', 'last-event-id', 'event-id'] as const;

function isHttpFacts(h: unknown): boolean {
  if (h === undefined) return true;
  if (typeof h !== 'object' || h === null || Array.isArray(h)) return false;
  const o = h as Record<string, unknown>;
  if (o.exchange !== undefined && !Number.isSafeInteger(o.exchange)) return false;
  if (o.status !== undefined && !(o.status === 0 || (Number.isInteger(o.status) && (o.status as number) >= 200 && (o.status as number) <= 599))) return false;
  for (const k of HTTP_TEXT_FIELDS) {
    const v = o[k];
    if (v !== undefined && v !== null && (typeof v !== 'string' || LINE_BREAK.test(v))) return false;
  }
  return true;
}

/** True for a message, skipped-body or gap line whose values replay can use as they are. */
function isEntry(o: Record<string, unknown>): o is Record<string, unknown> & TapeEntry {
  if (!isTime(o.t)) return false;
  if (typeof o.dropped === 'number' && !('msg' in o) && !('skipped' in o)) return Number.isSafeInteger(o.dropped);
  if (o.dir !== 'in' && o.dir !== 'out') return false;
  if (!isHttpFacts(o.http)) return false;
  if ('msg' in o) return true;
  return typeof o.skipped === 'string' && typeof o.bytes === 'number';
}

/** Reads and checks one tape file; throws TapeError. */
export function readTape(file: string): LoadedTape {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new TapeError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  const lines = text.split('\n');
  let meta: TapeMeta | null = null;
  const entries: TapeEntry[] = [];
  let end: TapeEnd | null = null;
  let unreadable = 0;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === '') continue;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch {
      if (meta === null) throw new TapeError(`${file}: not a shadowcat tape (line ${i + 1} is not JSON)`);
      unreadable++;
      continue;
    }
    if (typeof v !== 'object' || v === null || Array.isArray(v)) {
      unreadable++;
      continue;
    }
    const o = v as Record<string, unknown>;
    if (meta === null) {
      if (typeof o.tape !== 'number' || typeof o.shadowcat !== 'string') throw new TapeError(`${file}: not a shadowcat tape (no metadata line)`);
      if (o.tape > TAPE_FORMAT) throw new TapeError(`${file}: tape format ${o.tape} is newer than this shadowcat reads (${TAPE_FORMAT})`);
      meta = o as unknown as TapeMeta;
      continue;
    }
    if (typeof o.end === 'string') {
      if (isTime(o.t) && typeof o.messages === 'number' && typeof o.dropped === 'number') end = o as unknown as TapeEnd;
      else unreadable++;
      continue;
    }
    if (isEntry(o)) entries.push(o);
    else unreadable++;
  }
  if (meta === null) throw new TapeError(`${file}: empty, not a tape`);
  return { file, meta, entries, end, unreadable };
}

/** The tapes a TAPE|DIR argument names: the file, or every .jsonl in the folder, oldest first. */
export function tapeFiles(target: string): string[] {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(target);
  } catch (err) {
    throw new TapeError(`cannot read ${target}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  if (!stat.isDirectory()) return [target];
  const files = fs.readdirSync(target).filter((f) => f.endsWith('.jsonl')).sort().map((f) => path.join(target, f));
  if (files.length === 0) throw new TapeError(`${target}: no .jsonl tapes in it`);
  return files;
}
