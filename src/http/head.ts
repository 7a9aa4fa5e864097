// Reading and rewriting HTTP/1.1 heads from their raw bytes. llhttp has already
// validated the bytes; this file only finds the fields the proxy acts on and rebuilds a
// head from slices of the original, so header values are never decoded and re-encoded.

import { Buffer } from 'node:buffer';
import { copyInto, copyRange, indexOfByte, indexOfBytes, latin1, view, writeLatin1 } from '../bytes.js';
import type { HeaderLine } from '../config.js';
import { BadRequestError, UnsupportedTransferCodingError } from '../errors.js';
import { FIELD_API_KEY, FIELD_AUTHORIZATION, FIELD_DATE, FIELD_LENGTH, FIELD_PLAIN, FIELD_SECRET, FRAMED_CLOSE, FRAMED_KEEP_ALIVE, FRAMING_UNKNOWN, HeadTemplate, MAX_TEMPLATE_BYTES, TemplateTable } from './head-template.js';
import { APPLICATION_JSON, APPLICATION_JSON_UTF8, EVENT_STREAM, EVENT_STREAM_UTF8 } from './media-type.js';

const CR = 0x0d;
const LF = 0x0a;
const COLON = 0x3a;
const SP = 0x20;
const HTAB = 0x09;
const CRLFCRLF = Buffer.from('\r\n\r\n', 'latin1');

/** Hop-by-hop headers removed in both directions (docs/reference.md "forward http"). */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'upgrade', 'proxy-authorization']);
/** Headers a Connection token may never remove: they frame the message or route it. */
const PROTECTED = new Set(['content-length', 'transfer-encoding', 'host']);

/** One header line of a raw head. */
export interface HeaderField {
  /** Lower-case field name. */
  readonly name: string;
  /** The name's place in the table of known names (FIELD_NAMES), or -1: what the rewrite drops is looked up by it. */
  readonly known: number;
  readonly lineStart: number;
  /** Index just past the line's CRLF. */
  readonly lineEnd: number;
  readonly valueStart: number;
  readonly valueEnd: number;
}

/** Fields shared by request and response heads. */
interface HeadBase {
  readonly raw: Buffer;
  readonly fields: readonly HeaderField[];
  /** Index of the CR ending the start line. */
  readonly startLineEnd: number;
  /** Lower-case tokens of every Connection header. */
  readonly connectionTokens: readonly string[];
  readonly contentType: string | null;
  readonly mcpSessionId: string | null;
  readonly upgrade: string | null;
  readonly chunked: boolean;
  /** -1 when absent. */
  readonly contentLength: number;
}

/** A request head as the proxy sees it. */
export interface RequestHead extends HeadBase {
  readonly method: string;
  readonly target: string;
  readonly versionMinor: number;
  readonly host: string | null;
  /** Existing X-Forwarded-For and Via values, to append to. */
  readonly forwardedFor: string | null;
  readonly via: string | null;
  /** The client asked to close after this exchange (HTTP/1.0 default or Connection: close). */
  readonly wantsClose: boolean;
  /** `Expect: 100-continue`: the client waits for an interim answer before its body. */
  readonly expectContinue: boolean;
  /** An `MCP-Protocol-Version` header is present. */
  readonly mcpProtocolVersion: boolean;
  /** The `Origin` header (browsers send it; other clients do not), or null. */
  readonly origin: string | null;
  /** `Authorization` and `X-API-Key`, for --auth-keys (never logged). */
  readonly authorization: string | null;
  readonly apiKey: string | null;
  /** The kept head this one was read as (or was read into), which also keeps its last upstream head; null when not kept. */
  readonly template: HeadTemplate<RequestHead> | null;
}

/** A response head as the proxy sees it. */
export interface ResponseHead extends HeadBase {
  readonly statusCode: number;
  readonly via: string | null;
  /** `Keep-Alive: timeout=N` in ms: how long the upstream keeps an idle link; -1 when unsaid. */
  readonly keepAliveTimeoutMs: number;
  /** Transfer-Encoding is present and is not exactly `chunked` (a request like that is refused while read). */
  readonly otherCoding: boolean;
  /** As RequestHead's, the last client head built from it kept. */
  readonly template: HeadTemplate<ResponseHead> | null;
}

/** Finds the end of a head (index past CRLFCRLF) in `buf`, searching from `from`; -1 if absent. */
export function findHeadEnd(buf: Buffer, from: number): number {
  const i = indexOfBytes(buf, CRLFCRLF, from);
  return i === -1 ? -1 : i + 4;
}

/** Number of empty lines (CRLF pairs) before a request line, which RFC 9112 §2.2 lets us skip. */
export function leadingEmptyLines(buf: Buffer): number {
  let i = 0;
  while (i + 1 < buf.length && buf[i] === CR && buf[i + 1] === 0x0a) i += 2;
  return i;
}

/** tchar of RFC 9110 §5.6.2: the bytes a field name may hold. */
const TCHAR = (() => {
  const t = new Uint8Array(256);
  for (const c of "!#$%&'*+-.^_`|~") t[c.charCodeAt(0)] = 1;
  for (let c = 0x30; c <= 0x39; c++) t[c] = 1;
  for (let c = 0x41; c <= 0x5a; c++) t[c] = 1;
  for (let c = 0x61; c <= 0x7a; c++) t[c] = 1;
  return t;
})();

