import { readFileSync } from 'node:fs';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import https from 'node:https';
import type { TLSSocket } from 'node:tls';
import type { KeyRing } from '../domain/kms/key-ring.ts';
import type { RootOfTrust } from '../domain/kms/root-of-trust.ts';
import { XksKeyStore } from '../domain/kms/xks.ts';
import type { JurisdictionMap } from '../domain/residency/jurisdiction.ts';
import { XksEndpoint } from '../protocols/xks/xks-endpoint.ts';
import { loadXksCredentials } from '../protocols/xks/xks-credentials.ts';
import type { Clock } from '../platform/clock.ts';
import type { XksConfig } from '../platform/config.ts';
import { LIMITS } from '../platform/limits.ts';
import type { Logger } from '../platform/logger.ts';
import { TLS_GROUPS } from './http-server.ts';

export interface RunningXks {
  keyStore: XksKeyStore;
  /** Whether a main-listener request path belongs to XKS (always false with an own listener). */
  ownsMainPath(rawPath: string): boolean;
  handle(req: IncomingMessage, res: ServerResponse, requestId: string): void;
  /** host:port of the own listener; null when XKS shares the main one. */
  address: { host: string; port: number } | null;
  close(): Promise<void>;
}

/**
 * The AWS KMS External Key Store proxy: its credentials, the tenant's XksKeyStore, the endpoint,
 * and — with `xksListen` — its own HTTPS listener, which can require client certificates chained
 * to `xksClientCa` with the subject CN `xksClientCn` (spec "Authentication": mTLS with a
 * configurable subject name and root CA).
 */
export async function startXks(options: {
  config: XksConfig;
  keyRing: KeyRing;
  rootOfTrust: RootOfTrust | null;
  jurisdictions: JurisdictionMap;
  clock: Clock;
  region: string;
  log: Logger;
  newRequestId: () => string;
}): Promise<RunningXks> {
  const { config, log } = options;
  const credentials = loadXksCredentials(config.credentialsFile);
  const keyStore = new XksKeyStore({
    keyRing: options.keyRing,
    tenantId: credentials.tenantId,
    // Every XKS key operation's requestMetadata, as a structured record (spec "Logging": log the
    // kmsRequestId so CloudTrail entries can be matched); the key ring's decision log holds the
    // policy decision on the same use.
    justifications: (justification) => log.info({ xksJustification: justification }, 'xks key use'),
    clock: options.clock,
  });
  const endpoint = new XksEndpoint({
    keyStore,
    credentials,
    clock: options.clock,
    region: options.region,
    rootUsable: () => options.rootOfTrust?.state() === 'unsealed',
    jurisdictionOf: (address) => options.jurisdictions.jurisdictionOf(address),
  });
  const handle = (req: IncomingMessage, res: ServerResponse, requestId: string) => {
    const started = process.hrtime.bigint();
    void endpoint.handle(req, res, requestId, log).then((outcome) => {
      log.info(
        {
          requestId,
          status: res.statusCode,
          durationMs: Math.round((Number(process.hrtime.bigint() - started) / 1e6) * 100) / 100,
          action: outcome.operation === null ? null : `xks:${outcome.operation}`,
          kmsRequestId: outcome.kmsRequestId,
          tenant: credentials.tenantId,
          error: outcome.errorName,
          remote: req.socket.remoteAddress,
        },
        'request',
      );
    });
  };
  const listener = config.listener;
  if (listener === null) {
    return {
      keyStore,
      ownsMainPath: (rawPath) => endpoint.owns(rawPath),
      handle,
      address: null,
      close: () => Promise.resolve(),
    };
  }
  const requireClientCert = listener.clientCaFile !== null;
  const server: Server = https.createServer(
    {
      cert: readFileSync(listener.certFile),
      key: readFileSync(listener.keyFile),
      minVersion: 'TLSv1.2',
      ecdhCurve: TLS_GROUPS,
      honorCipherOrder: true,
      requestCert: requireClientCert,
      rejectUnauthorized: requireClientCert,
      ...(listener.clientCaFile === null ? {} : { ca: readFileSync(listener.clientCaFile) }),
      maxHeaderSize: LIMITS.httpHeadersMaxBytes,
      headersTimeout: LIMITS.httpHeadersTimeoutMs,
      keepAliveTimeout: LIMITS.httpKeepAliveTimeoutMs,
    },
    (req, res) => {
      const requestId = options.newRequestId();
      res.setHeader('x-amz-request-id', requestId);
      res.setHeader('server', 'Sovra');
      handle(req, res, requestId);
    },
  );
  if (listener.clientCommonName !== null) {
    const expected = listener.clientCommonName;
    // The chain was verified during the handshake; a certificate for another subject ends the
    // connection before any request is read.
    server.on('secureConnection', (socket: TLSSocket) => {
      const subject = socket.getPeerCertificate().subject as Record<string, unknown> | undefined;
      if (subject?.CN !== expected) {
        log.warn({ remote: socket.remoteAddress, cn: subject?.CN ?? null }, 'xks client certificate refused');
        socket.destroy();
      }
    });
  }
  server.setTimeout(LIMITS.httpRequestIdleTimeoutMs, (socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listener.port, listener.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = server.address();
  const address =
    typeof bound === 'object' && bound !== null
      ? { host: bound.address, port: bound.port }
      : { host: listener.host, port: listener.port };
  log.info({ address, mutualTls: requireClientCert, uriPrefix: credentials.uriPrefix }, 'xks listening');
  return {
    keyStore,
    ownsMainPath: () => false,
    handle,
    address,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
