import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AuditReader } from '../../domain/audit/audit-reader.ts';
import { AuditError, type AuditErrorCode } from '../../domain/audit/errors.ts';
import type { AuditResult } from '../../domain/audit/records.ts';
import { parseTilePath } from '../../domain/audit/tlog/tile-paths.ts';
import { TlogError } from '../../domain/audit/tlog/errors.ts';
import { ROOT_TENANT_ID } from '../../domain/iam/bootstrap.ts';
import type { CredentialResolver } from '../../domain/iam/credentials.ts';
import type { Principal } from '../../domain/iam/types.ts';
import type { Clock } from '../../platform/clock.ts';
import { assertNever, isSovraError } from '../../platform/errors.ts';
import { SigV4Error } from '../sigv4/errors.ts';
import { SignedRequestAuthenticator, SOVRA_SIGNING_SERVICE } from '../sigv4/signed-request.ts';
import { readBoundedBody } from '../bounded-body.ts';
import type { WitnessCosignatures } from '../../domain/audit/witnessing.ts';

export const AUDIT_PATH_PREFIX = '/_sovra/audit/';
/** A few cosignature lines (c2sp.org/tlog-cosignature lines are ~120 bytes). */
const COSIGNATURE_BODY_MAX_BYTES = 4096;
const EMPTY_BODY = Buffer.alloc(0);
/** SigV4 service name of Sovra's own APIs (operator, audit, admin). */

export interface AuditEndpointOptions {
  reader: AuditReader;
  witnesses: WitnessCosignatures;
  credentials: CredentialResolver;
  clock: Clock;
  region: string;
  /** The log's verifier keys (C2SP vkey strings), served at /_sovra/audit/vkeys. */
  verifierKeys: () => Promise<string[]>;
}

export interface AuditOutcome {
  route: string | null;
  principalId: string | null;
  tenantId: string | null;
  errorCode: string | null;
}

export function newAuditOutcome(): AuditOutcome {
  return { route: null, principalId: null, tenantId: null, errorCode: null };
}

type AuditProtocolCode = 'NotFound' | 'MethodNotAllowed' | 'AccessDenied' | 'MalformedRequest';

class AuditProtocolError extends Error {
  readonly code: AuditProtocolCode;
  constructor(code: AuditProtocolCode, message: string) {
    super(message);
    this.code = code;
  }
}

/**
 * The audit log over HTTP (docs/reference/audit-log-formats.md):
 *
 *   GET /_sovra/audit/vkeys                        the log's verifier keys, public
 *   GET /_sovra/audit/log/checkpoint               c2sp.org/tlog-tiles, authorized readers
 *   GET /_sovra/audit/log/tile/<L>/<N>[.p/<W>]     hash tiles, authorized readers
 *   GET /_sovra/audit/log/tile/entries/<N>[.p/<W>] entry bundles (record commitments), authorized readers
 *   POST /_sovra/audit/log/cosignature?size=       a witness's cosignature lines, authorized readers
 *   GET /_sovra/audit/proof/inclusion?index=&size= authorized readers
 *   GET /_sovra/audit/proof/consistency?old=&new=  any authenticated principal
 *   GET /_sovra/audit/records?…                    a tenant administrator's own tenant's records
 *
 * Authorized readers (auditors, witnesses, a regulator) are administrators of the root tenant.
 * Requests are signed with AWS SigV4, service `sovra`.
 */
export class AuditEndpoint {
  readonly #o: AuditEndpointOptions;
  readonly #signed: SignedRequestAuthenticator;

  constructor(options: AuditEndpointOptions) {
    this.#o = options;
    // Tile readers may use presigned URLs (a witness or auditor fetching tiles with a plain GET).
    this.#signed = SignedRequestAuthenticator.for(options, SOVRA_SIGNING_SERVICE, { allowPresigned: true });
  }

