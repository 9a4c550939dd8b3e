import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { denialOf, type AccessDenial, type Authorizer } from '../../domain/iam/authorizer.ts';
import { ROOT_TENANT_ID } from '../../domain/iam/bootstrap.ts';
import type { Caller } from '../../domain/iam/caller.ts';
import type { CredentialResolver } from '../../domain/iam/credentials.ts';
import {
  APPROVAL_REFERENCE_HEADER,
  JUSTIFICATION_HEADER,
  parseJustification,
  type KeyUseJustification,
} from '../../domain/kms/justification.ts';
import { checkAliasName } from '../../domain/kms/key-references.ts';
import type { KeyRing, NamedKey } from '../../domain/kms/key-ring.ts';
import { ATTESTATION_HEADER, decodeAttestationHeader } from '../../domain/lockbox/attestation.ts';
import { ACCESS_APPROVAL_HEADER } from '../../domain/lockbox/operator-access-gate.ts';
import { UNKNOWN_JURISDICTION, type JurisdictionMap } from '../../domain/residency/jurisdiction.ts';
import type { Clock } from '../../platform/clock.ts';
import { assertNever } from '../../platform/errors.ts';
import { LIMITS } from '../../platform/limits.ts';
import { SigV4Error } from '../sigv4/errors.ts';
import { SigningKeyCache } from '../sigv4/signing-key.ts';
import { hasAuthentication, verifySigV4 } from '../sigv4/verify.ts';
import { kmsProtocolError, toKmsWireError } from './errors.ts';
import {
  CROSS_TENANT_OPERATIONS,
  KEY_USE_ACTIONS,
  operationOfTarget,
  prepareOperation,
  type KeyTarget,
  type KmsOperation,
  type OperationScope,
} from './operations.ts';
import { RequestFields } from './request-fields.ts';
import { readBoundedBody } from '../bounded-body.ts';
import { isSecureTransport } from '../sigv4/signed-request.ts';

export interface KmsEndpointLog {
  error(fields: Record<string, unknown>, message: string): void;
}

export interface KmsEndpointOptions {
  keyRing: KeyRing;
  credentials: CredentialResolver;
  /**
   * Decides `kms:<Operation>` on the key's ARN with its key policy as the resource policy
   * (RequestAuthorizer, behind ApprovedOperatorAuthorizer for operators' approved access). Its
   * decision is the key policy's evaluation: the key ring does not evaluate the policy again.
   */
  authorizer: Authorizer;
  clock: Clock;
  region: string;
  /** Requesters' network jurisdictions; without one every requester's is 'unknown'. */
  jurisdictions?: JurisdictionMap;
}

/** Outcome of one request, for the access log and the audit log. */
export interface KmsOutcome {
  operation: KmsOperation | null;
  principalId: string | null;
  tenantId: string | null;
  errorCode: string | null;
  /** The ARN of the key the request acted on (the first, for ReEncrypt the source), once authorized or refused on it. */
  resource: string | null;
  /** The tenant owning that key: a cross-tenant use is in its owner's audit view. */
  resourceTenantId: string | null;
  /** Who refused, when authorization refused (errorCode AccessDeniedException). */
  denial: AccessDenial | null;
}

const JSON_CONTENT_TYPE = 'application/x-amz-json-1.1';

/** Requests carrying this header prefix belong to the KMS endpoint (the composition root routes them). */
export function isKmsRequest(req: IncomingMessage): boolean {
  const target = req.headers['x-amz-target'];
  return typeof target === 'string' && target.startsWith('TrentService.');
}

/** A blank outcome; the caller may pass its own so it can read it while the response is written. */
export function newKmsOutcome(): KmsOutcome {
  return {
    operation: null,
    principalId: null,
    tenantId: null,
    errorCode: null,
    resource: null,
    resourceTenantId: null,
    denial: null,
  };
}