/** Strings looked up by their bytes, grouped by length: a hit costs no new string. */
class InternTable {
  readonly values: readonly string[];
  readonly #bytes: Uint8Array[][] = [];
  readonly #index: number[][] = [];

  constructor(values: readonly string[]) {
    this.values = values;
    values.forEach((v, i) => {
      (this.#bytes[v.length] ??= []).push(Buffer.from(v, 'latin1'));
      (this.#index[v.length] ??= []).push(i);
    });
  }

  /** The interned string equal to raw[start, end), or null; `fold` ORs 0x20 into each byte first. */
  find(raw: Buffer, start: number, end: number, fold: boolean): string | null {
    const i = this.indexOf(raw, start, end, fold);
    return i === -1 ? null : this.values[i]!;
  }

  /** The place in `values` of the string equal to raw[start, end), or -1. */
  indexOf(raw: Buffer, start: number, end: number, fold: boolean): number {
    const len = end - start;
    const candidates = this.#bytes[len];
    if (candidates === undefined) return -1;
    const mask = fold ? 0x20 : 0;
    for (let c = 0; c < candidates.length; c++) {
      const known = candidates[c]!;
      let k = 0;
      while (k < len && (raw[start + k]! | mask) === known[k]) k++;
      if (k === len) return this.#index[len]![c]!;
    }
    return -1;
  }
}

// Header names the proxy acts on or commonly sees. Field names are tchars (checked
// before the lookup): OR-ing 0x20 folds only A-Z onto a-z.
const FIELD_NAMES = new InternTable(['host', 'connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'upgrade', 'proxy-authorization',
  'content-length', 'transfer-encoding', 'content-type', 'mcp-session-id', 'mcp-protocol-version', 'last-event-id', 'via',
  'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'accept', 'accept-encoding', 'user-agent', 'authorization',
  'server', 'date', 'cache-control', 'content-encoding', 'origin', 'cookie', 'set-cookie', 'vary', 'etag', 'last-modified',
  'accept-ranges', 'location', 'expect', 'x-api-key']);
const METHODS = new InternTable(['GET', 'POST', 'HEAD', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'CONNECT', 'TRACE']);
const CONTENT_TYPES = new InternTable([APPLICATION_JSON, EVENT_STREAM, APPLICATION_JSON_UTF8, EVENT_STREAM_UTF8, 'text/plain', 'text/plain; charset=utf-8', 'text/html', 'application/octet-stream']);

/** The lower-case name of a field not in FIELD_NAMES. */
function unknownName(raw: Buffer, start: number, end: number): string {
  return latin1(raw, start, end).toLowerCase();
}

/** Strings of recent header values (and request targets), found again by their bytes: the
 *  Host, session id and path of a connection repeat on each of its requests, and a hit costs
 *  a compare instead of a new string. Direct-mapped; a miss replaces the slot. Credentials
 *  are never put here. */
class ValueCache {
  // A latin1 string holds its bytes as its char codes: the string is all a slot keeps.
  readonly #strings: string[] = new Array<string>(VALUE_SLOTS).fill('');

  /** raw[start, end) as a latin1 string. */
  get(raw: Buffer, start: number, end: number): string {
    const n = end - start;
    if (n === 0) return '';
    if (n > MAX_CACHED_VALUE) return latin1(raw, start, end);
    const slot = (n * 31 + raw[start]! * 7 + raw[end - 1]! * 3 + raw[start + (n >> 1)]!) & (VALUE_SLOTS - 1);
    const known = this.#strings[slot]!;
    if (known.length === n) {
      let k = 0;
      while (k < n && raw[start + k] === known.charCodeAt(k)) k++;
      if (k === n) return known;
    }
    const str = latin1(raw, start, end);
    this.#strings[slot] = str;
    return str;
  }
}
const VALUE_SLOTS = 256;
const MAX_CACHED_VALUE = 96;
const VALUES = new ValueCache();

// Checks made here, whatever the llhttp build: obs-fold (RFC 9112 §5.2) and field names
// that are not tokens, e.g. whitespace before the colon (RFC 9112 §5.1): both are classic
// request-smuggling vectors when two parsers disagree.
function scanFields(raw: Buffer, startLineEnd: number): HeaderField[] {
  const fields: HeaderField[] = [];
  let lineStart = startLineEnd + 2;
  const end = raw.length - 2; // the final empty line
  while (lineStart < end) {
    // The name runs over tchars up to the colon: one pass finds the colon and checks the name.
    let colon = lineStart;
    while (TCHAR[raw[colon]!] === 1) colon++;
    if (raw[colon] !== COLON) {
      if (raw[colon] === CR) throw new BadRequestError(colon === lineStart ? 'empty header name' : 'header line without a colon');
      throw new BadRequestError(raw[lineStart] === SP || raw[lineStart] === HTAB ? 'obs-fold line folding' : 'invalid header name');
    }
    if (colon === lineStart) throw new BadRequestError('empty header name');
    const cr = indexOfByte(raw, CR, colon);
    if (cr === -1) throw new BadRequestError('header line without a colon');
    let vs = colon + 1;
    while (vs < cr && (raw[vs] === SP || raw[vs] === HTAB)) vs++;
    let ve = cr;
    while (ve > vs && (raw[ve - 1] === SP || raw[ve - 1] === HTAB)) ve--;
    const known = FIELD_NAMES.indexOf(raw, lineStart, colon, true);
    fields.push({ name: known === -1 ? unknownName(raw, lineStart, colon) : FIELD_NAMES.values[known]!, known, lineStart, lineEnd: cr + 2, valueStart: vs, valueEnd: ve });
    lineStart = cr + 2;
  }
  return fields;
}

/** A Content-Length value read from its bytes, as Number() would read its text. */
function decimal(raw: Buffer, start: number, end: number): number {
  let n = 0;
  for (let i = start; i < end; i++) {
    const d = raw[i]! - 0x30;
    // Anything unusual is read exactly as Number() reads the text.
    if (d < 0 || d > 9) return Number(raw.toString('latin1', start, end));
    n = n * 10 + d;
  }
  return end > start && end - start <= 15 ? n : Number(raw.toString('latin1', start, end));
}

function value(raw: Buffer, f: HeaderField): string {
  return latin1(raw, f.valueStart, f.valueEnd);
}

function pushTokens(list: string, out: string[]): void {
  // Nearly every Connection header is one of these: no split, no trim.
  if (list.length <= 10 && list.indexOf(',') === -1) {
    const one = list.toLowerCase();
    if (one === 'keep-alive' || one === 'close' || one === 'upgrade') {
      out.push(one);
      return;
    }
  }
  for (const t of list.split(',')) {
    const s = t.trim().toLowerCase();
    if (s !== '') out.push(s);
  }
}

const NO_TOKENS: readonly string[] = Object.freeze([]);
const CONNECTION_TOKENS = new InternTable(['keep-alive', 'close', 'upgrade']);
/** The token lists of a lone known token: shared, so never written to (a second Connection field copies). */
const ONE_TOKEN: readonly (readonly string[])[] = CONNECTION_TOKENS.values.map((t) => Object.freeze([t]));

// What one pass over the fields finds; shared by requests and responses.
interface Scan {
  connectionTokens: readonly string[];
  contentType: string | null;
  mcpSessionId: string | null;
  mcpProtocolVersion: boolean;
  upgrade: string | null;
  chunked: boolean;
  hasTransferEncoding: boolean;
  /** Codings seen across every Transfer-Encoding field. */
  codings: number;
  expectContinue: boolean;
  contentLength: number;
  host: string | null;
  hostCount: number;
  origin: string | null;
  authorization: string | null;
  apiKey: string | null;
  forwardedFor: string | null;
  via: string | null;
  keepAliveTimeoutMs: number;
}

// One scratch scan for every head: the readers copy what they keep out of it before they return.
const SCAN: Scan = {
  connectionTokens: NO_TOKENS, contentType: null, mcpSessionId: null, mcpProtocolVersion: false, upgrade: null, chunked: false,
  hasTransferEncoding: false, codings: 0, expectContinue: false, contentLength: -1, host: null, hostCount: 0, origin: null, authorization: null, apiKey: null, forwardedFor: null, via: null,
  keepAliveTimeoutMs: -1,
};

function scanValues(raw: Buffer, fields: readonly HeaderField[]): Scan {
  const out = SCAN;
  out.connectionTokens = NO_TOKENS;
  out.contentType = null;
  out.mcpSessionId = null;
  out.mcpProtocolVersion = false;
  out.upgrade = null;
  out.chunked = false;
  out.hasTransferEncoding = false;
  out.codings = 0;
  out.expectContinue = false;
  out.contentLength = -1;
  out.host = null;
  out.hostCount = 0;
  out.origin = null;
  out.authorization = null;
  out.apiKey = null;
  out.forwardedFor = null;
  out.via = null;
  out.keepAliveTimeoutMs = -1;
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i]!;
    switch (f.name) {
      case 'connection': {
        // Nearly every Connection header is one token we know: read from its bytes, no string
        // made. Folding ORs 0x20 in: only A-Z fold onto the tokens' letters, and only CR onto
        // '-', which a value cannot hold.
        const one = out.connectionTokens === NO_TOKENS ? CONNECTION_TOKENS.indexOf(raw, f.valueStart, f.valueEnd, true) : -1;
        if (one !== -1) {
          out.connectionTokens = ONE_TOKEN[one]!;
          break;
        }
        const list = out.connectionTokens === NO_TOKENS ? [] : [...out.connectionTokens];
        pushTokens(value(raw, f), list);
        out.connectionTokens = list;
        break;
      }
      case 'content-type': out.contentType = CONTENT_TYPES.find(raw, f.valueStart, f.valueEnd, false) ?? value(raw, f); break;
      case 'mcp-session-id': out.mcpSessionId = VALUES.get(raw, f.valueStart, f.valueEnd); break;
      case 'mcp-protocol-version': out.mcpProtocolVersion = true; break;
      case 'upgrade': out.upgrade = value(raw, f); break;
      case 'transfer-encoding': {
        const t: string[] = [];
        pushTokens(value(raw, f), t);
        out.chunked = t[t.length - 1] === 'chunked';
        out.hasTransferEncoding = true;
        out.codings += t.length;
        break;
      }
      case 'expect': out.expectContinue = value(raw, f).toLowerCase() === '100-continue'; break;
      case 'content-length': out.contentLength = decimal(raw, f.valueStart, f.valueEnd); break;
      case 'host': out.host = VALUES.get(raw, f.valueStart, f.valueEnd); out.hostCount++; break;
      case 'origin': out.origin = VALUES.get(raw, f.valueStart, f.valueEnd); break;
      case 'authorization': out.authorization = value(raw, f); break;
      case 'x-api-key': out.apiKey = value(raw, f); break;
      case 'x-forwarded-for': out.forwardedFor = out.forwardedFor === null ? value(raw, f) : `${out.forwardedFor}, ${value(raw, f)}`; break;
      case 'via': out.via = out.via === null ? value(raw, f) : `${out.via}, ${value(raw, f)}`; break;
      case 'keep-alive': out.keepAliveTimeoutMs = keepAliveTimeoutMs(VALUES.get(raw, f.valueStart, f.valueEnd)); break;
    }
  }
  return out;
}

