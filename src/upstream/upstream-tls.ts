// TLS to an upstream (an https:// --url, forward tcp --upstream-tls): one secure context
// made at start (Node's CA store plus --upstream-ca), the SNI and host name the
// certificate is checked against, and the last session ticket, so a repeat connect to the
// same upstream resumes instead of a full handshake.

import net from 'node:net';
import tls from 'node:tls';

/** What a TLS upstream connection is made with; one per app. */
export class UpstreamTls {
  readonly #host: string;
  readonly #context: tls.SecureContext;
  readonly #verify: boolean;
  #session: Buffer | undefined = undefined;
  readonly #remember = (session: Buffer): void => {
    this.#session = session;
  };

  /** `ca`: extra PEM certificates; `verify` false skips certificate checks. */
  constructor(host: string, ca: string | null, verify: boolean) {
    this.#host = host;
    // Extra CAs are added to Node's store, not put in its place.
    this.#context = tls.createSecureContext(ca === null ? {} : { ca: [...tls.rootCertificates, ca] });
    this.#verify = verify;
  }

  /** Starts a TLS connection to host:port; the caller waits for 'secureConnect'. */
  connect(port: number): tls.TLSSocket {
    const socket = tls.connect({
      host: this.#host,
      port,
      // RFC 6066 §3: no SNI for an IP address; the certificate is still checked against it.
      servername: net.isIP(this.#host) === 0 ? this.#host : undefined,
      secureContext: this.#context,
      rejectUnauthorized: this.#verify,
      session: this.#session,
      ALPNProtocols: ['http/1.1'],
      allowHalfOpen: true,
    } as tls.ConnectionOptions);
    socket.on('session', this.#remember);
    return socket;
  }
}
