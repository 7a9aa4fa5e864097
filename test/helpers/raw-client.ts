// A raw HTTP/1.1 client for tests: writes exact bytes (so malformed input is really
// malformed) and reads responses with a deliberately simple, independent parser.

import net from 'node:net';

/** One parsed response. */
export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  /** Header names in arrival order, lower-cased (repeats kept). */
  headerNames: string[];
  body: Buffer;
  raw: Buffer;
}

/** A socket with a buffer and helpers to read whole responses. */
export class RawClient {
  readonly socket: net.Socket;
  #buf = Buffer.alloc(0);
  #ended = false;
  #waiters: Array<() => void> = [];

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (c: Buffer) => {
      this.#buf = Buffer.concat([this.#buf, c]);
      this.#wake();
    });
    socket.on('end', () => {
      this.#ended = true;
      this.#wake();
    });
    socket.on('close', () => {
      this.#ended = true;
      this.#wake();
    });
    socket.on('error', () => {
      this.#ended = true;
      this.#wake();
    });
  }

  /** Connects to 127.0.0.1:port. */
  static connect(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ port, host: '127.0.0.1' }, () => resolve(new RawClient(s)));
      s.once('error', reject);
    });
  }

  get ended(): boolean {
    return this.#ended;
  }

  write(data: string | Buffer): void {
    this.socket.write(typeof data === 'string' ? Buffer.from(data, 'latin1') : data);
  }

  #wake(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
  }

  async #need(pred: () => boolean, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pred()) {
      if (this.#ended) throw new Error(`connection ended; buffered: ${JSON.stringify(this.#buf.toString('latin1').slice(0, 300))}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out; buffered: ${JSON.stringify(this.#buf.toString('latin1').slice(0, 300))}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Reads one whole response (Content-Length, chunked or until close). */
  async readResponse(opts: { timeoutMs?: number; head?: boolean } = {}): Promise<RawResponse> {
    const timeoutMs = opts.timeoutMs ?? 10_000;
    await this.#need(() => this.#buf.indexOf('\r\n\r\n') !== -1, timeoutMs);
    const headEnd = this.#buf.indexOf('\r\n\r\n') + 4;
    const headText = this.#buf.subarray(0, headEnd).toString('latin1');
    const lines = headText.split('\r\n').filter((l) => l !== '');
    const status = Number(lines[0]!.split(' ')[1]);
    const headers: Record<string, string> = {};
    const headerNames: string[] = [];
    for (const line of lines.slice(1)) {
      const i = line.indexOf(':');
      const name = line.slice(0, i).toLowerCase();
      headerNames.push(name);
      const value = line.slice(i + 1).trim();
      headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
    }
    let bodyEnd: number;
    let body: Buffer;
    if (opts.head || status === 204 || status === 304 || (status >= 100 && status < 200)) {
      bodyEnd = headEnd;
      body = Buffer.alloc(0);
    } else if (headers['transfer-encoding']?.toLowerCase().includes('chunked')) {
      const parts: Buffer[] = [];
      let pos = headEnd;
      for (;;) {
        await this.#need(() => this.#buf.indexOf('\r\n', pos) !== -1, timeoutMs);
        const lineEnd = this.#buf.indexOf('\r\n', pos);
        const size = parseInt(this.#buf.subarray(pos, lineEnd).toString('latin1'), 16);
        if (size === 0) {
          await this.#need(() => this.#buf.indexOf('\r\n\r\n', lineEnd - 2) !== -1, timeoutMs);
          bodyEnd = this.#buf.indexOf('\r\n\r\n', lineEnd - 2) + 4;
          break;
        }
        const start = lineEnd + 2;
        await this.#need(() => this.#buf.length >= start + size + 2, timeoutMs);
        parts.push(this.#buf.subarray(start, start + size));
        pos = start + size + 2;
      }
      body = Buffer.concat(parts);
    } else if (headers['content-length'] !== undefined) {
      const n = Number(headers['content-length']);
      await this.#need(() => this.#buf.length >= headEnd + n, timeoutMs);
      bodyEnd = headEnd + n;
      body = Buffer.from(this.#buf.subarray(headEnd, bodyEnd));
    } else {
      await this.#need(() => this.#ended, timeoutMs).catch(() => undefined);
      bodyEnd = this.#buf.length;
      body = Buffer.from(this.#buf.subarray(headEnd));
    }
    const raw = Buffer.from(this.#buf.subarray(0, bodyEnd));
    this.#buf = this.#buf.subarray(bodyEnd);
    return { status, headers, headerNames, body, raw };
  }

  /** Resolves once the server closed the connection. */
  async waitClosed(timeoutMs = 10_000): Promise<void> {
    await this.#need(() => this.#ended, timeoutMs).catch(() => {
      throw new Error('connection still open');
    });
  }

  /** Bytes received and not yet consumed. */
  get buffered(): Buffer {
    return this.#buf;
  }

  close(): void {
    this.socket.destroy();
  }
}

/** Sends raw bytes on a new connection and reads one response. */
export async function rawExchange(port: number, data: string | Buffer, timeoutMs = 10_000): Promise<RawResponse & { closed: boolean }> {
  const c = await RawClient.connect(port);
  try {
    c.write(data);
    const res = await c.readResponse({ timeoutMs });
    let closed = true;
    try {
      await c.waitClosed(3000);
    } catch {
      closed = false;
    }
    return { ...res, closed };
  } finally {
    c.close();
  }
}