// An upstream says the same Keep-Alive on every response: the last one read is remembered.
let lastKeepAlive = '';
let lastKeepAliveMs = -1;

/** `timeout=N` of a Keep-Alive value, in ms; -1 when it has none. */
function keepAliveTimeoutMs(v: string): number {
  if (v === lastKeepAlive) return lastKeepAliveMs;
  const m = /(?:^|[,\s])timeout\s*=\s*(\d+)/i.exec(v);
  lastKeepAlive = v;
  lastKeepAliveMs = m === null ? -1 : Number(m[1]) * 1000;
  return lastKeepAliveMs;
}

/** Transfer-Encoding is there and is not exactly one `chunked` (across every field). */
function otherCoding(v: Scan): boolean {
  return v.hasTransferEncoding && (!v.chunked || v.codings !== 1);
}

/** What each known field name is to a kept head (head-template.ts). */
const TEMPLATE_ROLES = Uint8Array.from(FIELD_NAMES.values, (n) =>
  n === 'content-length' ? FIELD_LENGTH : n === 'date' ? FIELD_DATE : n === 'authorization' ? FIELD_AUTHORIZATION : n === 'x-api-key' ? FIELD_API_KEY
  : n === 'proxy-authorization' || n === 'cookie' || n === 'set-cookie' ? FIELD_SECRET : FIELD_PLAIN);