  async handle(
    req: IncomingMessage,
    res: ServerResponse,
    requestId: string,
    outcome: AuditOutcome = newAuditOutcome(),
  ): Promise<AuditOutcome> {
    try {
      const url = new URL(req.url ?? '/', 'http://audit.invalid');
      const path = url.pathname.slice(AUDIT_PATH_PREFIX.length);
      const isCosignature = path === 'log/cosignature';
      if (isCosignature ? req.method !== 'POST' : req.method !== 'GET' && req.method !== 'HEAD') {
        throw new AuditProtocolError(
          'MethodNotAllowed',
          isCosignature ? 'cosignatures are POSTed' : 'the audit log is read-only',
        );
      }
      outcome.route = path.startsWith('log/tile/') ? 'log/tile' : path;
      if (path === 'vkeys') {
        sendText(res, 200, `${(await this.#o.verifierKeys()).join('\n')}\n`, 'public, max-age=300');
        return outcome;
      }
      const body = isCosignature
        ? await readBoundedBody(
            req,
            COSIGNATURE_BODY_MAX_BYTES,
            () => new AuditProtocolError('MalformedRequest', 'too large'),
          )
        : EMPTY_BODY;
      const principal = await this.#authenticate(req, body);
      outcome.principalId = principal.id;
      outcome.tenantId = principal.tenantId;
      const isReader = principal.isTenantAdmin && principal.tenantId === ROOT_TENANT_ID;
      const reader = this.#o.reader;
      if (path === 'log/checkpoint') {
        requireReader(isReader);
        const checkpoint = await this.#o.witnesses.servedCheckpoint();
        if (checkpoint === null)
          throw new AuditProtocolError('NotFound', 'no checkpoint has been signed yet');
        sendText(res, 200, checkpoint.note, 'no-store');
      } else if (path.startsWith('log/tile/')) {
        requireReader(isReader);
        const tile = parseTilePath(path.slice('log/'.length));
        const body =
          tile.kind === 'hashes'
            ? await reader.hashTile(tile.level, tile.index, tile.width)
            : await reader.entryBundle(tile.index, tile.width);
        if (body === null) throw new AuditProtocolError('NotFound', 'no such tile in the checkpointed tree');
        // Tiles never change once served (c2sp.org/tlog-tiles), but they are not public.
        sendBytes(res, body, 'private, max-age=31536000, immutable');
      } else if (isCosignature) {
        requireReader(isReader);
        const accepted = await this.#o.witnesses.accept(integerParam(url, 'size'), body.toString('utf8'));
        sendJson(res, 200, { accepted });
      } else if (path === 'proof/inclusion') {
        requireReader(isReader);
        const proof = await reader.inclusionProof(integerParam(url, 'index'), integerParam(url, 'size'));
        sendJson(res, 200, { proof: proof.map((h) => h.toString('base64')) });
      } else if (path === 'proof/consistency') {
        const proof = await reader.consistencyProof(integerParam(url, 'old'), integerParam(url, 'new'));
        sendJson(res, 200, { proof: proof.map((h) => h.toString('base64')) });
      } else if (path === 'records') {
        const tenantId = url.searchParams.get('tenant') ?? principal.tenantId;
        if (!principal.isTenantAdmin || (tenantId !== principal.tenantId && !isReader)) {
          throw new AuditProtocolError('AccessDenied', 'only administrators read a tenant’s audit records');
        }
        const result = await reader.tenantRecords(
          recordFilter(url, tenantId),
          url.searchParams.get('proofs') === 'true',
        );
        sendJson(res, 200, {
          records: result.records,
          checkpoint: result.checkpoint?.note ?? null,
          nextAfter: result.nextAfter,
        });
      } else {
        throw new AuditProtocolError('NotFound', `no audit resource ${path}`);
      }
    } catch (error) {
      const wire = wireErrorOf(error);
      outcome.errorCode = wire.code;
      if (res.headersSent) res.destroy();
      else sendJson(res, wire.status, { code: wire.code, message: wire.message, requestId });
    }
    return outcome;
  }

