import type { IncomingMessage } from 'node:http';

/**
 * Reads a whole (small, JSON) request body, refused past `maxBytes` — declared in Content-Length
 * or actually sent — with the protocol's own error from `tooLarge`. Events rather than async
 * iteration, and the request paused rather than destroyed on refusal: leaving an iteration early
 * would destroy the socket before the error could be answered. With `zeroOnRelease` (bodies that
 * carry secrets, such as unseal shares) every buffered chunk is zeroed once the body is handed
 * over or refused.
 */
export function readBoundedBody(
  req: IncomingMessage,
  maxBytes: number,
  tooLarge: () => Error,
  zeroOnRelease = false,
): Promise<Buffer> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > maxBytes) return Promise.reject(tooLarge());
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let length = 0;
    const release = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      if (zeroOnRelease) for (const held of chunks) held.fill(0);
    };
    const onData = (chunk: Buffer) => {
      length += chunk.length;
      if (length > maxBytes) {
        if (zeroOnRelease) chunk.fill(0);
        release();
        req.pause();
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      const body = Buffer.concat(chunks, length);
      release();
      resolve(body);
    };
    const onError = (error: Error) => {
      release();
      reject(error);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}
