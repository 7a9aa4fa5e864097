// Reading and rewriting HTTP/1.1 heads from their raw bytes. llhttp has already
// validated the bytes; this file only finds the fields the proxy acts on and rebuilds a
// head from slices of the original, so header values are never decoded and re-encoded.

import { BadRequestError } from '../errors.js';

const CR = 0x0d;
const COLON = 0x3a;
const SP = 0x20;
const HTAB = 0x09;
const CRLF = Buffer.from('\r\n', 'latin1');
const CRLFCRLF = Buffer.from('\r\n\r\n', 'latin1');

/** Hop-by-hop headers removed in both directions (SPEC "forward http"). */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'upgrade', 'proxy-authorization']);
/** Headers a Connection token may never remove: they frame the message or route it. */
const PROTECTED = new Set(['content-length', 'transfer-encoding', 'host']);

/** One header line of a raw head. */
export interface HeaderField {
  /** Lower-case field name. */
  readonly name: string;
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
  readonly expectContinue: boolean;
  /** Existing X-Forwarded-For and Via values, to append to. */
  readonly forwardedFor: string | null;
  readonly via: string | null;
  /** The client asked to close after this exchange (HTTP/1.0 default or Connection: close). */
  readonly wantsClose: boolean;
}

/** A response head as the proxy sees it. */
export interface ResponseHead extends HeadBase {
  readonly statusCode: number;
  readonly via: string | null;
}

/** Finds the end of a head (index past CRLFCRLF) in `buf`, searching from `from`; -1 if absent. */
export function findHeadEnd(buf: Buffer, from: number): number {
  const i = buf.indexOf(CRLFCRLF, from);
  return i === -1 ? -1 : i + 4;
}

/** Number of empty lines (CRLF pairs) before a request line, which RFC 9112 §2.2 lets us skip. */
export function leadingEmptyLines(buf: Buffer): number {
  let i = 0;
  while (i + 1 < buf.length && buf[i] === CR && buf[i + 1] === 0x0a) i += 2;
  return i;
}

function scanFields(raw: Buffer, startLineEnd: number): HeaderField[] {
  const fields: HeaderField[] = [];
  let lineStart = startLineEnd + 2;
  const end = raw.length - 2; // the final empty line
  while (lineStart < end) {
    const cr = raw.indexOf(CR, lineStart);
    const colon = raw.indexOf(COLON, lineStart);
    if (cr === -1 || colon === -1 || colon > cr) throw new BadRequestError('header line without a colon');
    let vs = colon + 1;
    while (vs < cr && (raw[vs] === SP || raw[vs] === HTAB)) vs++;
    let ve = cr;
    while (ve > vs && (raw[ve - 1] === SP || raw[ve - 1] === HTAB)) ve--;
    fields.push({ name: raw.toString('latin1', lineStart, colon).toLowerCase(), lineStart, lineEnd: cr + 2, valueStart: vs, valueEnd: ve });
    lineStart = cr + 2;
  }
  return fields;
}

function value(raw: Buffer, f: HeaderField): string {
  return raw.toString('latin1', f.valueStart, f.valueEnd);
}

function tokens(list: string): string[] {
  const out: string[] = [];
  for (const t of list.split(',')) {
    const s = t.trim().toLowerCase();
    if (s !== '') out.push(s);
  }
  return out;
}

function base(raw: Buffer, startLineEnd: number): HeadBase & { host: string | null; hostCount: number; expect: string | null; forwardedFor: string | null; via: string | null } {
  const fields = scanFields(raw, startLineEnd);
  const connectionTokens: string[] = [];
  let contentType: string | null = null;
  let mcpSessionId: string | null = null;
  let upgrade: string | null = null;
  let chunked = false;
  let contentLength = -1;
  let host: string | null = null;
  let hostCount = 0;
  let expect: string | null = null;
  let forwardedFor: string | null = null;
  let via: string | null = null;
  for (const f of fields) {
    switch (f.name) {
      case 'connection': connectionTokens.push(...tokens(value(raw, f))); break;
      case 'content-type': contentType = value(raw, f); break;
      case 'mcp-session-id': mcpSessionId = value(raw, f); break;
      case 'upgrade': upgrade = value(raw, f); break;
      case 'transfer-encoding': {
        const t = tokens(value(raw, f));
        chunked = t[t.length - 1] === 'chunked';
        break;
      }
      case 'content-length': contentLength = Number(value(raw, f)); break;
      case 'host': host = value(raw, f); hostCount++; break;
      case 'expect': expect = value(raw, f).toLowerCase(); break;
      case 'x-forwarded-for': forwardedFor = forwardedFor === null ? value(raw, f) : `${forwardedFor}, ${value(raw, f)}`; break;
      case 'via': via = via === null ? value(raw, f) : `${via}, ${value(raw, f)}`; break;
    }
  }
  return { raw, fields, startLineEnd, connectionTokens, contentType, mcpSessionId, upgrade, chunked, contentLength, host, hostCount, expect, forwardedFor, via };
}