  #authenticate(req: IncomingMessage, body: Buffer): Promise<Principal> {
    return this.#signed.principalOf(req, body);
  }
}

const RESULTS: readonly AuditResult[] = ['success', 'failure', 'denied'];

function recordFilter(url: URL, tenantId: string) {
  const params = url.searchParams;
  const result = params.get('result');
  if (result !== null && !RESULTS.some((r) => r === result)) {
    throw new AuditProtocolError('MalformedRequest', `result must be one of ${RESULTS.join(', ')}`);
  }
  const optional = (name: string) => params.get(name) ?? undefined;
  return {
    tenantId,
    fromMs: params.has('from') ? timeParam(url, 'from') : 0,
    toMs: params.has('to') ? timeParam(url, 'to') : Number.MAX_SAFE_INTEGER,
    principalId: optional('principal'),
    action: optional('action'),
    resourcePrefix: optional('resource'),
    result: result ?? undefined,
    afterIndex: params.has('after') ? integerParam(url, 'after') : -1,
    limit: params.has('limit') ? integerParam(url, 'limit') : 100,
  };
}

function integerParam(url: URL, name: string): number {
  const text = url.searchParams.get(name);
  if (text === null || !/^(0|[1-9][0-9]{0,15})$/.test(text) || !Number.isSafeInteger(Number(text))) {
    throw new AuditProtocolError('MalformedRequest', `${name} must be a non-negative integer`);
  }
  return Number(text);
}

function timeParam(url: URL, name: string): number {
  const text = url.searchParams.get(name) ?? '';
  const ms = /^\d{4}-\d{2}-\d{2}/.test(text) ? Date.parse(text) : Number.NaN;
  if (!Number.isFinite(ms))
    throw new AuditProtocolError('MalformedRequest', `${name} must be an ISO 8601 time`);
  return ms;
}

function requireReader(isReader: boolean): void {
  if (!isReader) {
    throw new AuditProtocolError(
      'AccessDenied',
      'only authorized log readers (root tenant administrators) read the log',
    );
  }
}

/** The one table from errors to this API's wire errors. */
function wireErrorOf(error: unknown): { status: number; code: string; message: string } {
  if (error instanceof AuditProtocolError) {
    const status = { NotFound: 404, MethodNotAllowed: 405, AccessDenied: 403, MalformedRequest: 400 }[
      error.code
    ];
    return { status, code: error.code, message: error.message };
  }
  if (error instanceof SigV4Error) return { status: 403, code: error.code, message: error.message };
  if (error instanceof TlogError) return { status: 404, code: 'NotFound', message: error.message };
  if (error instanceof AuditError) {
    return { status: auditStatus(error.code), code: error.code, message: error.message };
  }
  if (isSovraError(error) && error.code === 'Sealed')
    return { status: 503, code: 'Sealed', message: error.message };
  return { status: 500, code: 'InternalError', message: 'internal error' };
}

function auditStatus(code: AuditErrorCode): number {
  switch (code) {
    case 'InvalidQuery':
    case 'MalformedRecord':
      return 400;
    case 'NotFound':
      return 404;
    case 'RetentionNotElapsed':
      return 409;
    case 'LogUnavailable':
    case 'LogKeyUnavailable':
      return 503;
    case 'VerificationFailed':
      return 500;
    default:
      return assertNever(code, 'audit error code');
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(text);
}

function sendText(res: ServerResponse, status: number, text: string, cacheControl: string): void {
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': cacheControl,
  });
  res.end(text);
}

function sendBytes(res: ServerResponse, body: Buffer, cacheControl: string): void {
  res.writeHead(200, {
    'content-type': 'application/octet-stream',
    'content-length': body.length,
    'cache-control': cacheControl,
  });
  res.end(body);
}
