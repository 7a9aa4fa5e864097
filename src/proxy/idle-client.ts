// A keep-alive connection idle long enough to shed its exchange: it holds its session and
// client socket and nothing else (no engine, observer, inspector, link or deadline), and
// the next bytes get a fresh exchange from the app. Thousands of idle agent sessions cost
// their sockets; an active session keeps its exchange from request to request.

import type net from 'node:net';
import type { CloseReason, Session, SessionOwner } from '../session/session.js';
import { handClient, stopClientData, type ClientHandler } from './client-events.js';
import type { ExchangeContext } from './exchange-context.js';

/** The client handler and session owner of an idle connection that shed its exchange. */
export class IdleClient implements SessionOwner, ClientHandler {
  readonly #ctx: ExchangeContext;
  readonly #session: Session;
  readonly #client: net.Socket;

  /** Takes over `client`'s events (its listeners stay) and `session`'s close. */
  constructor(ctx: ExchangeContext, session: Session, client: net.Socket) {
    this.#ctx = ctx;
    this.#session = session;
    this.#client = client;
    handClient(client, this);
    session.own(this);
  }

  /** ClientHandler: the next request begins; a fresh exchange takes the connection and reads it. */
  clientData(chunk: Buffer): void {
    if (this.#session.state === 'closed') return;
    this.#ctx.wake(this.#session, this.#client).clientData(chunk);
  }

  /** ClientHandler: the client closed its side between requests. */
  clientEnd(): void {
    this.#session.close('client-closed');
  }

  /** ClientHandler: the client socket failed. */
  clientError(err: Error): void {
    this.#session.close('error', err);
  }

  /** ClientHandler: the client socket closed. */
  clientClose(): void {
    this.#session.close('client-closed');
  }

  /** ClientHandler: nothing is being written. */
  clientDrain(): void {}

  /** Nothing is in flight: close now. */
  drain(): void {
    this.#session.close('shutdown');
  }

  /** Destroys the client socket; called once by Session.close(). */
  teardown(_reason: CloseReason): void {
    stopClientData(this.#client);
    this.#client.destroy();
  }
}
