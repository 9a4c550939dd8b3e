import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Authorizer } from '../../domain/iam/authorizer.ts';
import type { Caller } from '../../domain/iam/caller.ts';
import type { CredentialResolver } from '../../domain/iam/credentials.ts';
import {
  APPROVAL_REFERENCE_HEADER,
  JUSTIFICATION_HEADER,
  parseJustification,
} from '../../domain/kms/justification.ts';
import type { KeyRing } from '../../domain/kms/key-ring.ts';
import { UNKNOWN_JURISDICTION, type JurisdictionMap } from '../../domain/residency/jurisdiction.ts';
import type { Clock } from '../../platform/clock.ts';
import { LIMITS } from '../../platform/limits.ts';
import { SigV4Error } from '../sigv4/errors.ts';
import { SigningKeyCache } from '../sigv4/signing-key.ts';
import { hasAuthentication, verifySigV4 } from '../sigv4/verify.ts';
import { kmsProtocolError, toKmsWireError } from './errors.ts';
import { operationOfTarget, runOperation, type KmsOperation } from './operations.ts';
import { RequestFields } from './request-fields.ts';
import { readBoundedBody } from '../bounded-body.ts';

export interface KmsEndpointLog {
  error(fields: Record<string, unknown>, message: string): void;
}

export interface KmsEndpointOptions {
  keyRing: KeyRing;
  credentials: CredentialResolver;
  authorizer: Authorizer;
  clock: Clock;
  region: string;
  /** Requesters' network jurisdictions; without one every requester's is 'unknown'. */
  jurisdictions?: JurisdictionMap;
}

/** Outcome of one request, for the access log and (later) the audit log. */
export interface KmsOutcome {
  operation: KmsOperation | null;
  principalId: string | null;
  tenantId: string | null;
  errorCode: string | null;
}

const JSON_CONTENT_TYPE = 'application/x-amz-json-1.1';

/** Requests carrying this header prefix belong to the KMS endpoint (the composition root routes them). */
export function isKmsRequest(req: IncomingMessage): boolean {
  const target = req.headers['x-amz-target'];
  return typeof target === 'string' && target.startsWith('TrentService.');
}

/**
 * The AWS KMS JSON 1.1 protocol (https://docs.aws.amazon.com/kms/latest/APIReference/Welcome.html):
 * POST / with `X-Amz-Target: TrentService.<Operation>` and a JSON body, signed with SigV4 for the
 * `kms` service by the same access keys as S3. Read a bounded body → authenticate → authorize
 * `kms:<Operation>` → run it on the key ring as the caller's tenant → answer JSON; every failure
 * is `{"__type", "message"}` from the one table in errors.ts, with `x-amzn-RequestId`.
 */
/** A blank outcome; the caller may pass its own so it can read it while the response is written. */
export function newKmsOutcome(): KmsOutcome {
  return { operation: null, principalId: null, tenantId: null, errorCode: null };
}

export class KmsEndpoint {
  readonly #o: KmsEndpointOptions;
  readonly #signingKeys = new SigningKeyCache();

  constructor(options: KmsEndpointOptions) {
    this.#o = options;
  }

  async handle(
    req: IncomingMessage,
    res: ServerResponse,
    requestId: string,
    log: KmsEndpointLog,
    outcome: KmsOutcome = newKmsOutcome(),
  ): Promise<KmsOutcome> {
    res.setHeader('x-amzn-requestid', requestId);
    try {
      const target = typeof req.headers['x-amz-target'] === 'string' ? req.headers['x-amz-target'] : '';
      const operation = operationOfTarget(target);
      if (req.method !== 'POST' || operation === null) {
        throw kmsProtocolError(
          'UnknownOperation',
          `Sovra's KMS does not support ${req.method ?? ''} ${target}.`,
        );
      }
      outcome.operation = operation;
      const body = await readBoundedBody(req, LIMITS.kmsRequestBodyMaxBytes, tooLarge);
      const caller = await this.#authenticate(req, body, requestId);
      outcome.principalId = caller.principalId;
      outcome.tenantId = caller.tenantId;
      await this.#o.authorizer.authorize(caller, `kms:${operation}`, { bucket: null, key: null });
      // Every key use says why (domain/kms/justification.ts); the key policy may deny by it.
      const justification = parseJustification(
        {
          principalId: caller.principalId,
          tenantId: caller.tenantId,
          service: 'kms',
          sourceIp: caller.sourceIp,
          jurisdiction: this.#o.jurisdictions?.jurisdictionOf(caller.sourceIp) ?? UNKNOWN_JURISDICTION,
          requestId,
        },
        singleHeader(req, JUSTIFICATION_HEADER),
        singleHeader(req, APPROVAL_REFERENCE_HEADER),
        operation,
      );
      const response = await runOperation(
        operation,
        this.#o.keyRing,
        caller.tenantId,
        new RequestFields(body),
        justification,
      );
      send(res, 200, response);
    } catch (error) {
      const wire = toKmsWireError(error);
      outcome.errorCode = wire.type;
      if (!wire.known) log.error({ err: error, requestId }, 'KMS request failed with an internal error');
      const message = wire.known ? wire.message : `${wire.message} Request id: ${requestId}.`;
      if (res.headersSent) res.destroy();
      else send(res, wire.status, { __type: wire.type, message }, !req.complete);
      if (!req.complete && !req.destroyed) req.resume();
    }
    return outcome;
  }

