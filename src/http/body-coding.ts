// What a request head says about how its body is to be decoded, read the way a common
// upstream reads it. While a policy is loaded the proxy judges a body as UTF-8 JSON; a
// head that tells the upstream to decode it otherwise (express's body-parser decodes any
// `utf-*` charset with iconv, and inflates gzip, deflate and br) would let the upstream run
// a call the policy never saw, so such a head is refused before any rule is asked
// (README, "Policies": the proxy and the upstream read the same message).

import { parse as parseContentType } from 'content-type';
import type { RequestHead } from './head.js';

// The Content-Type values nearly every client sends: no parse needed.
const PLAIN_TYPES = new Set(['application/json', 'application/json; charset=utf-8', 'application/json;charset=utf-8']);

/** Why the body of this request may be decoded by the upstream other than as UTF-8 bytes, or null. */
export function bodyCodingProblem(req: RequestHead): string | null {
  let types = 0;
  const raw = req.raw;
  for (const f of req.fields) {
    if (f.name === 'content-type') {
      types++;
    } else if (f.name === 'content-encoding') {
      // body-parser: (header || 'identity').toLowerCase(); anything else is inflated or refused.
      const coding = raw.toString('latin1', f.valueStart, f.valueEnd).toLowerCase();
      if (coding !== 'identity' && coding !== '') return `a Content-Encoding (${coding.slice(0, 40)}) is refused while a policy is loaded`;
    }
  }
  // Stacks keep the first (node:http) or the last of several: they would not agree.
  if (types > 1) return 'more than one Content-Type header';
  const type = req.contentType;
  if (type === null || PLAIN_TYPES.has(type) || PLAIN_TYPES.has(type.toLowerCase())) return null;
  return charsetProblem(type);
}

/** Why this Content-Type value's charset is not plainly UTF-8 to every reader, or null. */
export function charsetProblem(value: string): string | null {
  // The same parser body-parser 2 reads the header with (it keeps the first of a repeated
  // parameter; content-type 1.x, which the SDK uses, keeps the last).
  const charset = parseContentType(value).parameters.charset;
  const mentions = countCharset(value);
  // A second `charset`, or one the parser did not take as a parameter (inside a quoted
  // value, after a malformed one): another reader may take it.
  if (mentions > 1) return 'the Content-Type names a charset more than once';
  if (mentions === 1 && charset === undefined) return 'the Content-Type mentions a charset that is not read as its parameter';
  if (charset === undefined) return null;
  const name = charset.toLowerCase();
  if (name === 'utf-8' || name === 'utf8') return null;
  return `a Content-Type charset other than UTF-8 (${charset.slice(0, 40)}) is refused while a policy is loaded`;
}

function countCharset(value: string): number {
  const lower = value.toLowerCase();
  let n = 0;
  for (let i = lower.indexOf('charset'); i !== -1; i = lower.indexOf('charset', i + 7)) n++;
  return n;
}
