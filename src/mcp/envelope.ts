// A JSON-RPC envelope read straight from bytes: kind, method label and id of one
// message, without decoding the body to a string or building its objects. Only the
// top-level object is read member by member; nested values (params, result, error) are
// stepped over by their string and bracket structure, not validated or decoded. Once the
// kind and id are known the rest is not read: a large result is never walked, and when
// the id is the last member (as the TypeScript SDK writes it) it is read from the end;
// MCP's notifications/* methods are known to carry none.
// What this reader does not handle simply (a batch, an escape in a key, method or string
// id, an object as id) it hands back as FALLBACK, and the caller uses JSON.parse instead.

import { Buffer } from 'node:buffer';
import { latin1, utf8 } from '../bytes.js';
import { PrefixWords, startsWith, WORD_VIEW_BYTES, WordView, wordsMatch } from '../word-match.js';
import { KNOWN_METHOD_NAMES, type MessageKind } from './jsonrpc.js';

/** The envelope was read into `out`. */
export const ENVELOPE_OK = 0;
/** Valid or not, this message needs the full parser. */
export const ENVELOPE_FALLBACK = 1;
/** Not a JSON object: counted as malformed. */
export const ENVELOPE_MALFORMED = 2;
/** Only whitespace: nothing to observe. */
export const ENVELOPE_EMPTY = 3;

/** The reusable result of one read. */
export class Envelope {
  kind: MessageKind = 'invalid';
  /** Bounded method label (see methodLabel), '' when the message has none. */
  method = '';
  /** The id as a correlation key: JSON text of a number or string, or null. */
  id: string | null = null;
  /** The message began with the bytes of the last notification read (so it is one of its method). */
  repeated = false;
  /** The bytes of the last notification up to its nested value, and its method: a stream of
   *  notifications repeats them, and a message starting with the same bytes reads the same. */
  notificationPrefix: Buffer | null = null;
  notificationMethod = '';
  /** How many leading bytes of the message just read are notificationPrefix (0: it does not start with it). */
  prefixLength = 0;
  /** The prefix laid out as words, for a large read that carries many messages (see WordView);
   *  made once the prefix has repeated, so a stream that alternates methods never builds it. */
  prefixWords: PrefixWords | null = null;
  /** The last large read's memory, seen as words. */
  readonly view = new WordView();
}

/** Longest notification prefix remembered. */
const MAX_PREFIX = 256;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const COMMA = 0x2c;
const LBRACE = 0x7b;
const RBRACE = 0x7d;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;

// Byte classes for stepping over values.
const C_OTHER = 0;
const C_WS = 1;
const C_OPEN = 2;
const C_CLOSE = 3;
const C_QUOTE = 4;
const C_DELIM = 5; // , : end a scalar
const CLASS = new Uint8Array(256);
CLASS[0x20] = CLASS[0x09] = CLASS[0x0a] = CLASS[0x0d] = C_WS;
CLASS[LBRACE] = CLASS[LBRACKET] = C_OPEN;
CLASS[RBRACE] = CLASS[RBRACKET] = C_CLOSE;
CLASS[QUOTE] = C_QUOTE;
CLASS[COMMA] = CLASS[COLON] = C_DELIM;

// Member names of interest, told apart by length and a few bytes.
const K_OTHER = 0;
const K_ID = 1;
const K_METHOD = 2;
const K_RESULT = 3;
const K_ERROR = 4;

interface KnownMethod {
  readonly bytes: Buffer;
  readonly label: string;
  /** MCP's notifications/* never carry an id (the spec forbids it): no need to look for one. */
  readonly notification: boolean;
}

// Known method names as bytes, grouped by length: a method is matched without making a string.
const METHODS_BY_LENGTH: KnownMethod[][] = [];
for (const name of KNOWN_METHOD_NAMES) {
  (METHODS_BY_LENGTH[name.length] ??= []).push({ bytes: Buffer.from(name, 'latin1'), label: name, notification: name.startsWith('notifications/') });
}
const OTHER_METHOD: KnownMethod = { bytes: Buffer.alloc(0), label: 'other', notification: false };

