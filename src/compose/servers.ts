import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { answerError, errorBody, httpStatus } from '../errors.js';

export interface Listening {
  server: Server;
  url: string;
  close(): Promise<void>;
}

/** Listens on host:port with the given header limit; rejects when the port cannot be taken. */
export async function listen(app: RequestListener, options: { host: string; port: number; headerBytes: number }): Promise<Listening> {
  // Once the stop begins, a request arriving on a connection still open (keep-alive, pipelined) is
  // answered 503 and its connection closed: nothing is decided or forwarded after the stop began.
  let stopping = false;
  const server = createServer({ maxHeaderSize: options.headerBytes }, (req, res) => (stopping ? refuseStopping(res) : app(req, res)));
  answerInOrder(server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    server,
    url: `http://${shownHost}:${address.port}`,
    close: () =>
      new Promise((resolve) => {
        stopping = true;
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}

function refuseStopping(res: ServerResponse): void {
  const body = JSON.stringify(errorBody(answerError('SIDECAR_STOPPING', 'the sidecar is stopping; send the request again to another replica or after it restarts')));
  res.writeHead(httpStatus.SIDECAR_STOPPING, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), connection: 'close' });
  res.end(body);
}

/**
 * Bytes that do not parse, pipelined after a request still being answered: node:http would write its
 * 400 at once and close, and the client would never see the earlier reply (a change applied, the
 * client told 400). When every request in flight on the connection has all its body, their replies
 * are written first, then the error, and the connection closes. A request still reading its body
 * cannot get it any more: then, as node:http does, the connection closes at once.
 */
function answerInOrder(server: Server): void {
  const inFlight = new WeakMap<Socket, { requests: Set<IncomingMessage>; onIdle?: () => void }>();
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const state = inFlight.get(req.socket) ?? { requests: new Set<IncomingMessage>() };
    inFlight.set(req.socket, state);
    state.requests.add(req);
    res.once('close', () => {
      state.requests.delete(req);
      if (state.requests.size === 0) state.onIdle?.();
    });
  });
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    const refuse = () => {
      if (!socket.writable) return void socket.destroy();
      socket.once('finish', () => socket.destroy());
      socket.end(`HTTP/1.1 ${clientErrorStatus(err)}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    };
    const state = inFlight.get(socket as Socket);
    const waiting = state ? [...state.requests] : [];
    if (waiting.length === 0) return refuse();
    if (!waiting.every((req) => req.complete)) return void socket.destroy();
    state!.onIdle = refuse;
    // Bounded: a reply that never comes must not hold the connection (or a closing server) open.
    setTimeout(() => socket.destroy(), REPLY_WAIT_MS).unref();
  });
}

/** How long a pipelined client error waits for the replies in flight before the connection closes. */
const REPLY_WAIT_MS = 30_000;

/** The status node:http itself answers a client error with. */
function clientErrorStatus(err: NodeJS.ErrnoException): string {
  if (err.code === 'HPE_HEADER_OVERFLOW') return '431 Request Header Fields Too Large';
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') return '408 Request Timeout';
  return '400 Bad Request';
}