const REQUESTS = new TemplateTable<RequestHead>(TEMPLATE_ROLES);
const RESPONSES = new TemplateTable<ResponseHead>(TEMPLATE_ROLES);

/** Reads a validated request head (`raw` ends with CRLFCRLF); throws BadRequestError on what llhttp lets through. */
export function readRequestHead(raw: Buffer): RequestHead {
  // Equal to a head read before in every byte but its Content-Length: read as that one was.
  const t = REQUESTS.match(raw);
  if (t !== null) return requestLike(t.model!, raw, t.contentLength(raw), t.authorization(raw), t.apiKey(raw), t);
  return readRequestHeadAnew(raw);
}

/** readRequestHead without looking for a kept head like it (tests compare the two). */
export function readRequestHeadAnew(raw: Buffer): RequestHead {
  const startLineEnd = indexOfByte(raw, CR, 0);
  const sp1 = indexOfByte(raw, SP, 0);
  const sp2 = indexOfByte(raw, SP, sp1 + 1);
  if (sp1 <= 0 || sp2 <= sp1 || sp2 > startLineEnd) throw new BadRequestError('malformed request line');
  const fields = scanFields(raw, startLineEnd);
  const v = scanValues(raw, fields);
  const versionMinor = raw[startLineEnd - 1]! - 0x30;
  // RFC 9112 §3.2: exactly one Host in HTTP/1.1; several Hosts are a routing ambiguity.
  if (v.hostCount > 1) throw new BadRequestError('more than one Host header');
  if (v.hostCount === 0 && versionMinor >= 1) throw new BadRequestError('missing Host header');
  // RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 request cannot be trusted to frame it.
  if (versionMinor === 0 && v.hasTransferEncoding) throw new BadRequestError('Transfer-Encoding in an HTTP/1.0 request');
  // nginx's answer too: a coding we would have to undo to find the body's end is not ours to pass on.
  if (otherCoding(v)) throw new UnsupportedTransferCodingError();
  const tokens = v.connectionTokens;
  const learnt = REQUESTS.learn(raw, fields);
  const head: RequestHead = {
    raw, fields, startLineEnd, connectionTokens: tokens, contentType: v.contentType, mcpSessionId: v.mcpSessionId, mcpProtocolVersion: v.mcpProtocolVersion,
    upgrade: v.upgrade, chunked: v.chunked, contentLength: v.contentLength,
    method: METHODS.find(raw, 0, sp1, false) ?? latin1(raw, 0, sp1),
    target: VALUES.get(raw, sp1 + 1, sp2),
    versionMinor,
    host: v.host,
    origin: v.origin,
    authorization: v.authorization,
    apiKey: v.apiKey,
    forwardedFor: v.forwardedFor,
    via: v.via,
    wantsClose: tokens.includes('close') || (versionMinor === 0 && !tokens.includes('keep-alive')),
    expectContinue: v.expectContinue,
    template: learnt,
  };
  // The model keeps no credential: each matching head's own is read from its bytes.
  if (learnt !== null) learnt.model = requestLike(head, learnt.bytes, head.contentLength, null, null, learnt);
  return head;
}