function skipWs(b: Uint8Array, i: number, end: number): number {
  while (i < end && CLASS[b[i]!] === C_WS) i++;
  return i;
}

/** Index just past the closing quote of the string whose opening quote is at `i`; -1 if unterminated, -2 if it has escapes. */
function plainStringEnd(b: Uint8Array, i: number, end: number): number {
  for (let j = i + 1; j < end; j++) {
    const c = b[j]!;
    if (c === QUOTE) return j + 1;
    if (c === BACKSLASH) return -2;
  }
  return -1;
}

/** Index just past the string (escapes allowed) whose opening quote is at `i`, or -1. */
function stringEnd(b: Uint8Array, i: number, end: number): number {
  for (let j = i + 1; j < end; j++) {
    const c = b[j]!;
    if (c === QUOTE) return j + 1;
    if (c === BACKSLASH) j++;
  }
  return -1;
}

/** Index just past the value starting at `i`, or -1 when its structure is broken. */
export function valueEnd(b: Uint8Array, i: number, end: number): number {
  const cls = CLASS[b[i]!];
  if (cls === C_QUOTE) return stringEnd(b, i, end);
  if (cls === C_OPEN) {
    let depth = 0;
    for (let j = i; j < end; j++) {
      const k = CLASS[b[j]!];
      if (k === C_OTHER || k === C_WS || k === C_DELIM) continue;
      if (k === C_QUOTE) {
        j = stringEnd(b, j, end) - 1;
        if (j < 0) return -1;
      } else if (k === C_OPEN) depth++;
      else if (--depth === 0) return j + 1;
    }
    return -1;
  }
  if (cls !== C_OTHER) return -1;
  let j = i + 1;
  while (j < end && CLASS[b[j]!] === C_OTHER) j++;
  return j;
}

function keyOf(b: Uint8Array, s: number, e: number): number {
  switch (e - s) {
    case 2: return b[s] === 0x69 && b[s + 1] === 0x64 ? K_ID : K_OTHER;
    case 5: return b[s] === 0x65 && b[s + 1] === 0x72 && b[s + 2] === 0x72 && b[s + 3] === 0x6f && b[s + 4] === 0x72 ? K_ERROR : K_OTHER;
    case 6:
      if (b[s] === 0x6d && b[s + 1] === 0x65 && b[s + 2] === 0x74 && b[s + 3] === 0x68 && b[s + 4] === 0x6f && b[s + 5] === 0x64) return K_METHOD;
      if (b[s] === 0x72 && b[s + 1] === 0x65 && b[s + 2] === 0x73 && b[s + 3] === 0x75 && b[s + 4] === 0x6c && b[s + 5] === 0x74) return K_RESULT;
      return K_OTHER;
    default: return K_OTHER;
  }
}

function methodOf(b: Uint8Array, s: number, e: number): KnownMethod {
  const candidates = METHODS_BY_LENGTH[e - s];
  if (candidates === undefined) return OTHER_METHOD;
  for (const known of candidates) {
    // Compare from the end: many names share the "notifications/" prefix.
    const bytes = known.bytes;
    let k = e - s - 1;
    while (k >= 0 && bytes[k] === b[s + k]) k--;
    if (k < 0) return known;
  }
  return OTHER_METHOD;
}

/** String() of the whole number written b[s, e) in at most 9 digits, else null. String() of a
 *  small integer comes from V8's number-string cache: no decode. */
function smallIntText(b: Buffer, s: number, e: number): string | null {
  if (e - s > 9) return null;
  let v = 0;
  for (let i = s; i < e; i++) {
    const d = b[i]! - 0x30;
    if (d < 0 || d > 9) return null;
    v = v * 10 + d;
  }
  return String(v);
}

/** The correlation key of a number id: its canonical JSON text, as JSON.stringify gives it. */
function numberId(b: Buffer, s: number, e: number): string | null {
  // The usual id, a small whole number, is read from its digits.
  if (e > s) {
    const small = smallIntText(b, s, e);
    if (small !== null) return small;
  }
  const n = Number(b.toString('latin1', s, e));
  if (!Number.isFinite(n)) return null;
  return String(n);
}

