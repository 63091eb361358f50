/**
 * HTTP/1.1 on a bare TCP socket, for requests `fetch` would normalize or refuse: a `#` in the target,
 * dot segments, odd casing, repeated headers, any bytes at all. One request per connection
 * (`Connection: close`), so the reply ends when the socket does.
 */
import { connect } from 'node:net';

export interface RawHttpRequest {
  method: string;
  /** The request target exactly as sent: `/path?query#anything`. */
  target: string;
  /** In order; names may repeat. `Host`, `Content-Length` and `Connection` are added unless present. */
  headers: ReadonlyArray<readonly [string, string]>;
  body?: Buffer;
}

export interface RawHttpReply {
  status: number;
  /** Names lower-cased; repeated headers joined with ", ". */
  headers: Record<string, string>;
  body: Buffer;
}

/** Serializes a request as it goes on the wire. */
export function serializeRequest(req: RawHttpRequest, host: string): Buffer {
  const body = req.body ?? Buffer.alloc(0);
  const names = new Set(req.headers.map(([n]) => n.toLowerCase()));
  const lines = [`${req.method} ${req.target} HTTP/1.1`];
  if (!names.has('host')) lines.push(`Host: ${host}`);
  for (const [name, value] of req.headers) lines.push(`${name}: ${value}`);
  if (!names.has('content-length') && !names.has('transfer-encoding') && (body.length > 0 || req.method !== 'GET')) {
    lines.push(`Content-Length: ${body.length}`);
  }
  if (!names.has('connection')) lines.push('Connection: close');
  return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), body]);
}

/** Sends `bytes` to 127.0.0.1:`port` and resolves with everything the server sent before closing. */
export function exchangeBytes(port: number, bytes: Buffer, timeoutMs = 30_000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`no reply within ${timeoutMs} ms`)));
    // Not end(): a server may drop a half-closed connection before it replies.
    socket.on('connect', () => socket.write(bytes));
    socket.on('data', (c: Buffer) => chunks.push(c));
    // A server may reset a connection it refused after replying: what arrived still counts.
    socket.on('error', (err) => (chunks.length > 0 ? resolve(Buffer.concat(chunks)) : reject(err)));
    socket.on('close', () => resolve(Buffer.concat(chunks)));
  });
}

/**
 * Parses the final HTTP/1.1 response (Content-Length, chunked, or until close), skipping interim 1xx
 * ones. Throws on a malformed head.
 */
export function parseResponse(bytes: Buffer): RawHttpReply {
  const end = bytes.indexOf('\r\n\r\n');
  if (end === -1) throw new Error(`no complete response head in ${bytes.length} bytes`);
  const [statusLine = '', ...headerLines] = bytes.subarray(0, end).toString('latin1').split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine);
  if (!m) throw new Error(`bad status line: ${statusLine}`);
  const headers: Record<string, string> = {};
  for (const line of headerLines) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  let body = bytes.subarray(end + 4);
  if (m[1]!.startsWith('1') && body.length > 0) return parseResponse(body);
  if (headers['transfer-encoding']?.toLowerCase() === 'chunked') body = dechunk(body);
  else if (headers['content-length'] !== undefined) body = body.subarray(0, Number(headers['content-length']));
  return { status: Number(m[1]), headers, body };
}

function dechunk(bytes: Buffer): Buffer {
  const out: Buffer[] = [];
  let at = 0;
  for (;;) {
    const lineEnd = bytes.indexOf('\r\n', at);
    if (lineEnd === -1) break;
    const size = Number.parseInt(bytes.subarray(at, lineEnd).toString('latin1'), 16);
    if (!Number.isFinite(size) || size === 0) break;
    out.push(bytes.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
  return Buffer.concat(out);
}

/** Sends one request on a fresh socket and parses the reply. */
export async function sendRaw(port: number, req: RawHttpRequest, timeoutMs?: number): Promise<RawHttpReply> {
  return parseResponse(await exchangeBytes(port, serializeRequest(req, `127.0.0.1:${port}`), timeoutMs));
}