/** `m` read from `raw` instead, which holds the same bytes but for the wildcard values (the same literal shape as readRequestHead's). */
function requestLike(m: RequestHead, raw: Buffer, contentLength: number, authorization: string | null, apiKey: string | null, template: HeadTemplate<RequestHead>): RequestHead {
  return {
    raw, fields: m.fields, startLineEnd: m.startLineEnd, connectionTokens: m.connectionTokens, contentType: m.contentType, mcpSessionId: m.mcpSessionId, mcpProtocolVersion: m.mcpProtocolVersion,
    upgrade: m.upgrade, chunked: m.chunked, contentLength,
    method: m.method,
    target: m.target,
    versionMinor: m.versionMinor,
    host: m.host,
    origin: m.origin,
    authorization,
    apiKey,
    forwardedFor: m.forwardedFor,
    via: m.via,
    wantsClose: m.wantsClose,
    expectContinue: m.expectContinue,
    template,
  };
}

/** Reads a validated response head. */
export function readResponseHead(raw: Buffer): ResponseHead {
  // Equal to a head read before in every byte but its Content-Length and Date: read as that one was.
  const t = RESPONSES.match(raw);
  if (t !== null) return responseLike(t.model!, raw, t.contentLength(raw), t);
  return readResponseHeadAnew(raw);
}

/** readResponseHead without looking for a kept head like it (tests compare the two). */
export function readResponseHeadAnew(raw: Buffer): ResponseHead {
  const startLineEnd = indexOfByte(raw, CR, 0);
  const sp1 = indexOfByte(raw, SP, 0);
  // Three digits, 100 to 999, then a space or the line's end: this llhttp build passes a
  // status line such as "HTTP/1.1 10 Continue", which must not reach a client as a 1xx.
  const d1 = raw[sp1 + 1]! - 0x30;
  const d2 = raw[sp1 + 2]! - 0x30;
  const d3 = raw[sp1 + 3]! - 0x30;
  if (sp1 < 0 || sp1 + 4 > startLineEnd || d1 < 1 || d1 > 9 || d2 < 0 || d2 > 9 || d3 < 0 || d3 > 9 || (sp1 + 4 !== startLineEnd && raw[sp1 + 4] !== SP)) {
    throw new Error('malformed status line');
  }
  const fields = scanFields(raw, startLineEnd);
  const v = scanValues(raw, fields);
  const learnt = RESPONSES.learn(raw, fields);
  const head: ResponseHead = {
    raw, fields, startLineEnd, connectionTokens: v.connectionTokens, contentType: v.contentType, mcpSessionId: v.mcpSessionId,
    upgrade: v.upgrade, chunked: v.chunked, otherCoding: otherCoding(v), contentLength: v.contentLength,
    statusCode: d1 * 100 + d2 * 10 + d3,
    via: v.via,
    keepAliveTimeoutMs: v.keepAliveTimeoutMs,
    template: learnt,
  };
  if (learnt !== null) learnt.model = responseLike(head, learnt.bytes, head.contentLength, learnt);
  return head;
}

/** `m` read from `raw` instead (as requestLike). */
function responseLike(m: ResponseHead, raw: Buffer, contentLength: number, template: HeadTemplate<ResponseHead>): ResponseHead {
  return {
    raw, fields: m.fields, startLineEnd: m.startLineEnd, connectionTokens: m.connectionTokens, contentType: m.contentType, mcpSessionId: m.mcpSessionId,
    upgrade: m.upgrade, chunked: m.chunked, otherCoding: m.otherCoding, contentLength,
    statusCode: m.statusCode,
    via: m.via,
    keepAliveTimeoutMs: m.keepAliveTimeoutMs,
    template,
  };
}

// ---- heads framed without llhttp --------------------------------------------------------
// A head that matches a kept one which llhttp framed as a plain message is framed as that
// one was: it differs only in its Content-Length digits and its Date's printable bytes,
// which llhttp reads the same whatever they hold (the digits are no longer than 15, so no
// value overflows); a credential's bytes, which the match does not look at, are checked to
// be printable ASCII. llhttp need not see it, nor its body (a Content-Length body is
// counted by the corridor anyway). Anything else, and every head until llhttp framed one
// like it, goes through llhttp as before.

/** The whole head at the start of `chunk` (which starts a message), at most `maxHead` bytes: its bytes when it ends there, else null. */
function headAtStart(chunk: Buffer, maxHead: number): Buffer | null {
  const c = chunk[0];
  // Empty lines before a request line are llhttp's to skip.
  if (c === undefined || c === CR || c === LF) return null;
  const end = findHeadEnd(chunk, 0);
  if (end === -1 || end > maxHead || end > MAX_TEMPLATE_BYTES) return null;
  return end === chunk.length ? chunk : view(chunk, 0, end);
}

/** The request head at the start of `chunk` (a message's first bytes) read as the kept head it matches, or null; whether llhttp may be skipped for it is framedBefore's. */
export function keptRequestHead(chunk: Buffer, maxHead: number): RequestHead | null {
  const raw = headAtStart(chunk, maxHead);
  if (raw === null) return null;
  const t = REQUESTS.match(raw);
  return t === null ? null : requestLike(t.model!, raw, t.contentLength(raw), t.authorization(raw), t.apiKey(raw), t);
}

