// What a request's head alone decides, after Host and Origin passed and before anything
// of it goes upstream: a browser's CORS preflight and the RFC 9728 document are the
// proxy's to answer, and with --auth-keys, --auth-jwt or a hook the caller must prove who
// it is. It knows no sockets: the engine acts on what it returns.

import { ProxyError } from '../errors.js';
import type { RequestHead } from '../http/head.js';
import type { Session } from '../session/session.js';
import type { ExchangeContext } from './exchange-context.js';
import { metadataAnswer, preflightAnswer } from './own-answers.js';

/** An answer of the proxy's own, after which the connection closes. */
export class OwnAnswer {
  constructor(readonly status: number, readonly bytes: Buffer) {}
}

/**
 * Checks a request head: null lets it in; a ProxyError refuses it; an OwnAnswer answers
 * it; a Promise is a token seen for the first time being verified, which settles to null
 * or the refusal. `cors`: the --cors lines for the request's allowed origin, or null.
 */
export function admitCaller(ctx: ExchangeContext, req: RequestHead, session: Session, cors: string | null): null | ProxyError | OwnAnswer | Promise<ProxyError | null> {
  // A CORS preflight is the proxy's to answer: the upstream never sees it.
  if (cors !== null && req.method === 'OPTIONS') return new OwnAnswer(204, preflightAnswer(cors));
  const auth = ctx.auth;
  if (auth === null) return null;
  if (req.method === 'GET' && auth.isMetadataPath(req.target)) return new OwnAnswer(200, metadataAnswer(auth.metadata(req.host), cors));
  const who = auth.authenticate(req.authorization, req.apiKey, req.host, session.clientIp);
  if (who instanceof Promise) return who.then((w) => (w instanceof ProxyError ? w : ctx.identify(session, w)));
  return who instanceof ProxyError ? who : ctx.identify(session, who);
}