function skipWsBack(b: Uint8Array, j: number, start: number): number {
  while (j > start && CLASS[b[j]!] === C_WS) j--;
  return j;
}

/** Index of the last non-blank byte, if it closes an object; else -1. */
function closingBrace(b: Uint8Array, start: number, end: number): number {
  const j = skipWsBack(b, end - 1, start);
  return j > start && b[j] === RBRACE ? j : -1;
}

/** The id when the object's last member is an "id" with a number, null or plain string: read
 *  from the end without walking what comes before. undefined when the tail is anything else. */
function tailId(b: Buffer, start: number, end: number): string | null | undefined {
  let j = closingBrace(b, start, end);
  if (j === -1) return undefined;
  j = skipWsBack(b, j - 1, start);
  const ve = j + 1;
  let vs = j;
  if (b[j] === QUOTE) {
    vs = j - 1;
    while (vs > start && b[vs] !== QUOTE) {
      if (b[vs] === BACKSLASH) return undefined;
      vs--;
    }
    if (vs <= start || b[vs] !== QUOTE || b[vs - 1] === BACKSLASH) return undefined;
  } else {
    if (CLASS[b[j]!] !== C_OTHER) return undefined;
    while (vs > start && CLASS[b[vs - 1]!] === C_OTHER) vs--;
  }
  j = skipWsBack(b, vs - 1, start);
  if (b[j] !== COLON) return undefined;
  j = skipWsBack(b, j - 1, start);
  if (j - 3 <= start || b[j] !== QUOTE || b[j - 1] !== 0x64 || b[j - 2] !== 0x69 || b[j - 3] !== QUOTE) return undefined;
  j = skipWsBack(b, j - 4, start);
  if (b[j] !== COMMA && b[j] !== LBRACE) return undefined;
  const c = b[vs]!;
  if (c === QUOTE) return utf8(b, vs, ve);
  if (c === 0x2d || (c >= 0x30 && c <= 0x39)) return numberId(b, vs, ve) ?? undefined;
  if (ve - vs === 4 && c === 0x6e && b[vs + 1] === 0x75 && b[vs + 2] === 0x6c && b[vs + 3] === 0x6c) return null;
  return undefined;
}

// The three member loops below (the envelope, the strict read and its params) share these
// steps. Each returns an index, or a negative ENVELOPE_* code.

/** The end of the key (a plain string) of the member at b[i]. */
function memberKeyEnd(b: Uint8Array, i: number, end: number): number {
  if (i >= end || b[i] !== QUOTE) return -ENVELOPE_MALFORMED;
  const keyEnd = plainStringEnd(b, i, end);
  if (keyEnd === -2) return -ENVELOPE_FALLBACK;
  return keyEnd === -1 ? -ENVELOPE_MALFORMED : keyEnd;
}

/** Where the member's value starts: past the colon after its key and the blanks around it. */
function memberValue(b: Uint8Array, keyEnd: number, end: number): number {
  let i = skipWs(b, keyEnd, end);
  if (i >= end || b[i] !== COLON) return -ENVELOPE_MALFORMED;
  i = skipWs(b, i + 1, end);
  return i >= end ? -ENVELOPE_MALFORMED : i;
}

/** The index of the ',' or '}' after a value that ends at `next`. */
function delimiter(b: Uint8Array, next: number, end: number): number {
  if (next === -1) return -ENVELOPE_MALFORMED;
  const i = skipWs(b, next, end);
  return i < end && (b[i] === COMMA || b[i] === RBRACE) ? i : -ENVELOPE_MALFORMED;
}

/** True when the message in b[start, end) ends with a `}` after b[from]: what a message that repeats a notification's prefix must still show. */
export function closesAfter(b: Buffer, from: number, end: number): boolean {
  return closingBrace(b, from, end) !== -1;
}