/** The response head at the start of `chunk` read as the kept head it matches, or null (as keptRequestHead). */
export function keptResponseHead(chunk: Buffer, maxHead: number): ResponseHead | null {
  const raw = headAtStart(chunk, maxHead);
  if (raw === null) return null;
  const t = RESPONSES.match(raw);
  return t === null ? null : responseLike(t.model!, raw, t.contentLength(raw), t);
}

/** Whether `head` (from keptRequestHead or keptResponseHead) may skip llhttp: llhttp framed a head like it as a plain message, and its credentials' bytes are ones llhttp reads alike. */
export function framedBefore(head: RequestHead | ResponseHead): boolean {
  const t = head.template;
  return t !== null && t.framing !== FRAMING_UNKNOWN && (!t.secrets || t.plainSecrets(head.raw));
}

/** llhttp's keep-alive verdict on the head like `head` it framed (framedBefore(head) holds). */
export function framedKeepAlive(head: RequestHead | ResponseHead): boolean {
  return head.template!.framing === FRAMED_KEEP_ALIVE;
}

/** llhttp framed `req` (just read) and said `keepAlive` of it: heads like it may skip llhttp when it is a plain message (no chunked body, no upgrade). */
export function noteRequestFramed(req: RequestHead, keepAlive: boolean): void {
  const t = req.template;
  if (t === null || t.framing !== FRAMING_UNKNOWN || req.chunked || req.upgrade !== null || req.method === 'CONNECT') return;
  t.framing = keepAlive ? FRAMED_KEEP_ALIVE : FRAMED_CLOSE;
}

/** llhttp framed `res` (just read) and said `keepAlive` of it: heads like it may skip llhttp when it is a final answer with a Content-Length body. */
export function noteResponseFramed(res: ResponseHead, keepAlive: boolean): void {
  const t = res.template;
  if (t === null || t.framing !== FRAMING_UNKNOWN) return;
  const s = res.statusCode;
  if (s < 200 || s > 599 || s === 204 || s === 304 || res.chunked || res.otherCoding || res.contentLength < 0 || res.upgrade !== null) return;
  t.framing = keepAlive ? FRAMED_KEEP_ALIVE : FRAMED_CLOSE;
}

// The lines a request gains depend on the client and its Host, and rarely change on a
// connection: kept as bytes per client IP, so most requests copy them.
interface AddedLines {
  readonly host: string | null;
  readonly bytes: Buffer;
}
const MAX_CACHED_CLIENTS = 1024;
const CONNECTION_LINES = ['', 'Connection: close\r\n', 'Connection: keep-alive\r\n'];

/** Where and how a request is forwarded (derived once per app from --url), and the header lines it adds, kept as bytes. */
export class RequestRewrite {
  /** Value of the upstream Host header. */
  readonly upstreamHost: string;
  /** --url's path and query, used for a request to `/`. */
  readonly rootPath: string;
  /** The Via entry this proxy adds. */
  readonly viaEntry: string;
  /** Request headers never forwarded as received: the proxy writes its own (--upstream-header's included). */
  readonly replacedInRequest: ReadonlySet<string>;
  readonly #injected: string;
  readonly #requestLines = new Map<string, AddedLines>();
  // Via plus the Connection variant (none, close, keep-alive) of a response without a Via of its own.
  readonly #responseLines: (Buffer | undefined)[] = [];

  /** `dropped`: request headers never forwarded (a client's credentials for the proxy). */
  constructor(upstreamHost: string, rootPath: string, viaEntry: string, injected: readonly HeaderLine[] = [], dropped: readonly string[] = []) {
    this.upstreamHost = upstreamHost;
    this.rootPath = rootPath;
    this.viaEntry = viaEntry;
    this.replacedInRequest = new Set([...REPLACED_IN_REQUEST, ...injected.map((h) => h.name.toLowerCase()), ...dropped]);
    this.#injected = injected.map((h) => `${h.name}: ${h.value}\r\n`).join('');
  }

