// The tape file format (SPEC "Recording and replay (tapes)"): JSONL, a metadata line, then
// one line per message, marker lines where messages were dropped, and a closing line.
// Written by policy/recorder.ts; read here for replay and `tape show`.

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
  /** Lines that were not JSON (a message that was not valid JSON passes, and is written as it passed). */
  readonly unreadable: number;
}

/** A tape that cannot be read. */
export class TapeError extends Error {}

/** True for a message line. */
export function isMessage(e: TapeEntry): e is TapeMessage {
  return 'msg' in e;
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
      end = o as unknown as TapeEnd;
      continue;
    }
    if (typeof o.t !== 'number') {
      unreadable++;
      continue;
    }
    if ('msg' in o || 'skipped' in o || typeof o.dropped === 'number') entries.push(o as unknown as TapeEntry);
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