/** Reads the envelope of the message in b[start, end) into `out`. */
export function readEnvelope(b: Buffer, start: number, end: number, out: Envelope): number {
  return repeatsNotification(b, start, end, out) ? ENVELOPE_OK : readWholeEnvelope(b, start, end, out);
}

/** The message starts as the last notification did: it is one of the same method. Small, so it is inlined where every event of a stream passes. */
function repeatsNotification(b: Buffer, start: number, end: number, out: Envelope): boolean {
  const prefix = out.notificationPrefix;
  if (prefix === null || end - start <= prefix.length) return false;
  const words = out.prefixWords;
  if (words !== null && b.length >= WORD_VIEW_BYTES) {
    const view = out.view;
    if (view.of !== b) view.see(b);
    const match = wordsMatch(view, start, words);
    if (match === 0 || (match === -1 && !startsWith(b, start, prefix))) return false;
  } else {
    if (!startsWith(b, start, prefix)) return false;
    if (words === null && b.length >= WORD_VIEW_BYTES) out.prefixWords = new PrefixWords(prefix);
  }
  if (closingBrace(b, start + prefix.length - 1, end) === -1) return false;
  out.kind = 'notification';
  out.method = out.notificationMethod;
  out.id = null;
  out.repeated = true;
  out.prefixLength = prefix.length;
  return true;
}

function readWholeEnvelope(b: Buffer, start: number, end: number, out: Envelope): number {
  out.repeated = false;
  out.prefixLength = 0;
  let i = skipWs(b, start, end);
  if (i === end) return ENVELOPE_EMPTY;
  if (b[i] !== LBRACE) return b[i] === LBRACKET ? ENVELOPE_FALLBACK : ENVELOPE_MALFORMED;
  let method: KnownMethod | null = null;
  let id: string | null = null;
  let hasResult = false;
  let hasError = false;
  let idSeen = false;
  i = skipWs(b, i + 1, end);
  if (i < end && b[i] === RBRACE) {
    if (skipWs(b, i + 1, end) !== end) return ENVELOPE_MALFORMED;
  } else {
    for (;;) {
      const keyEnd = memberKeyEnd(b, i, end);
      if (keyEnd < 0) return -keyEnd;
      const key = keyOf(b, i + 1, keyEnd - 1);
      i = memberValue(b, keyEnd, end);
      if (i < 0) return -i;
      const c = b[i]!;
      let next: number;
      if (key === K_METHOD && c === QUOTE) {
        next = plainStringEnd(b, i, end);
        if (next === -2) return ENVELOPE_FALLBACK;
        if (next !== -1) method = methodOf(b, i + 1, next - 1);
      } else if (key === K_ID) {
        idSeen = true;
        next = valueEnd(b, i, end);
        if (c === QUOTE) {
          if (plainStringEnd(b, i, end) !== next) return ENVELOPE_FALLBACK;
          id = next === -1 ? null : utf8(b, i, next);
        } else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
          id = next === -1 ? null : numberId(b, i, next);
        } else if (c === 0x6e) {
          id = null; // null
        } else {
          return ENVELOPE_FALLBACK;
        }
      } else {
        if (key === K_METHOD) method = null; // not a string: not a request
        else if (key === K_RESULT) hasResult = true;
        else if (key === K_ERROR) hasError = true;
        if (CLASS[c] === C_OPEN && (method !== null || hasResult || hasError)) {
          // The kind is known; only the id may be missing. Don't walk a nested value for it.
          if (idSeen || (method !== null && method.notification)) {
            if (closingBrace(b, i, end) === -1) return ENVELOPE_MALFORMED;
            if (!idSeen && i - start < MAX_PREFIX) {
              // Everything read so far lies before i: the next message with these bytes ends up here too.
              out.notificationPrefix = Buffer.from(b.subarray(start, i + 1));
              out.notificationMethod = method!.label;
              out.prefixWords = null;
              out.prefixLength = i + 1 - start;
            }
            break;
          }
          const tail = tailId(b, i, end);
          if (tail !== undefined) {
            id = tail;
            break;
          }
        }
        next = valueEnd(b, i, end);
      }
      const d = delimiter(b, next, end);
      if (d < 0) return -d;
      if (b[d] === COMMA) {
        i = skipWs(b, d + 1, end);
        continue;
      }
      if (skipWs(b, d + 1, end) !== end) return ENVELOPE_MALFORMED;
      break;
    }
  }
  out.id = id;
  if (method !== null) {
    out.kind = id === null ? 'notification' : 'request';
    out.method = method.label;
  } else {
    out.kind = hasError ? 'error' : hasResult ? 'result' : 'invalid';
    out.method = hasError || hasResult ? '' : 'invalid';
  }
  return ENVELOPE_OK;
}