/** Reads a validated request head (`raw` ends with CRLFCRLF); throws BadRequestError on what llhttp lets through. */
export function readRequestHead(raw: Buffer): RequestHead {
  const startLineEnd = raw.indexOf(CR);
  const sp1 = raw.indexOf(SP);
  const sp2 = raw.indexOf(SP, sp1 + 1);
  if (sp1 <= 0 || sp2 <= sp1 || sp2 > startLineEnd) throw new BadRequestError('malformed request line');
  const b = base(raw, startLineEnd);
  const versionMinor = raw[startLineEnd - 1]! - 0x30;
  // RFC 9112 §3.2: exactly one Host in HTTP/1.1; several Hosts are a routing ambiguity.
  if (b.hostCount > 1) throw new BadRequestError('more than one Host header');
  if (b.hostCount === 0 && versionMinor >= 1) throw new BadRequestError('missing Host header');
  // RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 request cannot be trusted to frame it.
  if (versionMinor === 0 && b.fields.some((f) => f.name === 'transfer-encoding')) {
    throw new BadRequestError('Transfer-Encoding in an HTTP/1.0 request');
  }
  const wantsClose = b.connectionTokens.includes('close') || (versionMinor === 0 && !b.connectionTokens.includes('keep-alive'));
  return {
    ...b,
    method: raw.toString('latin1', 0, sp1),
    target: raw.toString('latin1', sp1 + 1, sp2),
    versionMinor,
    expectContinue: b.expect === '100-continue',
    wantsClose,
  };
}

/** Reads a validated response head. */
export function readResponseHead(raw: Buffer): ResponseHead {
  const startLineEnd = raw.indexOf(CR);
  const sp1 = raw.indexOf(SP);
  const b = base(raw, startLineEnd);
  return { ...b, statusCode: Number(raw.toString('latin1', sp1 + 1, sp1 + 4)) };
}

/** Where and how a request is forwarded: derived once per app from --url. */
export interface RequestRewrite {
  /** Value of the upstream Host header. */
  readonly upstreamHost: string;
  /** --url's path and query, used for a request to `/`. */
  readonly rootPath: string;
  /** The Via entry this proxy adds. */
  readonly viaEntry: string;
}

/** Maps a client's request target to the upstream's (SPEC: `/` goes to --url's path). */
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

function isDropped(name: string, connectionTokens: readonly string[], keepUpgrade: boolean): boolean {
  if (HOP_BY_HOP.has(name)) return !(keepUpgrade && name === 'upgrade');
  return connectionTokens.length > 0 && connectionTokens.includes(name) && !PROTECTED.has(name);
}

/** Builds the head sent upstream: hop-by-hop out, Host, path and X-Forwarded-*, Via in. */
export function buildUpstreamRequestHead(req: RequestHead, rw: RequestRewrite, clientIp: string): Buffer {
  const raw = req.raw;
  const upgrading = req.upgrade !== null && req.connectionTokens.includes('upgrade');
  const parts: Buffer[] = [
    Buffer.from(`${req.method} ${upstreamTarget(req.target, rw.rootPath)} HTTP/1.${req.versionMinor}\r\n`, 'latin1'),
  ];
  let runStart = -1;
  let runEnd = -1;
  for (const f of req.fields) {
    const drop = f.name === 'host' || f.name === 'x-forwarded-for' || f.name === 'x-forwarded-proto' ||
      f.name === 'x-forwarded-host' || f.name === 'via' || isDropped(f.name, req.connectionTokens, upgrading);
    if (drop) {
      if (runStart !== -1) parts.push(raw.subarray(runStart, runEnd));
      runStart = -1;
    } else if (runStart === -1) {
      runStart = f.lineStart;
      runEnd = f.lineEnd;
    } else {
      runEnd = f.lineEnd;
    }
  }
  if (runStart !== -1) parts.push(raw.subarray(runStart, runEnd));
  const xff = req.forwardedFor === null ? clientIp : `${req.forwardedFor}, ${clientIp}`;
  const via = req.via === null ? rw.viaEntry : `${req.via}, ${rw.viaEntry}`;
  let extra = `Host: ${rw.upstreamHost}\r\nX-Forwarded-For: ${xff}\r\nX-Forwarded-Proto: http\r\n`;
  if (req.host !== null) extra += `X-Forwarded-Host: ${req.host}\r\n`;
  extra += `Via: ${via}\r\n`;
  if (upgrading) extra += 'Connection: upgrade\r\n';
  parts.push(Buffer.from(extra, 'latin1'), CRLF);
  return Buffer.concat(parts);
}

/** Builds the head sent to the client: our HTTP version, hop-by-hop out, Via and Connection in. */
export function buildClientResponseHead(res: ResponseHead, viaEntry: string, close: boolean): Buffer {
  const raw = res.raw;
  const upgrading = res.statusCode === 101;
  const sp1 = raw.indexOf(SP);
  // RFC 9110 §6.2: an intermediary sends its own HTTP version.
  const parts: Buffer[] = [Buffer.from('HTTP/1.1', 'latin1'), raw.subarray(sp1, res.startLineEnd + 2)];
  let runStart = -1;
  let runEnd = -1;
  for (const f of res.fields) {
    const drop = f.name === 'via' || isDropped(f.name, res.connectionTokens, upgrading);
    if (drop) {
      if (runStart !== -1) parts.push(raw.subarray(runStart, runEnd));
      runStart = -1;
    } else if (runStart === -1) {
      runStart = f.lineStart;
      runEnd = f.lineEnd;
    } else {
      runEnd = f.lineEnd;
    }
  }
  if (runStart !== -1) parts.push(raw.subarray(runStart, runEnd));
  let extra = `Via: ${res.via === null ? viaEntry : `${res.via}, ${viaEntry}`}\r\n`;
  if (upgrading) extra += 'Connection: upgrade\r\n';
  else if (close) extra += 'Connection: close\r\n';
  parts.push(Buffer.from(extra, 'latin1'), CRLF);
  return Buffer.concat(parts);
}