  /** The lines a forwarded request gains, CRLF CRLF included. */
  requestLines(req: RequestHead, clientIp: string, upgrading: boolean): string | Buffer {
    const cacheable = req.forwardedFor === null && req.via === null && !upgrading;
    if (cacheable) {
      const hit = this.#requestLines.get(clientIp);
      if (hit !== undefined && hit.host === req.host) return hit.bytes;
    }
    const xff = req.forwardedFor === null ? clientIp : `${req.forwardedFor}, ${clientIp}`;
    const via = req.via === null ? this.viaEntry : `${req.via}, ${this.viaEntry}`;
    let extra = `Host: ${this.upstreamHost}\r\nX-Forwarded-For: ${xff}\r\nX-Forwarded-Proto: http\r\n`;
    if (req.host !== null) extra += `X-Forwarded-Host: ${req.host}\r\n`;
    extra += `Via: ${via}\r\n${this.#injected}`;
    if (upgrading) extra += 'Connection: upgrade\r\n';
    extra += '\r\n';
    if (!cacheable) return extra;
    if (this.#requestLines.size >= MAX_CACHED_CLIENTS) this.#requestLines.clear();
    const bytes = Buffer.from(extra, 'latin1');
    this.#requestLines.set(clientIp, { host: req.host, bytes });
    return bytes;
  }

  /** The lines a forwarded response gains, CRLF CRLF included. */
  responseLines(res: ResponseHead, upgrading: boolean, close: boolean, http10Client: boolean): string | Buffer {
    // RFC 9112 §9.3: an HTTP/1.0 client keeps the connection only when told so.
    const variant = close ? 1 : http10Client ? 2 : 0;
    if (res.via !== null || upgrading) {
      const connection = upgrading ? 'Connection: upgrade\r\n' : CONNECTION_LINES[variant]!;
      return `Via: ${res.via === null ? this.viaEntry : `${res.via}, ${this.viaEntry}`}\r\n${connection}\r\n`;
    }
    return (this.#responseLines[variant] ??= Buffer.from(`Via: ${this.viaEntry}\r\n${CONNECTION_LINES[variant]!}\r\n`, 'latin1'));
  }
}

/** Maps a client's request target to the upstream's (docs/reference.md: `/` goes to --url's path). */
export function upstreamTarget(target: string, rootPath: string): string {
  let path = target;
  if (!path.startsWith('/') && path !== '*') {
    // absolute-form (RFC 9112 §3.2.2): forward its path only; the upstream is ours to pick.
    const schemeEnd = path.indexOf('://');
    const slash = schemeEnd === -1 ? -1 : path.indexOf('/', schemeEnd + 3);
    const query = schemeEnd === -1 ? -1 : path.indexOf('?', schemeEnd + 3);
    path = slash !== -1 && (query === -1 || slash < query) ? path.slice(slash) : `/${query === -1 ? '' : path.slice(query)}`;
  }
  if (path === '/') return rootPath;
  if (path.startsWith('/?')) {
    const q = rootPath.indexOf('?');
    return (q === -1 ? rootPath : rootPath.slice(0, q)) + path.slice(1);
  }
  return path;
}

/** Headers a forwarded response never carries as received: the proxy writes its own Via. */
const REPLACED_IN_RESPONSE = new Set(['via']);
/** Headers a forwarded request never carries as received: the proxy writes its own. */
const REPLACED_IN_REQUEST = new Set(['host', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'via']);

/** Which known names (FIELD_NAMES, by place) are hop-by-hop; every hop-by-hop name is a known one. */
const HOP_BY_HOP_KNOWN = Uint8Array.from(FIELD_NAMES.values, (n) => (HOP_BY_HOP.has(n) ? 1 : 0));
for (const n of HOP_BY_HOP) if (!FIELD_NAMES.values.includes(n)) throw new Error(`hop-by-hop header ${n} is not a known field name`);
/** Per set of replaced names, which known names it holds: a field's drop is then read by its place, not hashed. */
const knownMembers = new WeakMap<ReadonlySet<string>, Uint8Array>();

function membersOf(replaced: ReadonlySet<string>): Uint8Array {
  let m = knownMembers.get(replaced);
  if (m === undefined) {
    m = Uint8Array.from(FIELD_NAMES.values, (n) => (replaced.has(n) ? 1 : 0));
    knownMembers.set(replaced, m);
  }
  return m;
}

function isDropped(f: HeaderField, connectionTokens: readonly string[], keepUpgrade: boolean, replaced: ReadonlySet<string>, members: Uint8Array): boolean {
  const known = f.known;
  if (known === -1) {
    if (replaced.has(f.name)) return true;
  } else {
    if (members[known] === 1) return true;
    if (HOP_BY_HOP_KNOWN[known] === 1) return !(keepUpgrade && f.name === 'upgrade');
  }
  return connectionTokens.length > 0 && connectionTokens.includes(f.name) && !PROTECTED.has(f.name);
}

/** Concatenates an optional latin1 prefix, raw slices, the added lines and the body bytes that follow the head into one exactly sized buffer (one allocation). */
function assemble(prefix: string | null, raw: Buffer, runs: number[], suffix: string | Buffer, body: Buffer | null): Buffer {
  let len = (prefix === null ? 0 : prefix.length) + suffix.length + (body === null ? 0 : body.length);
  for (let i = 0; i < runs.length; i += 2) len += runs[i + 1]! - runs[i]!;
  const out = Buffer.allocUnsafe(len);
  let pos = prefix === null ? 0 : writeLatin1(out, prefix, 0);
  for (let i = 0; i < runs.length; i += 2) {
    copyRange(out, raw, runs[i]!, runs[i + 1]!, pos);
    pos += runs[i + 1]! - runs[i]!;
  }
  if (typeof suffix === 'string') pos += writeLatin1(out, suffix, pos);
  else {
    copyInto(out, suffix, pos);
    pos += suffix.length;
  }
  if (body !== null) copyInto(out, body, pos);
  return out;
}

/** Appends [start, end) pairs of the raw header lines kept to `runs`, adjacent lines merged. */
function keptRuns(head: HeadBase, keepUpgrade: boolean, replaced: ReadonlySet<string>, runs: number[]): number[] {
  const fields = head.fields;
  const tokens = head.connectionTokens;
  const members = membersOf(replaced);
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i]!;
    if (isDropped(f, tokens, keepUpgrade, replaced, members)) continue;
    if (runs.length > 0 && runs[runs.length - 1] === f.lineStart) runs[runs.length - 1] = f.lineEnd;
    else runs.push(f.lineStart, f.lineEnd);
  }
  return runs;
}