/**
 * The AWS KMS JSON 1.1 protocol (https://docs.aws.amazon.com/kms/latest/APIReference/Welcome.html):
 * POST / with `X-Amz-Target: TrentService.<Operation>` and a JSON body, signed with SigV4 for the
 * `kms` service by the same access keys as S3. Read a bounded body → authenticate → find the keys
 * the operation names → authorize `kms:<Operation>` on each key's ARN, with its key policy, the
 * caller's identity policies, the guardrails and the key use's justification (or, for an
 * operator's request naming an approval, the lockbox gate) → run it on the key ring as the key
 * owner's tenant → answer JSON; every failure is `{"__type", "message"}` from the one table in
 * errors.ts, with `x-amzn-RequestId`.
 */
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
      const justification = this.#justification(req, caller, operation);
      const prepared = prepareOperation(operation, new RequestFields(body));
      const scope = await this.#authorize(caller, operation, prepared.targets, justification, outcome);
      send(res, 200, await prepared.run(this.#o.keyRing, scope));
    } catch (error) {
      const wire = toKmsWireError(error);
      outcome.errorCode = wire.type;
      if (!wire.known) log.error({ err: error, requestId }, 'KMS request failed with an internal error');
      // A refusal says which layer refused, as AWS KMS does; other errors keep their own message.
      const refusal = outcome.denial?.message;
      const message = !wire.known
        ? `${wire.message} Request id: ${requestId}.`
        : refusal !== undefined && denialOf(error) !== null
          ? refusal
          : wire.message;
      if (res.headersSent) res.destroy();
      else send(res, wire.status, { __type: wire.type, message }, !req.complete);
      if (!req.complete && !req.destroyed) req.resume();
    }
    return outcome;
  }

  /**
   * Why the caller uses keys (domain/kms/justification.ts), which policies and guardrails read.
   * An operator acting under an access approval supports a tenant by definition: its uses are
   * OPERATOR_SUPPORT under that approval, whatever the headers say.
   */
  #justification(req: IncomingMessage, caller: Caller, operation: KmsOperation): KeyUseJustification {
    const requester = {
      principalId: caller.principalId,
      tenantId: caller.tenantId,
      service: 'kms' as const,
      sourceIp: caller.sourceIp,
      jurisdiction: this.#o.jurisdictions?.jurisdictionOf(caller.sourceIp) ?? UNKNOWN_JURISDICTION,
      requestId: caller.requestId,
    };
    if (caller.operatorApproval !== undefined) {
      return parseJustification(requester, 'OPERATOR_SUPPORT', caller.operatorApproval.approvalId, operation);
    }
    return parseJustification(
      requester,
      singleHeader(req, JUSTIFICATION_HEADER),
      singleHeader(req, APPROVAL_REFERENCE_HEADER),
      operation,
    );
  }

  /**
   * Authorizes the operation: tenant-wide on `*`, else on every key it names, in turn. Returns
   * whose keys it then runs on. A refused use of another tenant's key is answered as if the key
   * did not exist (and recorded so in the caller's view), so that refusals never tell a tenant
   * that a foreign key exists; only a platform operator's refusal by the lockbox is
   * AccessDeniedException naming why (the tenant sees the refused use too). Refused key uses are
   * decisions of the key owner's decision log, as granted ones are.
   */
  async #authorize(
    caller: Caller,
    operation: KmsOperation,
    targets: readonly KeyTarget[],
    justification: KeyUseJustification,
    outcome: KmsOutcome,
  ): Promise<OperationScope> {
    // A request naming an approval is decided by the lockbox gate alone (which refuses anyone but
    // a platform operator); the key ring then applies the key policy's denies to its key uses.
    const approved = caller.operatorApproval !== undefined;
    const operator = approved && caller.tenantId === ROOT_TENANT_ID;
    const scope: OperationScope = {
      tenantId: caller.tenantId,
      destinationTenantId: caller.tenantId,
      justification,
      keyPolicyEvaluated: !approved,
    };
    const facts = { keyUse: justification };
    if (targets.length === 0) {
      try {
        await this.#o.authorizer.authorize(caller, `kms:${operation}`, { bucket: null, key: null }, facts);
      } catch (error) {
        outcome.denial = denialOf(error);
        throw error;
      }
      return scope;
    }
    const acrossTenants = CROSS_TENANT_OPERATIONS.has(operation) || operator;
    for (const target of targets) {
      const named = await this.#namedKey(caller.tenantId, target, acrossTenants);
      const foreign = named.key.tenantId !== caller.tenantId;
      try {
        await this.#o.authorizer.authorize(
          caller,
          target.action,
          {
            bucket: null,
            key: null,
            kmsKey: {
              keyId: named.key.keyId,
              tenantId: named.key.tenantId,
              arn: named.arn,
              policy: named.key.policy,
            },
          },
          facts,
        );
      } catch (error) {
        const denial = denialOf(error);
        if (denial === null) throw error;
        if (KEY_USE_ACTIONS.has(target.action)) {
          this.#o.keyRing.recordRefusedUse(
            named,
            { ...justification, operation: target.action.slice('kms:'.length) },
            denial.message ?? `${target.action} is denied (${denial.source})`,
          );
        }
        if (foreign && !(operator && denial.source === 'lockbox')) throw named.ifMissing;
        outcome.denial = denial;
        outcome.resource ??= named.arn;
        outcome.resourceTenantId ??= named.key.tenantId;
        throw error;
      }
      outcome.resource ??= named.arn;
      outcome.resourceTenantId ??= named.key.tenantId;
      if (target.action === 'kms:ReEncryptTo') scope.destinationTenantId = named.key.tenantId;
      else scope.tenantId = named.key.tenantId;
    }
    return scope;
  }

  async #namedKey(callerTenantId: string, target: KeyTarget, acrossTenants: boolean): Promise<NamedKey> {
    const ring = this.#o.keyRing;
    switch (target.kind) {
      case 'key':
        return ring.namedKey(callerTenantId, target.reference, {
          allowAlias: target.allowAlias,
          acrossTenants,
        });
      case 'ciphertext':
        return ring.ciphertextKey(callerTenantId, target.blob, acrossTenants);
      case 'alias':
        // An alias is always the caller's own; its name is checked as the operation checks it.
        return ring.namedKey(callerTenantId, checkAliasName(target.aliasName, false), {
          allowAlias: true,
          acrossTenants: false,
        });
      default:
        return assertNever(target, 'key target');
    }
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
      secureTransport: isSecureTransport(req),
      ...operatorApprovalOf(req),
    };
  }
}

/**
 * The lockbox headers of an operator's request: the approval it uses and the operator's signed
 * attestation (domain/lockbox), as on S3. Only present headers are passed on; the gate decides.
 */
function operatorApprovalOf(req: IncomingMessage): Pick<Caller, 'operatorApproval'> {
  const approvalId = singleHeader(req, ACCESS_APPROVAL_HEADER);
  if (approvalId === undefined) return {};
  const attestation = singleHeader(req, ATTESTATION_HEADER);
  let attestationNote: string | null = null;
  try {
    if (attestation !== undefined) attestationNote = decodeAttestationHeader(attestation);
  } catch {
    // A malformed attestation is no attestation: the gate refuses (AttestationRequired).
  }
  return { operatorApproval: { approvalId, attestationNote } };
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
