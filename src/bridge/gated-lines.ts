// Line transports with a gate between them (forward stdio): each client line is judged
// before it goes upstream (forwarded, delayed, answered to the client, or refused), and
// the server's lines are written whole, so an answer never lands inside one, and the
// response to a list request a `hide` rule rewrote is rewritten. The upstream is a
// function: a child's stdin, or a remote server's HTTP client.

import type { Logger } from 'pino';
import { PolicyTooLargeError, PolicyUnreadableError } from '../errors.js';
import { errorBody } from '../http/error-response.js';
import { Envelope, ENVELOPE_OK, readEnvelope } from '../mcp/envelope.js';
import type { MessageGate } from '../mcp/gate.js';
import type { McpMessageSink, MessageOrigin } from '../mcp/inspector.js';
import type { RewriteVerdict } from '../mcp/message.js';
import { LineSplitter } from '../mcp/ndjson.js';
import { rewriteMessage } from '../mcp/result-rewrite.js';

/** The framed sides of a gated line transport. */
export interface GatedLines {
  readonly fromClient: { push(chunk: Buffer): void; end(): void };
  readonly fromServer: { push(chunk: Buffer): void; end(): void };
  /** Writes delayed client lines now (stdin ended: the child's stdin is about to close). */
  flushDelayed(): void;
  close(): void;
}

/** Client lines judged (without a gate: all forwarded) before `toUpstream` takes them; the server's lines written whole with `write` (and rewritten where a hide rule asked). */
export function gatedLines(gate: MessageGate | null, sink: McpMessageSink, log: Logger, toUpstream: (line: Buffer) => void,
  write: (b: Buffer) => boolean, origin: MessageOrigin): GatedLines {
  const limit = sink.limitBytes;
  const NL = Buffer.from('\n');
  // Responses to rewrite, by request id (JSON text); bounded by what clients ask.
  const rewrites = new Map<string, RewriteVerdict>();
  const delayed = new Map<NodeJS.Timeout, Buffer>();
  const env = new Envelope();
  // Answers wait while an oversize child line is being passed on in parts.
  let serverMidLine = false;
  let held: Buffer[] = [];
  const toClient = (line: Buffer): void => {
    const out = Buffer.concat([line, NL]);
    if (serverMidLine) held.push(out);
    else write(out);
  };
  const toChild = toUpstream;
  const refuse = (err: PolicyUnreadableError | PolicyTooLargeError): void => {
    log.warn({ err: err.message }, 'policy: client line refused');
    toClient(Buffer.from(errorBody(err), 'utf8'));
  };
  const fromClient = new LineSplitter(limit, (line) => {
    if (gate === null) {
      sink.body(line, 'client', origin);
      return toChild(line);
    }
    // Judged first, as the HTTP corridor does: the sink then takes the gate's read of the line
    // rather than reading it again (McpMessageSink.offer).
    const j = gate.judge(line, { proxySession: 'stdio', mcpSession: null, clientIp: '', subject: null, claims: null, log: origin.log });
    sink.body(line, 'client', origin);
    switch (j.type) {
      case 'forward': return toChild(line);
      case 'rewrite':
        rewrites.set(j.idJson, j.verdict);
        return toChild(line);
      case 'delay': {
        const timer = setTimeout(() => {
          delayed.delete(timer);
          toChild(line);
        }, j.ms);
        delayed.set(timer, line);
        return;
      }
      case 'answer':
        if (j.body !== null) {
          toClient(j.body);
          sink.body(j.body, 'server', origin);
        }
        return;
      case 'refuse': return refuse(new PolicyUnreadableError(j.why));
    }
  }, {
    start: () => {
      refuse(new PolicyTooLargeError(limit));
      return false;
    },
    part: () => {},
    end: () => {},
  });
  const failPending = (why: string): void => {
    for (const id of rewrites.keys()) {
      const body = `{"jsonrpc":"2.0","id":${id},"error":{"code":-32001,"message":"policy: the response could not be filtered: ${why}","data":{"reason":"policy-unreadable"}}}`;
      toClient(Buffer.from(body, 'utf8'));
    }
    rewrites.clear();
  };
  const fromServer = new LineSplitter(limit, (line) => {
    let out = line;
    if (rewrites.size > 0 && readEnvelope(line, 0, line.length, env) === ENVELOPE_OK && env.id !== null && (env.kind === 'result' || env.kind === 'error')) {
      const verdict = rewrites.get(env.id);
      if (verdict !== undefined) {
        rewrites.delete(env.id);
        const rewritten = rewriteMessage(line, env.id, verdict);
        if (rewritten === null) {
          rewrites.set(env.id, verdict);
          return failPending('not valid JSON');
        }
        out = rewritten;
      }
    }
    sink.body(out, 'server', origin);
    toClient(out);
  }, {
    start: (head) => {
      sink.skipped('too_large');
      // Fail closed: a line too long to read may be the response a rule must filter.
      if (rewrites.size > 0) {
        failPending('longer than --inspect-limit');
        return false;
      }
      serverMidLine = true;
      write(head);
      return true;
    },
    part: (bytes) => {
      write(bytes);
    },
    end: (passed) => {
      if (!passed) return;
      write(NL);
      serverMidLine = false;
      const waiting = held;
      held = [];
      for (const b of waiting) write(b);
    },
  });
  return {
    fromClient,
    fromServer,
    flushDelayed: () => {
      for (const [timer, line] of delayed) {
        clearTimeout(timer);
        toChild(line);
      }
      delayed.clear();
    },
    close: () => {
      for (const timer of delayed.keys()) clearTimeout(timer);
      delayed.clear();
    },
  };
}