// ---- the strict read a policy decides on ------------------------------------------
// A decider must see what the upstream will see, so this read takes no shortcut: every
// top-level member is read, a repeated `method`, `id` or `params` (or a repeated `name` /
// `uri` inside params) makes the message unreadable, as a parser that keeps the first
// and one that keeps the last would disagree on it, and so does a member name that differs
// from a JSON-RPC/MCP one only by case. `params.name` and `params.uri` are read when they
// are plain strings. Escapes anywhere it looks hand back FALLBACK.

/** A batch (a JSON array): the caller reads it with JSON.parse. */
export const ENVELOPE_BATCH = 4;
/** A member the read depends on appears twice. */
export const ENVELOPE_DUPLICATE = 5;
/** A member name differs from a JSON-RPC/MCP member only by case (a case-insensitive reader, Go's encoding/json, takes it for that member). */
export const ENVELOPE_FOLDED = 6;

// Member names a case-insensitive reader would take a near-miss for, as lower-case char
// codes grouped by length: a key of another length is no near-miss of any of them.
type Watched = readonly (readonly (readonly number[])[] | undefined)[];
function byLength(names: readonly string[]): Watched {
  const out: number[][][] = [];
  for (const n of names) (out[n.length] ??= []).push([...n].map((c) => c.charCodeAt(0)));
  return out;
}
const WATCHED_TOP = byLength(['jsonrpc', 'method', 'id', 'params']);
const WATCHED_PARAMS = byLength(['name', 'uri', 'arguments']);

/** 0 when the key b[s, e) is no near-miss of a watched name; -ENVELOPE_FOLDED when it is an
 *  ASCII case variant of one; -ENVELOPE_FALLBACK when it holds non-ASCII bytes (U+017F and
 *  U+212A fold onto 's' and 'k': the full parser decides). */
function foldedKey(b: Uint8Array, s: number, e: number, watched: Watched): number {
  for (let i = s; i < e; i++) if (b[i]! >= 0x80) return -ENVELOPE_FALLBACK;
  const same = watched[e - s];
  if (same === undefined) return 0;
  for (let j = 0; j < same.length; j++) {
    const w = same[j]!;
    let k = 0;
    let exact = true;
    for (; k < w.length; k++) {
      const c = b[s + k]!;
      if (c === w[k]) continue;
      if ((c | 0x20) !== w[k] || c < 0x41 || c > 0x5a) break;
      exact = false;
    }
    if (k === w.length) return exact ? 0 : -ENVELOPE_FOLDED;
  }
  return 0;
}

/**
 * The last text decoded for one member, with its bytes: a client calls the same few tools
 * again and again, and the same bytes decode to the same string, so a repeat costs a byte
 * compare rather than a decode (and a rule lookup keyed by it finds the string's hash made).
 */
class TextMemo {
  readonly bytes = new Uint8Array(64);
  length = -1;
  text = '';

  /** The UTF-8 text of b[s, e). */
  of(b: Buffer, s: number, e: number): string {
    const n = e - s;
    const held = this.bytes;
    if (n === this.length) {
      let k = n - 1;
      while (k >= 0 && held[k] === b[s + k]) k--;
      if (k < 0) return this.text;
    }
    const text = utf8(b, s, e);
    if (n <= held.length) {
      for (let k = 0; k < n; k++) held[k] = b[s + k]!;
      this.length = n;
      this.text = text;
    }
    return text;
  }
}

