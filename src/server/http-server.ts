import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import { join } from 'node:path';
import type { ServerConfig } from '../platform/config.ts';
import { LIMITS } from '../platform/limits.ts';

/**
 * TLS 1.2+ (1.3 preferred by OpenSSL's negotiation), offering the hybrid post-quantum key
 * exchange X25519MLKEM768 first (draft-ietf-tls-ecdhe-mlkem; OpenSSL 3.5), then classical groups
 * for older clients.
 */
export const TLS_GROUPS = 'X25519MLKEM768:X25519:P-256:P-384';

export type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

export function createHttpServer(config: ServerConfig, listener: RequestListener): http.Server {
  const common = {
    maxHeaderSize: LIMITS.httpHeadersMaxBytes,
    headersTimeout: LIMITS.httpHeadersTimeoutMs,
    // Large uploads may take long; idle sockets are bounded by the socket timeout below.
    requestTimeout: 0,
    keepAliveTimeout: LIMITS.httpKeepAliveTimeoutMs,
  };
  let server: http.Server;
  if (config.tls === null) {
    server = http.createServer(common, listener);
  } else {
    const { cert, key } =
      'dev' in config.tls
        ? devCertificate(config.dataDir)
        : { cert: readFileSync(config.tls.certFile), key: readFileSync(config.tls.keyFile) };
    server = https.createServer(
      { ...common, cert, key, minVersion: 'TLSv1.2', ecdhCurve: TLS_GROUPS, honorCipherOrder: true },
      listener,
    );
  }
  server.setTimeout(LIMITS.httpRequestIdleTimeoutMs, (socket) => socket.destroy());
  return server;
}

/** A self-signed certificate for local use, made once with the system's OpenSSL and kept in the data dir. */
function devCertificate(dataDir: string): { cert: Buffer; key: Buffer } {
  const dir = join(dataDir, 'tls');
  const certPath = join(dir, 'dev-cert.pem');
  const keyPath = join(dir, 'dev-key.pem');
  if (!existsSync(certPath) || !existsSync(keyPath)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-keyout',
        keyPath,
        '-out',
        certPath,
        '-days',
        '30',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=DNS:localhost,DNS:*.localhost,IP:127.0.0.1,IP:::1',
      ],
      { stdio: 'ignore', umask: 0o077 } as Parameters<typeof execFileSync>[2],
    );
  }
  return { cert: readFileSync(certPath), key: readFileSync(keyPath) };
}
