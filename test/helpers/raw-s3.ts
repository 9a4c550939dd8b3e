import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { Socket } from 'node:net';
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import { TEST_REGION, type SovraProcess } from './sovra-process.ts';

export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** Signs a hand-made request with the AWS SigV4 signer, so tests can send what SDKs never would. */
export async function signRequest(
  sovra: SovraProcess,
  options: {
    method: string;
    path: string;
    query?: Record<string, string>;
    headers?: Record<string, string>;
    payloadHash?: string;
  },
): Promise<Record<string, string>> {
  const signer = new SignatureV4({
    service: 's3',
    region: TEST_REGION,
    credentials: sovra.credentials,
    sha256: Sha256,
    uriEscapePath: false,
    applyChecksum: false,
  });
  const signed = await signer.sign({
    method: options.method,
    protocol: 'http:',
    hostname: '127.0.0.1',
    port: sovra.port,
    path: options.path,
    query: options.query ?? {},
    headers: {
      host: `127.0.0.1:${sovra.port}`,
      'x-amz-content-sha256': options.payloadHash ?? 'UNSIGNED-PAYLOAD',
      ...options.headers,
    },
  });
  return signed.headers;
}

export function pathWithQuery(path: string, query: Record<string, string> = {}): string {
  const q = new URLSearchParams(query).toString();
  return q === '' ? path : `${path}?${q}`;
}

/** Sends one request and collects the response. */
export function send(
  sovra: SovraProcess,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: Buffer | string,
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port: sovra.port, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Writes raw bytes on a socket and returns whatever comes back before the server closes or the timeout. */
export function sendRaw(
  port: number,
  bytes: Buffer | string,
  options: { endAfterWrite?: boolean; timeoutMs?: number } = {},
): Promise<string> {
  return new Promise((resolve) => {
    const socket = new Socket();
    const chunks: Buffer[] = [];
    const finish = () => {
      socket.destroy();
      resolve(Buffer.concat(chunks).toString('latin1'));
    };
    socket.setTimeout(options.timeoutMs ?? 3000, finish);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('close', finish);
    socket.on('error', finish);
    socket.connect(port, '127.0.0.1', () => {
      socket.write(bytes);
      if (options.endAfterWrite === true) socket.end();
    });
  });
}

export function errorCode(body: string): string | null {
  return /<Code>([^<]+)<\/Code>/.exec(body)?.[1] ?? null;
}