/** The reusable result of one strict read. */
export class CallEnvelope {
  /** The method as sent, or null when there is none (a response or an invalid message). */
  method: string | null = null;
  /** True when the message has an `id` member (of any value, null included). */
  hasId = false;
  /** The id as JSON text ("1", "\"a\"", "null"), or null when there is none. */
  id: string | null = null;
  name: string | null = null;
  uri: string | null = null;
  /** `params.name` or `params.uri` is there but is not a string. */
  oddName = false;
  hasResult = false;
  hasError = false;
  /** Where a number id's digits start and end, or -1 and -1 (mcp/call-template.ts). */
  idAt = -1;
  idEnd = -1;
  /** Where params.arguments' value starts and ends (the last one's), or -1 and -1, and how many there were. */
  argsAt = -1;
  argsEnd = -1;
  argsCount = 0;
  readonly nameMemo = new TextMemo();
  readonly uriMemo = new TextMemo();
  readonly methodMemo = new TextMemo();
}

const K_PARAMS = 5;
const K_NAME = 6;
const K_URI = 7;
// Exactly "jsonrpc" / "arguments": watched names, so no near-miss of one; read like any other member.
const K_JSONRPC = 8;
const K_ARGUMENTS = 9;

function strictKey(b: Uint8Array, s: number, e: number): number {
  const k = keyOf(b, s, e);
  if (k !== K_OTHER) return k;
  if (e - s === 6) return b[s] === 0x70 && b[s + 1] === 0x61 && b[s + 2] === 0x72 && b[s + 3] === 0x61 && b[s + 4] === 0x6d && b[s + 5] === 0x73 ? K_PARAMS : K_OTHER;
  if (e - s === 7 && b[s] === 0x6a && b[s + 1] === 0x73 && b[s + 2] === 0x6f && b[s + 3] === 0x6e && b[s + 4] === 0x72 && b[s + 5] === 0x70 && b[s + 6] === 0x63) return K_JSONRPC;
  return K_OTHER;
}

function paramKey(b: Uint8Array, s: number, e: number): number {
  const n = e - s;
  if (n === 4 && b[s] === 0x6e && b[s + 1] === 0x61 && b[s + 2] === 0x6d && b[s + 3] === 0x65) return K_NAME;
  if (n === 3 && b[s] === 0x75 && b[s + 1] === 0x72 && b[s + 2] === 0x69) return K_URI;
  if (n === 9 && b[s] === 0x61 && b[s + 1] === 0x72 && b[s + 2] === 0x67 && b[s + 3] === 0x75 && b[s + 4] === 0x6d && b[s + 5] === 0x65 && b[s + 6] === 0x6e && b[s + 7] === 0x74 && b[s + 8] === 0x73) return K_ARGUMENTS;
  return K_OTHER;
}

/** Reads the members of the params object at b[i] ('{'): name and uri. Returns the index past it, or a negative ENVELOPE_* code. */
function readParams(b: Buffer, i: number, end: number, out: CallEnvelope): number {
  i = skipWs(b, i + 1, end);
  if (i < end && b[i] === RBRACE) return i + 1;
  let nameSeen = false;
  let uriSeen = false;
  for (;;) {
    const keyEnd = memberKeyEnd(b, i, end);
    if (keyEnd < 0) return keyEnd;
    const key = paramKey(b, i + 1, keyEnd - 1);
    if (key === K_OTHER) {
      const folded = foldedKey(b, i + 1, keyEnd - 1, WATCHED_PARAMS);
      if (folded < 0) return folded;
    }
    i = memberValue(b, keyEnd, end);
    if (i < 0) return i;
    let next: number;
    if (key === K_NAME || key === K_URI) {
      if (key === K_NAME ? nameSeen : uriSeen) return -ENVELOPE_DUPLICATE;
      if (key === K_NAME) nameSeen = true;
      else uriSeen = true;
      if (b[i] === QUOTE) {
        next = plainStringEnd(b, i, end);
        if (next === -2) return -ENVELOPE_FALLBACK;
        if (next !== -1) {
          if (key === K_NAME) out.name = out.nameMemo.of(b, i + 1, next - 1);
          else out.uri = out.uriMemo.of(b, i + 1, next - 1);
        }
      } else {
        out.oddName = true;
        next = valueEnd(b, i, end);
      }
    } else {
      next = valueEnd(b, i, end);
      if (key === K_ARGUMENTS) {
        out.argsAt = i;
        out.argsEnd = next;
        out.argsCount++;
      }
    }
    const d = delimiter(b, next, end);
    if (d < 0) return d;
    if (b[d] === RBRACE) return d + 1;
    i = skipWs(b, d + 1, end);
  }
}