  async #authenticate(req: IncomingMessage, body: Buffer, requestId: string): Promise<Caller> {
    const url = req.url ?? '/';
    const queryAt = url.indexOf('?');
    const input = {
      method: req.method ?? 'POST',
      rawPath: queryAt === -1 ? url : url.slice(0, queryAt),
      rawQuery: queryAt === -1 ? '' : url.slice(queryAt + 1),
      headers: req.headersDistinct,
      // JSON clients sign the body's hash without sending x-amz-content-sha256.
      payloadSha256Hex: createHash('sha256').update(body).digest('hex'),
    };
    if (!hasAuthentication(input))
      throw new SigV4Error('AccessDeniedAnonymous', 'Missing Authentication Token');
    let isTenantAdmin = false;
    const verified = await verifySigV4(
      input,
      async (accessKeyId, sessionToken) => {
        // Temporary credentials (STS) resolve only with their session token.
        const credential = await this.#o.credentials.resolve(accessKeyId, sessionToken);
        if (credential === null) return null;
        isTenantAdmin = credential.principal.isTenantAdmin;
        return {
          secretAccessKey: credential.secretAccessKey,
          principalId: credential.principal.id,
          tenantId: credential.principal.tenantId,
          ...(credential.session === undefined ? {} : { sessionToken: credential.session.sessionToken }),
        };
      },
      {
        service: 'kms',
        nowMs: this.#o.clock.nowMs(),
        maxSkewMs: LIMITS.clockSkewMaxMs,
        maxPresignSeconds: LIMITS.presignMaxExpiresSeconds,
        uriEncoding: 'standard',
        signingKeyCache: this.#signingKeys,
      },
    );
    if (verified.payload.kind !== 'sha256' || verified.payload.hex !== input.payloadSha256Hex) {
      // The signature covered a payload hash other than this body's (or none): not this request.
      throw new SigV4Error('XAmzContentSHA256Mismatch', 'The request body does not match its signed hash.');
    }
    if (verified.region !== this.#o.region) {
      throw new SigV4Error(
        'AuthorizationHeaderMalformed',
        `Credential should be scoped to a valid region; this endpoint serves '${this.#o.region}', not '${verified.region}'.`,
      );
    }
    return {
      principalId: verified.principalId,
      tenantId: verified.tenantId,
      isTenantAdmin,
      requestId,
      sourceIp: req.socket.remoteAddress ?? '',
      secureTransport: 'encrypted' in req.socket && req.socket.encrypted === true,
    };
  }
}

/** A header given once; repeated, it is ambiguous and refused like a malformed one. */
function singleHeader(req: IncomingMessage, name: string): string | undefined {
  const values = req.headersDistinct[name];
  if (values === undefined) return undefined;
  if (values.length !== 1) {
    throw kmsProtocolError('Serialization', `The ${name} header must be given at most once.`);
  }
  return values[0];
}

function tooLarge(): Error {
  return kmsProtocolError(
    'RequestTooLarge',
    `The request body is larger than ${LIMITS.kmsRequestBodyMaxBytes} bytes.`,
  );
}

function send(res: ServerResponse, status: number, body: Record<string, unknown>, closeAfter = false): void {
  const bytes = Buffer.from(JSON.stringify(body), 'utf8');
  const headers: Record<string, string | number> = {
    'content-type': JSON_CONTENT_TYPE,
    'content-length': bytes.length,
  };
  if (closeAfter) headers.connection = 'close';
  res.writeHead(status, headers);
  res.end(bytes);
}
