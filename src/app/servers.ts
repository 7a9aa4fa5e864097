// Starting and stopping the listening servers of an app (the proxy's, the admin API's).

import type http from 'node:http';
import type net from 'node:net';
import type { AddressInfo } from 'node:net';

/** Listens on host:port; resolves with the port bound (port 0 picks one). `exclusive`: this process's own port, even in a cluster worker (where a listen is otherwise shared through the primary). */
export function listenOn(server: net.Server | http.Server, port: number, host: string, exclusive = false): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    server.listen({ port, host, exclusive }, () => {
      server.removeListener('error', onError);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/** Stops accepting; resolves once the server is closed (at once when it never listened). */
export function closeServer(server: net.Server | http.Server | null): Promise<void> {
  return new Promise((resolve) => {
    if (server === null || !server.listening) return resolve();
    server.close(() => resolve());
  });
}