/** The index past the digits from b[i], up to e. */
function digitsEnd(b: Buffer, i: number, e: number): number {
  while (i < e && b[i]! >= 0x30 && b[i]! <= 0x39) i++;
  return i;
}

/** True when b[s, e) is a JSON number. */
function isNumberText(b: Buffer, s: number, e: number): boolean {
  let i = s;
  if (b[i] === 0x2d) i++;
  let to = digitsEnd(b, i, e);
  if (to === i) return false;
  i = to;
  if (i < e && b[i] === 0x2e) {
    to = digitsEnd(b, i + 1, e);
    if (to === i + 1) return false;
    i = to;
  }
  if (i < e && (b[i] === 0x65 || b[i] === 0x45)) {
    i++;
    if (i < e && (b[i] === 0x2b || b[i] === 0x2d)) i++;
    to = digitsEnd(b, i, e);
    if (to === i) return false;
    i = to;
  }
  return i === e;
}

/** The text of the JSON number b[s, e) as sent. A whole number written plainly (no sign, no
 *  leading zero) reads the same as String() of its value. */
export function numberText(b: Buffer, s: number, e: number): string {
  return (b[s] !== 0x30 || e - s === 1 ? smallIntText(b, s, e) : null) ?? latin1(b, s, e);
}

/**
 * The id readEnvelope finds in the request or notification readCallEnvelope read OK into
 * `env`: null for none, else its JSON text; undefined when the two reads may differ, so the
 * inspector reads the bytes itself. They differ on numbers other than plain whole ones
 * (numberText keeps "1.0" as sent, numberId writes 1), and on an id of a notifications/*
 * method, which readEnvelope does not look for once params begin.
 */
export function inspectedId(env: CallEnvelope): string | null | undefined {
  const method = env.method;
  if (method === null) return undefined;
  if (!env.hasId) return null;
  if (method.startsWith('notifications/')) return undefined;
  const id = env.id!;
  if (id === 'null') return null;
  if (id.charCodeAt(0) === QUOTE) return id;
  const n = id.length;
  if (n > 15 || (n > 1 && id.charCodeAt(0) === 0x30)) return undefined;
  for (let i = 0; i < n; i++) {
    const c = id.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return undefined;
  }
  return n === 0 ? undefined : id;
}

