// A TLS server for tests: terminates TLS with one of the fixture certificates and pipes
// the plain bytes to a local port (server-everything, a test upstream). The certificate
// can be swapped while it runs; it counts handshakes and resumed sessions.

import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';

const FIXTURES = new URL('../../test/fixtures/tls/', import.meta.url).pathname;

/** One of test/fixtures/tls: server, wrong-host, expired, self-signed. */
export type FixtureCert = 'server' | 'wrong-host' | 'expired' | 'self-signed';

/** The fixture CA's PEM text (what --upstream-ca reads). */
export const TEST_CA_FILE = `${FIXTURES}ca.pem`;
export const TEST_CA = readFileSync(TEST_CA_FILE, 'utf8');

/** Key and certificate of a fixture. */
export function fixture(name: FixtureCert): { key: string; cert: string } {
  return { key: readFileSync(`${FIXTURES}${name}.key`, 'utf8'), cert: readFileSync(`${FIXTURES}${name}.pem`, 'utf8') };
}

/** A running TLS terminator. */
export interface TlsTerminator {
  readonly port: number;
  /** Handshakes completed, and how many of them resumed a session. */
  readonly handshakes: () => number;
  readonly resumed: () => number;
  /** Sockets open on either side (client connections and their pipes to the target). */
  readonly open: () => number;
  /** Serves `name`'s certificate from the next handshake on. */
  use(name: FixtureCert): void;
  close(): Promise<void>;
}

/** Listens on 127.0.0.1:0 with `cert`, piping each connection to 127.0.0.1:`targetPort`. */
export async function startTlsTerminator(cert: FixtureCert, targetPort: number): Promise<TlsTerminator> {
  let handshakes = 0;
  let resumed = 0;
  const sockets = new Set<net.Socket>();
  const server = tls.createServer(fixture(cert), (clear) => {
    handshakes++;
    if (clear.isSessionReused()) resumed++;
    const plain = net.connect(targetPort, '127.0.0.1');
    sockets.add(plain);
    plain.on('close', () => sockets.delete(plain));
    clear.pipe(plain).pipe(clear);
    clear.on('error', () => plain.destroy());
    plain.on('error', () => clear.destroy());
  });
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    handshakes: () => handshakes,
    resumed: () => resumed,
    open: () => sockets.size,
    use: (name) => server.setSecureContext(fixture(name)),
    close: () => new Promise<void>((r) => {
      for (const s of sockets) s.destroy();
      server.close(() => r());
    }),
  };
}
