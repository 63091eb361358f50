import { connect } from 'node:net';

/**
 * Sends bytes exactly as given on a fresh TCP connection (no client library to tidy the request
 * line or headers) and returns the status and body of the reply.
 */
export function sendRaw(url: string, head: string, body: Buffer | string = ''): Promise<{ status: number; headers: string; body: string }> {
  const { hostname, port } = new URL(url);
  const bytes = Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8');
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) }, () => {
      // write, not end: a half-closed connection makes Node servers abort the pending request.
      socket.write(Buffer.concat([Buffer.from(`${head}\r\ncontent-length: ${bytes.length}\r\nconnection: close\r\n\r\n`, 'latin1'), bytes]));
    });
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const split = text.indexOf('\r\n\r\n');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
      resolve({ status, headers: text.slice(0, split), body: text.slice(split + 4) });
    });
  });
}