/** Reads the message in b[start, end) strictly into `out` (see above); returns an ENVELOPE_* code. */
export function readCallEnvelope(b: Buffer, start: number, end: number, out: CallEnvelope): number {
  out.method = null;
  out.hasId = false;
  out.id = null;
  out.name = null;
  out.uri = null;
  out.oddName = false;
  out.hasResult = false;
  out.hasError = false;
  out.idAt = -1;
  out.idEnd = -1;
  out.argsAt = -1;
  out.argsEnd = -1;
  out.argsCount = 0;
  let i = skipWs(b, start, end);
  if (i === end) return ENVELOPE_EMPTY;
  if (b[i] === LBRACKET) return ENVELOPE_BATCH;
  if (b[i] !== LBRACE) return ENVELOPE_MALFORMED;
  let methodSeen = false;
  let paramsSeen = false;
  i = skipWs(b, i + 1, end);
  if (i < end && b[i] === RBRACE) return skipWs(b, i + 1, end) === end ? ENVELOPE_OK : ENVELOPE_MALFORMED;
  for (;;) {
    const keyEnd = memberKeyEnd(b, i, end);
    if (keyEnd < 0) return -keyEnd;
    const key = strictKey(b, i + 1, keyEnd - 1);
    if (key === K_OTHER || key === K_RESULT || key === K_ERROR) {
      const folded = foldedKey(b, i + 1, keyEnd - 1, WATCHED_TOP);
      if (folded < 0) return -folded;
    }
    i = memberValue(b, keyEnd, end);
    if (i < 0) return -i;
    const c = b[i]!;
    let next: number;
    if (key === K_METHOD) {
      if (methodSeen) return ENVELOPE_DUPLICATE;
      methodSeen = true;
      if (c !== QUOTE) return ENVELOPE_FALLBACK;
      next = plainStringEnd(b, i, end);
      if (next === -2) return ENVELOPE_FALLBACK;
      if (next === -1) return ENVELOPE_MALFORMED;
      const known = methodOf(b, i + 1, next - 1);
      out.method = known === OTHER_METHOD ? out.methodMemo.of(b, i + 1, next - 1) : known.label;
    } else if (key === K_ID) {
      if (out.hasId) return ENVELOPE_DUPLICATE;
      out.hasId = true;
      next = valueEnd(b, i, end);
      if (next === -1) return ENVELOPE_MALFORMED;
      if (c === QUOTE) {
        if (plainStringEnd(b, i, end) !== next) return ENVELOPE_FALLBACK;
        out.id = utf8(b, i, next);
      } else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
        // Kept as sent: an answer must carry the very id the client used.
        if (!isNumberText(b, i, next)) return ENVELOPE_MALFORMED;
        out.id = numberText(b, i, next);
        out.idAt = i;
        out.idEnd = next;
      } else if (c === 0x6e && next - i === 4 && b[i + 1] === 0x75 && b[i + 2] === 0x6c && b[i + 3] === 0x6c) {
        out.id = 'null';
      } else {
        return ENVELOPE_FALLBACK;
      }
    } else if (key === K_PARAMS) {
      if (paramsSeen) return ENVELOPE_DUPLICATE;
      paramsSeen = true;
      if (c === LBRACE) {
        next = readParams(b, i, end, out);
        if (next < 0) return -next;
      } else {
        next = valueEnd(b, i, end);
      }
    } else {
      if (key === K_RESULT) out.hasResult = true;
      else if (key === K_ERROR) out.hasError = true;
      next = valueEnd(b, i, end);
    }
    const d = delimiter(b, next, end);
    if (d < 0) return -d;
    if (b[d] === RBRACE) return skipWs(b, d + 1, end) === end ? ENVELOPE_OK : ENVELOPE_MALFORMED;
    i = skipWs(b, d + 1, end);
  }
}

/** True when any object anywhere in the JSON text has a key twice (keys compared decoded). */
export function hasDuplicateKeys(text: string): boolean {
  const stack: (Set<string> | null)[] = [];
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      let j = i + 1;
      let escaped = false;
      for (; j < text.length; j++) {
        const d = text.charCodeAt(j);
        if (d === BACKSLASH) {
          escaped = true;
          j++;
        } else if (d === QUOTE) break;
      }
      const top = stack.length > 0 ? stack[stack.length - 1] : null;
      if (expectKey && top !== null && top !== undefined) {
        const raw = text.slice(i, j + 1);
        const key = escaped ? (JSON.parse(raw) as string) : raw.slice(1, -1);
        if (top.has(key)) return true;
        top.add(key);
        expectKey = false;
      }
      i = j;
    } else if (c === LBRACE) {
      stack.push(new Set());
      expectKey = true;
    } else if (c === LBRACKET) {
      stack.push(null);
    } else if (c === RBRACE || c === RBRACKET) {
      stack.pop();
      expectKey = false;
    } else if (c === COMMA) {
      expectKey = stack.length > 0 && stack[stack.length - 1] !== null;
    }
  }
  return false;
}