/** Builds the head sent upstream (hop-by-hop out, Host, path and X-Forwarded-*, Via in), followed by `body` when given. */
export function buildUpstreamRequestHead(req: RequestHead, rw: RequestRewrite, clientIp: string, body: Buffer | null = null, mcpSessionId: string | null = null): Buffer {
  const t = req.template;
  // Built before from a head equal but for its wildcard values: the same bytes, those values new.
  if (t !== null && t.builtFor(rw, clientIp, mcpSessionId, null, 0)) return t.fill(req.raw, body);
  const upgrading = req.upgrade !== null && req.connectionTokens.includes('upgrade');
  const target = upstreamTarget(req.target, rw.rootPath);
  // A target that maps to itself keeps the request line as received.
  const sameLine = target === req.target;
  const replaced = mcpSessionId === null ? rw.replacedInRequest : new Set([...rw.replacedInRequest, 'mcp-session-id']);
  const runs = keptRuns(req, upgrading, replaced, sameLine ? [0, req.startLineEnd + 2] : []);
  const prefix = sameLine ? null : `${req.method} ${target} HTTP/1.${req.versionMinor}\r\n`;
  const lines = rw.requestLines(req, clientIp, upgrading);
  const out = assemble(prefix, req.raw, runs, mcpSessionId === null ? lines : withSessionLine(mcpSessionId, lines), body);
  if (t !== null) t.keep(out, out.length - (body === null ? 0 : body.length), prefix === null ? 0 : prefix.length, runs, rw, clientIp, mcpSessionId, null, 0);
  return out;
}

/** The added lines with an Mcp-Session-Id line of the proxy's in front (a recovered session's id, mapped). */
function withSessionLine(id: string, lines: string | Buffer): string {
  return `Mcp-Session-Id: ${id}\r\n${typeof lines === 'string' ? lines : lines.toString('latin1')}`;
}

const REPLACED_SESSION_IN_RESPONSE = new Set(['via', 'mcp-session-id']);

/** Builds the head sent to the client (our HTTP version, hop-by-hop out, Via and Connection in), followed by `body` when given. */
export function buildClientResponseHead(res: ResponseHead, rw: RequestRewrite, close: boolean, http10Client = false, body: Buffer | null = null, mcpSessionId: string | null = null, cors: string | null = null): Buffer {
  const t = res.template;
  const flags = (close ? 1 : 0) | (http10Client ? 2 : 0);
  if (t !== null && t.builtFor(rw, null, mcpSessionId, cors, flags)) return t.fill(res.raw, body);
  const raw = res.raw;
  const upgrading = res.statusCode === 101;
  // RFC 9110 §6.2: an intermediary sends its own HTTP version: keep the status line from its first space.
  const replaced = mcpSessionId === null ? REPLACED_IN_RESPONSE : REPLACED_SESSION_IN_RESPONSE;
  const runs = keptRuns(res, upgrading, cors === null ? replaced : withCors(replaced), [indexOfByte(raw, SP, 0), res.startLineEnd + 2]);
  let lines = rw.responseLines(res, upgrading, close, http10Client);
  // --cors lines for a browser's allowed Origin, in place of the upstream's own.
  if (cors !== null) lines = cors + (typeof lines === 'string' ? lines : lines.toString('latin1'));
  const out = assemble('HTTP/1.1', raw, runs, mcpSessionId === null ? lines : withSessionLine(mcpSessionId, lines), body);
  if (t !== null) t.keep(out, out.length - (body === null ? 0 : body.length), 8, runs, rw, null, mcpSessionId, cors, flags);
  return out;
}

/** Framing headers a re-framed response (a rewritten body) drops: the proxy writes its own. */
const REFRAMED_RESPONSE = new Set(['via', 'content-length', 'transfer-encoding']);

/** The client head of a response whose body the proxy rewrites: framing replaced by `framing` (a header line with CRLF, or '' for close-delimited). */
export function buildReframedResponseHead(res: ResponseHead, rw: RequestRewrite, close: boolean, http10Client: boolean, framing: string, mcpSessionId: string | null = null, cors: string | null = null): Buffer {
  const raw = res.raw;
  const replaced = mcpSessionId === null ? REFRAMED_RESPONSE : REFRAMED_SESSION_RESPONSE;
  const runs = keptRuns(res, false, cors === null ? replaced : withCors(replaced), [indexOfByte(raw, SP, 0), res.startLineEnd + 2]);
  const lines = rw.responseLines(res, false, close, http10Client);
  // --cors lines, as in buildClientResponseHead.
  const added = framing + (cors ?? '') + (typeof lines === 'string' ? lines : lines.toString('latin1'));
  return assemble('HTTP/1.1', raw, runs, mcpSessionId === null ? added : `Mcp-Session-Id: ${mcpSessionId}\r\n${added}`, null);
}

const REFRAMED_SESSION_RESPONSE = new Set([...REFRAMED_RESPONSE, 'mcp-session-id']);

/** The CORS headers --cors writes itself: an upstream's own would contradict them. */
const CORS_HEADERS = ['access-control-allow-origin', 'access-control-allow-credentials', 'access-control-expose-headers'];
const withCorsSets = new Map<ReadonlySet<string>, ReadonlySet<string>>();

/** `replaced` plus the CORS headers (built once per set). */
function withCors(replaced: ReadonlySet<string>): ReadonlySet<string> {
  let s = withCorsSets.get(replaced);
  if (s === undefined) {
    s = new Set([...replaced, ...CORS_HEADERS]);
    withCorsSets.set(replaced, s);
  }
  return s;
}
