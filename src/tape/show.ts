// `shadowcat tape show FILE`: a tape as a timeline a person reads: time, direction,
// method, tool, id, latency, error. Colours only on a terminal (and never with NO_COLOR).

import path from 'node:path';
import { canonical } from './book.js';
import { isMessage, type LoadedTape } from './format.js';

/** How to paint: ANSI colours, or none. */
export interface Paint {
  dim(s: string): string;
  inbound(s: string): string;
  outbound(s: string): string;
  error(s: string): string;
}

const NONE: Paint = { dim: (s) => s, inbound: (s) => s, outbound: (s) => s, error: (s) => s };
const ANSI: Paint = {
  dim: (s) => `\x1b[2m${s}\x1b[22m`,
  inbound: (s) => `\x1b[36m${s}\x1b[39m`,
  outbound: (s) => `\x1b[32m${s}\x1b[39m`,
  error: (s) => `\x1b[31m${s}\x1b[39m`,
};

/** Colours when `tty` and the environment does not say NO_COLOR. */
export function paintFor(tty: boolean, env: Readonly<Record<string, string | undefined>>): Paint {
  return tty && (env.NO_COLOR === undefined || env.NO_COLOR === '') && env.TERM !== 'dumb' ? ANSI : NONE;
}

function seconds(ms: number): string {
  return (ms / 1000).toFixed(3).padStart(9);
}

function latency(ms: number): string {
  return ms < 1000 ? `${ms.toFixed(1)} ms` : `${(ms / 1000).toFixed(2)} s`;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

// A tape is text from anywhere: control characters (an escape sequence would drive the
// reader's terminal) and bidi overrides (which reorder what the line seems to say) are shown as '?'.
const UNPRINTABLE = /[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

function plain(s: string): string {
  return s.replace(UNPRINTABLE, '?');
}

function short(s: string, n: number): string {
  return plain(s.length <= n ? s : `${s.slice(0, n - 1)}…`);
}

/** The tool, prompt or resource a request names. */
function subject(method: string, params: unknown): string {
  if (!isObject(params)) return '';
  if (method === 'tools/call' || method === 'prompts/get') return typeof params.name === 'string' ? params.name : '';
  if (typeof params.uri === 'string') return params.uri;
  if (method === 'notifications/progress') {
    const p = params.progress;
    const t = params.total;
    return typeof p === 'number' ? `${p}${typeof t === 'number' ? `/${t}` : ''}` : '';
  }
  if (method === 'notifications/message' && typeof params.level === 'string') return params.level;
  return '';
}

/** The timeline of a tape, as lines of text. */
export function showTape(tape: LoadedTape, paint: Paint): string[] {
  const m = tape.meta;
  const out: string[] = [];
  out.push(plain(path.basename(tape.file)));
  const facts = [
    `mode ${m.mode}`, `upstream ${m.upstream || '?'}`, `client ${m.client || 'stdio'}`,
    ...(m.mcpSessionId === null ? [] : [`session ${m.mcpSessionId}`]),
    ...(m.protocolVersion === null ? [] : [`protocol ${m.protocolVersion}`]),
    `started ${m.startedAt}`, `shadowcat ${m.shadowcat}`,
  ];
  out.push(paint.dim(plain(facts.join('  '))));
  out.push(paint.dim(`${'time s'.padStart(9)}  dir  ${'method'.padEnd(28)} ${'tool / detail'.padEnd(24)} ${'id'.padEnd(8)} latency / error`));
  // Requests awaiting their answer, by direction of the request and id: for latency and the method of a response.
  const pending = new Map<string, { t: number; method: string; subject: string }>();
  for (const e of tape.entries) {
    if (!isMessage(e)) {
      const time = seconds(e.t);
      if ('skipped' in e) {
        const status = e.http?.status === undefined ? '' : ` status ${e.http.status}`;
        out.push(paint.dim(`${time}  ${e.dir === 'in' ? '→ ' : ' ←'}   (${short(String(e.skipped), 40)}, ${e.bytes} bytes${status})`));
      } else {
        out.push(paint.error(`${time}  ${e.dropped} message(s) dropped here: the disk was behind`));
      }
      continue;
    }
    const list = Array.isArray(e.msg) ? e.msg : [e.msg];
    for (const msg of list) {
      const arrow = e.dir === 'in' ? paint.inbound('→ ') : paint.outbound(' ←');
      const time = seconds(e.t);
      if (!isObject(msg)) {
        out.push(`${time}  ${arrow}   ${paint.dim('(not a JSON-RPC object)')}`);
        continue;
      }
      const id = 'id' in msg && msg.id !== null ? canonical(msg.id) : '';
      if (typeof msg.method === 'string') {
        const what = subject(msg.method, msg.params);
        if (id !== '') pending.set(`${e.dir}:${id}`, { t: e.t, method: msg.method, subject: what });
        out.push(`${time}  ${arrow}   ${short(msg.method, 28).padEnd(28)} ${short(what, 24).padEnd(24)} ${short(id, 8)}`);
        continue;
      }
      const asked = pending.get(`${e.dir === 'in' ? 'out' : 'in'}:${id}`);
      if (asked !== undefined) pending.delete(`${e.dir === 'in' ? 'out' : 'in'}:${id}`);
      const method = asked === undefined ? '(response)' : asked.method;
      const lat = asked === undefined ? '' : latency(e.t - asked.t);
      let detail = lat;
      if (isObject(msg.error)) {
        const err = msg.error;
        detail = `${lat}  ${paint.error(`error ${String(err.code)}: ${short(String(err.message ?? ''), 60)}`)}`;
      } else if (isObject(msg.result) && msg.result.isError === true) {
        detail = `${lat}  ${paint.error('tool error (isError)')}`;
      }
      out.push(`${time}  ${arrow}   ${short(method, 28).padEnd(28)} ${short(asked?.subject ?? '', 24).padEnd(24)} ${short(id, 8).padEnd(8)} ${detail}`);
    }
  }
  const end = tape.end;
  out.push(paint.dim(end === null
    ? 'no closing line: the tape was cut off (the proxy was killed, or is still writing it)'
    : `${seconds(end.t)}  end (${short(end.end, 20)}): ${end.messages} messages${end.dropped > 0 ? `, ${end.dropped} dropped` : ''}`));
  if (tape.unreadable > 0) out.push(paint.error(`${tape.unreadable} line(s) were not JSON or not usable, and were skipped`));
  return out;
}
