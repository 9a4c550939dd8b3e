import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { classificationProfile } from '../../domain/classification/profiles.ts';
import type { ClassificationScheme } from '../../domain/classification/scheme.ts';
import { accessDenied, denialOf, type AccessDenial, type Authorizer } from '../../domain/iam/authorizer.ts';
import type { Caller } from '../../domain/iam/caller.ts';
import type { CredentialResolver } from '../../domain/iam/credentials.ts';
import { anonymousCaller, READ_DATA_ACTIONS } from '../../domain/iam/request-authorizer.ts';
import type { MultipartUploads } from '../../domain/storage/multipart-uploads.ts';
import type { BucketNotifications } from '../../domain/storage/notifications.ts';
import type { ObjectLock } from '../../domain/storage/object-lock.ts';
import type { ChecksumClaim, ObjectStore } from '../../domain/storage/object-store.ts';
import type { Tagging } from '../../domain/storage/tagging.ts';
import type { BucketRecord } from '../../domain/storage/types.ts';
import { UNKNOWN_JURISDICTION, type JurisdictionMap } from '../../domain/residency/jurisdiction.ts';
import type { PlacementDecisionLog } from '../../domain/residency/placement.ts';
import type { Clock } from '../../platform/clock.ts';
import { assertNever, isSovraError } from '../../platform/errors.ts';
import { LIMITS } from '../../platform/limits.ts';
import { formatAmzDate } from '../sigv4/canonical.ts';
import { createAwsChunkedDecoder } from '../sigv4/chunked.ts';
import { SigningKeyCache } from '../sigv4/signing-key.ts';
import { SigV4Error } from '../sigv4/errors.ts';
import { createPayloadHashVerifier } from '../sigv4/payload.ts';
import { hasAuthentication, verifySigV4, type PayloadMode, type VerifiedRequest } from '../sigv4/verify.ts';
import { requestFactsOf } from './condition-keys.ts';
import { s3Error, toS3WireError } from './errors.ts';
import type { S3Exchange } from './exchange.ts';
import * as buckets from './handlers/buckets.ts';
import * as listings from './handlers/listings.ts';
import * as bucketEncryption from './handlers/bucket-encryption.ts';
import * as bucketPolicy from './handlers/bucket-policy.ts';
import * as cors from './handlers/cors.ts';
import * as lifecycle from './handlers/lifecycle.ts';
import * as multipart from './handlers/multipart.ts';
import * as notifications from './handlers/notifications.ts';
import * as objectLock from './handlers/object-lock.ts';
import * as objectHandlers from './handlers/objects.ts';
import { postObject } from './handlers/post-object.ts';
import * as tagging from './handlers/tagging.ts';
import { S3LabelHeaders } from './label-headers.ts';
import { S3ObjectLabels, type ObjectLabelWrite } from './object-labels.ts';
import { header, readChecksumAlgorithmName, readChecksumHeader } from './object-headers.ts';
import { requestJustification } from './key-use.ts';
import { ATTESTATION_HEADER, decodeAttestationHeader } from '../../domain/lockbox/attestation.ts';
import { ACCESS_APPROVAL_HEADER } from '../../domain/lockbox/operator-access-gate.ts';
import { IAM_ACTION, routeS3Request, type S3Action, type S3Route } from './route.ts';
import { renderXmlDocument } from './xml.ts';

export interface S3EndpointLog {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}

export interface S3EndpointOptions {
  objects: ObjectStore;
  uploads: MultipartUploads;
  objectLock: ObjectLock;
  tagging: Tagging;
  /** Bucket notification configurations (Put/GetBucketNotificationConfiguration). */
  notifications: BucketNotifications;
  credentials: CredentialResolver;
  authorizer: Authorizer;
  clock: Clock;
  region: string;
  /** Base domains for virtual-hosted-style addressing (`bucket.<domain>`). */
  domains: readonly string[];
  /** The active classification scheme, for the label headers; defaults to the generic profile. */
  scheme?: ClassificationScheme;
  /** Requesters' network jurisdictions, for key-use justifications; without one every requester's is 'unknown'. */
  jurisdictions?: JurisdictionMap;
  /** Where bucket placement (residency) decisions are recorded; none: not recorded (audit log off). */
  placements?: PlacementDecisionLog;
}

/** What handlers may use: the endpoint's services (extend here as features land). */
export type S3Services = S3EndpointOptions;

/** Outcome of one request, for the access log and the audit log. */
export interface S3Outcome {
  action: S3Action | null;
  bucket: string | null;
  key: string | null;
  principalId: string | null;
  tenantId: string | null;
  errorCode: string | null;
  /**
   * Who denied, when authorization denied (errorCode AccessDenied): the IAM statements, the
   * guardrails or the classification rule. Also set for a key DeleteObjects could not delete.
   */
  denial: AccessDenial | null;
  /** The tenant that owns the bucket (the audit record goes to its view), once the bucket is known. */
  resourceTenantId: string | null;
  /**
   * The label of the data the request touched, once known: the bucket's as stored (null:
   * unlabelled, the lowest level), or for an object with a label of its own, the bucket's joined
   * with it.
   */
  classification: string | null;
}

/**
 * The lockbox headers of an operator's request: the approval it uses and the operator's signed
 * attestation (domain/lockbox). Only present headers are passed on; the gate decides.
 */
function operatorApprovalOf(req: IncomingMessage): Pick<Caller, 'operatorApproval'> {
  const approvalId = header(req.headers, ACCESS_APPROVAL_HEADER);
  if (approvalId === undefined) return {};
  const attestation = header(req.headers, ATTESTATION_HEADER);
  let attestationNote: string | null = null;
  try {
    if (attestation !== undefined) attestationNote = decodeAttestationHeader(attestation);
  } catch {
    // A malformed attestation is no attestation: the gate refuses (AttestationRequired).
  }
  return { operatorApproval: { approvalId, attestationNote } };
}

/** A blank outcome; the caller may pass its own so it can read it while the response is written. */
export function newS3Outcome(): S3Outcome {
  return {
    action: null,
    bucket: null,
    key: null,
    principalId: null,
    tenantId: null,
    errorCode: null,
    denial: null,
    resourceTenantId: null,
    classification: null,
  };
}

/**
 * The S3 wire protocol: route → authenticate (SigV4) → decode body → authorize → dispatch to a
 * handler → render. Every failure is rendered as an S3 XML error with the request id.
 */
export class S3Endpoint {
  readonly #o: S3EndpointOptions;
  readonly #signingKeys = new SigningKeyCache();
  readonly #labels: S3LabelHeaders;
  readonly #objectLabels: S3ObjectLabels;

  constructor(options: S3EndpointOptions) {
    this.#o = options;
    const scheme = options.scheme ?? classificationProfile('generic');
    this.#labels = new S3LabelHeaders(scheme);
    this.#objectLabels = new S3ObjectLabels(scheme, options.authorizer, this.#labels);
  }

  async handle(
    req: IncomingMessage,
    res: ServerResponse,
    requestId: string,
    log: S3EndpointLog,
    outcome: S3Outcome = newS3Outcome(),
  ): Promise<S3Outcome> {
    let route: S3Route | null = null;
    try {
      if (req.method === 'OPTIONS') {
        // CORS preflights carry no credentials; the bucket's CORS rules decide.
        const preflight = routeS3Request(
          'GET',
          req.url ?? '/',
          header(req.headers, 'host'),
          this.#o.domains,
          false,
        );
        outcome.bucket = preflight.bucket;
        await cors.handlePreflight(req, res, preflight.bucket, this.#o);
        return outcome;
      }
      route = routeS3Request(
        req.method ?? 'GET',
        req.url ?? '/',
        header(req.headers, 'host'),
        this.#o.domains,
        req.headers['x-amz-copy-source'] !== undefined,
        isFormUpload(req),
      );
      outcome.action = route.action;
      outcome.bucket = route.bucket;
      if (route.bucket !== null && req.headers.origin !== undefined) {
        await cors.addCorsResponseHeaders(req, res, route.bucket, this.#o);
      }
      if (route.action === 'PostObject') {
        // The policy signature travels in the form fields; the handler authenticates.
        const who = await postObject(req, res, route, requestId, this.#o, this.#objectLabels, outcome);
        outcome.principalId = who?.principalId ?? null;
        outcome.tenantId = who?.tenantId ?? null;
        return outcome;
      }
      outcome.key = route.key;
      const { auth, isTenantAdmin } = await this.#authenticate(req, route, outcome);
      const sourceIp = req.socket.remoteAddress ?? '';
      const secureTransport = 'encrypted' in req.socket && req.socket.encrypted === true;
      let caller: Caller;
      if (auth === null) {
        caller = anonymousCaller(requestId, sourceIp, secureTransport);
      } else {
        caller = {
          principalId: auth.principalId,
          tenantId: auth.tenantId,
          isTenantAdmin,
          requestId,
          sourceIp,
          secureTransport,
          ...operatorApprovalOf(req),
        };
        outcome.principalId = caller.principalId;
        outcome.tenantId = caller.tenantId;
      }
      const keyUse = requestJustification(req.headers, caller, this.#o.jurisdictions);
      const { body, declaredBytes, checksumClaim } = openBody(req, auth);
      const exchange: S3Exchange = {
        req,
        res,
        route,
        caller,
        keyUse,
        auth,
        requestId,
        body,
        declaredBytes,
        checksumClaim,
        log,
        outcome,
      };
      await this.#dispatch(exchange);
      drain(req);
    } catch (error) {
      const wire = toS3WireError(error);
      outcome.errorCode = wire.code;
      outcome.denial = denialOf(error);
      if (!wire.known) log.error({ err: error, requestId }, 'request failed with an internal error');
      this.#renderError(req, res, route, wire, requestId, error);
    }
    return outcome;
  }

  async #authenticate(
    req: IncomingMessage,
    route: S3Route,
    outcome: S3Outcome,
  ): Promise<{ auth: VerifiedRequest | null; isTenantAdmin: boolean }> {
    const input = {
      method: req.method ?? 'GET',
      rawPath: route.rawPath,
      rawQuery: route.rawQuery,
      headers: headersForSigning(req),
    };
    if (!hasAuthentication(input)) {
      // Unsigned requests go on as the anonymous caller only to read data, which then only a
      // bucket policy for everyone on public data allows; anything else is refused here.
      const action = IAM_ACTION[route.action];
      if (!READ_DATA_ACTIONS.has(action)) throw accessDenied(action, { source: 'iam', policies: [] });
      return { auth: null, isTenantAdmin: false };
    }
    let isTenantAdmin = false;
    const verified = await verifySigV4(
      input,
      async (accessKeyId, sessionToken) => {
        // Temporary credentials resolve only with their session token, checked by the resolver.
        const credential = await this.#o.credentials.resolve(accessKeyId, sessionToken);
        if (credential === null) return null;
        isTenantAdmin = credential.principal.isTenantAdmin;
        // The key's owner, even if the signature then fails: a tenant sees attempts on its keys.
        outcome.principalId = credential.principal.id;
        outcome.tenantId = credential.principal.tenantId;
        return {
          secretAccessKey: credential.secretAccessKey,
          principalId: credential.principal.id,
          tenantId: credential.principal.tenantId,
          ...(credential.session === undefined ? {} : { sessionToken: credential.session.sessionToken }),
        };
      },
      {
        service: 's3',
        nowMs: this.#o.clock.nowMs(),
        maxSkewMs: LIMITS.clockSkewMaxMs,
        maxPresignSeconds: LIMITS.presignMaxExpiresSeconds,
        uriEncoding: 's3',
        signingKeyCache: this.#signingKeys,
      },
    );
    if (verified.region !== this.#o.region) {
      throw new SigV4Error(
        'AuthorizationHeaderMalformed',
        `The authorization header is malformed; the region '${verified.region}' is wrong; expecting '${this.#o.region}'`,
        { region: this.#o.region },
      );
    }
    return { auth: verified, isTenantAdmin };
  }

  async #bucketFor(x: S3Exchange): Promise<BucketRecord> {
    const bucket = await this.#o.objects.getBucket(x.route.bucket!);
    x.outcome.resourceTenantId = bucket.tenantId;
    x.outcome.classification = this.#labels.labelOf(bucket.classification);
    await this.#o.authorizer.authorize(
      x.caller,
      IAM_ACTION[x.route.action],
      { bucket, key: x.route.key },
      requestFactsOf(x.route, x.req.headers),
    );
    return bucket;
  }

  /**
   * A write's bucket, authorized as #bucketFor does, and the label its label headers ask for
   * (null: the bucket's), authorized again as a labelling (S3ObjectLabels.labelWrite).
   */
  async #bucketForWrite(x: S3Exchange): Promise<{ bucket: BucketRecord; label: ObjectLabelWrite | null }> {
    const requested = this.#objectLabels.requestedLabel(x.req.headers);
    const bucket = await this.#bucketFor(x);
    if (requested === null) return { bucket, label: null };
    const label = await this.#objectLabels.labelWrite(
      x,
      IAM_ACTION[x.route.action],
      bucket,
      x.route.key!,
      requested,
      requestFactsOf(x.route, x.req.headers),
    );
    return { bucket, label };
  }

  /** For listings: whether an entry with a label of its own may be shown (no read up). */
  #readableFilter(
    x: S3Exchange,
    bucket: BucketRecord,
  ): (entry: { classification: string | null }) => Promise<boolean> {
    return this.#objectLabels.readableFilter(
      x,
      IAM_ACTION[x.route.action],
      bucket,
      requestFactsOf(x.route, x.req.headers),
    );
  }

  async #dispatch(x: S3Exchange): Promise<void> {
    const { objects, uploads, authorizer } = this.#o;
    const action = x.route.action;
    switch (action) {
      case 'ListBuckets':
        await authorizer.authorize(x.caller, IAM_ACTION[action], { bucket: null, key: null });
        return buckets.listBuckets(x, objects);
      case 'CreateBucket': {
        // Authorized on the bucket it would create (arn:aws:s3:::name), owned by the caller's
        // tenant and carrying the label the request asks for: nobody labels above their clearance.
        const classification = this.#labels.requestedBucketLabel(x.req.headers);
        await authorizer.authorize(x.caller, IAM_ACTION[action], {
          bucket: { name: x.route.bucket!, tenantId: x.caller.tenantId, classification },
          key: null,
        });
        return buckets.createBucket(x, objects, classification, {
          region: this.#o.region,
          jurisdiction: this.#o.jurisdictions?.homeJurisdiction ?? UNKNOWN_JURISDICTION,
          clock: this.#o.clock,
          log: this.#o.placements ?? null,
        });
      }
      case 'HeadBucket': {
        const bucket = await this.#bucketFor(x);
        return buckets.headBucket(x, bucket, this.#labels.responseHeaders(bucket.classification));
      }
      case 'DeleteBucket':
        await this.#bucketFor(x);
        return buckets.deleteBucket(x, objects);
      case 'GetBucketLocation':
        return buckets.getBucketLocation(x, await this.#bucketFor(x));
      case 'GetBucketVersioning':
        return buckets.getBucketVersioning(x, await this.#bucketFor(x));
      case 'PutBucketVersioning':
        await this.#bucketFor(x);
        return buckets.putBucketVersioning(x, objects);
      case 'GetBucketAcl':
        return buckets.getAcl(x, (await this.#bucketFor(x)).tenantId);
      case 'PutBucketAcl':
        await this.#bucketFor(x);
        return buckets.putAcl(x);
      case 'ListObjects': {
        const bucket = await this.#bucketFor(x);
        return listings.listObjectsV1(x, objects, bucket, this.#readableFilter(x, bucket));
      }
      case 'ListObjectsV2': {
        const bucket = await this.#bucketFor(x);
        return listings.listObjectsV2(x, objects, bucket, this.#readableFilter(x, bucket));
      }
      case 'ListObjectVersions': {
        const bucket = await this.#bucketFor(x);
        return listings.listObjectVersions(x, objects, bucket, this.#readableFilter(x, bucket));
      }
      case 'ListMultipartUploads': {
        const bucket = await this.#bucketFor(x);
        return listings.listMultipartUploads(x, uploads, bucket, this.#readableFilter(x, bucket));
      }
      case 'DeleteObjects':
        // s3:DeleteObject is decided per key, as S3 does (https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteObjects.html).
        return objectHandlers.deleteObjects(x, objects, await objects.getBucket(x.route.bucket!), authorizer);
      case 'PutObject': {
        const { bucket, label } = await this.#bucketForWrite(x);
        return objectHandlers.putObject(x, objects, bucket, label, this.#objectLabels);
      }
      case 'CopyObject': {
        const { bucket, label } = await this.#bucketForWrite(x);
        return objectHandlers.copyObject(x, objects, authorizer, bucket, label, this.#objectLabels);
      }
      case 'GetObject':
      case 'HeadObject':
        // Objects carry their bucket's label or one of their own (docs/reference/classification.md).
        return objectHandlers.getObject(
          x,
          objects,
          await this.#bucketFor(x),
          action === 'HeadObject',
          this.#objectLabels,
        );
      case 'DeleteObject':
        return objectHandlers.deleteObject(x, objects, await this.#bucketFor(x), authorizer);
      case 'GetObjectAcl': {
        const bucket = await this.#bucketFor(x);
        const versionId = x.route.query.get('versionId');
        const version = await objects.getObjectVersion(bucket.name, x.route.key!, versionId);
        await this.#objectLabels.admit(
          x,
          IAM_ACTION[action],
          bucket,
          version,
          versionId === null ? undefined : { versionId },
        );
        return buckets.getAcl(x, version.ownerTenantId);
      }
      case 'PutObjectAcl': {
        const bucket = await this.#bucketFor(x);
        await objects.getObjectVersion(bucket.name, x.route.key!, x.route.query.get('versionId'));
        return buckets.putAcl(x);
      }
      case 'CreateMultipartUpload': {
        const { bucket, label } = await this.#bucketForWrite(x);
        return multipart.createMultipartUpload(x, uploads, bucket, label, this.#objectLabels);
      }
      case 'UploadPart':
        return multipart.uploadPart(x, uploads, await this.#bucketFor(x));
      case 'UploadPartCopy':
        return multipart.uploadPartCopy(x, uploads, objects, authorizer, await this.#bucketFor(x));
      case 'CompleteMultipartUpload':
        return multipart.completeMultipartUpload(x, uploads, await this.#bucketFor(x), this.#objectLabels);
      case 'AbortMultipartUpload':
        return multipart.abortMultipartUpload(x, uploads, await this.#bucketFor(x));
      case 'ListParts':
        return listings.listParts(x, uploads, await this.#bucketFor(x), this.#objectLabels);
      case 'GetBucketTagging':
        return tagging.getBucketTagging(x, this.#o, await this.#bucketFor(x), this.#objectLabels);
      case 'PutBucketTagging':
        return tagging.putBucketTagging(x, this.#o, await this.#bucketFor(x), this.#objectLabels);
      case 'DeleteBucketTagging':
        return tagging.deleteBucketTagging(x, this.#o, await this.#bucketFor(x));
      case 'GetObjectTagging':
        return tagging.getObjectTagging(x, this.#o, await this.#bucketFor(x), this.#objectLabels);
      case 'PutObjectTagging':
        return tagging.putObjectTagging(x, this.#o, await this.#bucketFor(x), this.#objectLabels);
      case 'DeleteObjectTagging':
        return tagging.deleteObjectTagging(x, this.#o, await this.#bucketFor(x));
      case 'GetBucketCors':
        return cors.getBucketCors(x, this.#o, await this.#bucketFor(x));
      case 'PutBucketCors':
        return cors.putBucketCors(x, this.#o, await this.#bucketFor(x));
      case 'DeleteBucketCors':
        return cors.deleteBucketCors(x, this.#o, await this.#bucketFor(x));
      case 'GetBucketEncryption':
        return bucketEncryption.getBucketEncryption(x, this.#o, await this.#bucketFor(x));
      case 'PutBucketEncryption':
        return bucketEncryption.putBucketEncryption(x, this.#o, await this.#bucketFor(x));
      case 'DeleteBucketEncryption':
        return bucketEncryption.deleteBucketEncryption(x, this.#o, await this.#bucketFor(x));
      case 'GetBucketLifecycleConfiguration':
        return lifecycle.getBucketLifecycleConfiguration(x, this.#o, await this.#bucketFor(x));
      case 'PutBucketLifecycleConfiguration':
        return lifecycle.putBucketLifecycleConfiguration(x, this.#o, await this.#bucketFor(x));
      case 'DeleteBucketLifecycle':
        return lifecycle.deleteBucketLifecycle(x, this.#o, await this.#bucketFor(x));
      case 'GetObjectLockConfiguration':
        return objectLock.getObjectLockConfiguration(x, this.#o, await this.#bucketFor(x));
      case 'PutObjectLockConfiguration':
        return objectLock.putObjectLockConfiguration(x, this.#o, await this.#bucketFor(x));
      case 'GetObjectRetention':
        return objectLock.getObjectRetention(x, this.#o, await this.#bucketFor(x), this.#objectLabels);
      case 'PutObjectRetention':
        return objectLock.putObjectRetention(x, this.#o, await this.#bucketFor(x));
      case 'GetObjectLegalHold':
        return objectLock.getObjectLegalHold(x, this.#o, await this.#bucketFor(x), this.#objectLabels);
      case 'PutObjectLegalHold':
        return objectLock.putObjectLegalHold(x, this.#o, await this.#bucketFor(x));
      case 'GetBucketNotificationConfiguration':
        return notifications.getBucketNotificationConfiguration(x, this.#o, await this.#bucketFor(x));
      case 'PutBucketNotificationConfiguration':
        return notifications.putBucketNotificationConfiguration(x, this.#o, await this.#bucketFor(x));
      case 'GetBucketPolicy':
        return bucketPolicy.getBucketPolicy(x, this.#o, await this.#bucketFor(x));
      case 'PutBucketPolicy':
        return bucketPolicy.putBucketPolicy(x, this.#o, await this.#bucketFor(x));
      case 'DeleteBucketPolicy':
        return bucketPolicy.deleteBucketPolicy(x, this.#o, await this.#bucketFor(x));
      case 'GetBucketPolicyStatus':
        return bucketPolicy.getBucketPolicyStatus(x, this.#o, await this.#bucketFor(x));
      case 'PostObject':
        // Authenticated by its form fields before dispatch; never reaches here.
        throw s3Error('MethodNotAllowed', 'The specified method is not allowed against this resource.');
      default:
        return assertNever(action, 'S3 action');
    }
  }

  #renderError(
    req: IncomingMessage,
    res: ServerResponse,
    route: S3Route | null,
    wire: { code: string; status: number; message: string },
    requestId: string,
    error: unknown,
  ): void {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const headers: Record<string, string> = {};
    if (isSovraError(error)) {
      if (error.details.deleteMarker === true) headers['x-amz-delete-marker'] = 'true';
      if (typeof error.details.versionId === 'string') headers['x-amz-version-id'] = error.details.versionId;
    }
    // An error before the body was read: tell the client not to send the rest on this connection.
    const bodyPending = !req.complete;
    if (bodyPending) headers.connection = 'close';
    if (req.method === 'HEAD' || wire.status === 304) {
      res.writeHead(wire.status, { ...headers, 'content-length': 0 });
      res.end();
    } else {
      const nodes: [string, string][] = [
        ['Code', wire.code],
        ['Message', wire.message],
      ];
      if (route?.bucket !== null && route?.bucket !== undefined) nodes.push(['BucketName', route.bucket]);
      if (route?.key !== null && route?.key !== undefined) nodes.push(['Key', route.key]);
      if (isSovraError(error)) {
        for (const [field, element] of Object.entries(DETAIL_ELEMENT)) {
          const value = error.details[field];
          if (typeof value === 'string' || typeof value === 'number') nodes.push([element, String(value)]);
        }
      }
      nodes.push(
        ['Resource', route?.rawPath ?? req.url ?? '/'],
        ['RequestId', requestId],
        ['HostId', requestId],
      );
      const body = Buffer.from(renderXmlDocument('Error', nodes, ''), 'utf8');
      res.writeHead(wire.status, {
        ...headers,
        'content-type': 'application/xml',
        'content-length': body.length,
      });
      res.end(body);
    }
    if (bodyPending) drain(req);
  }
}

/** Error details S3 renders as elements of the error document, in this order. */
const DETAIL_ELEMENT = {
  region: 'Region',
  proposedSize: 'ProposedSize',
  minSizeAllowed: 'MinSizeAllowed',
  maxSizeAllowed: 'MaxSizeAllowed',
  argumentName: 'ArgumentName',
  argumentValue: 'ArgumentValue',
  condition: 'Condition',
  partNumber: 'PartNumber',
  method: 'Method',
  resourceType: 'ResourceType',
} as const;

function isFormUpload(req: IncomingMessage): boolean {
  return (
    req.method === 'POST' &&
    (header(req.headers, 'content-type') ?? '').toLowerCase().startsWith('multipart/form-data')
  );
}

/**
 * The headers as SigV4 canonicalisation needs them, repeated headers kept apart (Node joins them
 * in `headers`). `headersDistinct` builds a second object on every request; when no header name
 * repeats, as in nearly every request, `headers` holds the same values and is already built.
 */
function headersForSigning(req: IncomingMessage): IncomingHttpHeaders | NodeJS.Dict<string[]> {
  const repeats = Object.keys(req.headers).length * 2 !== req.rawHeaders.length;
  return repeats ? req.headersDistinct : req.headers;
}

/** An unsigned request's body is taken as sent (only reads are served unsigned). */
const UNSIGNED_PAYLOAD: PayloadMode = { kind: 'unsigned' };

/** Discards whatever the handler did not read, so keep-alive connections stay usable. */
function drain(req: IncomingMessage): void {
  if (!req.complete && !req.destroyed) req.resume();
}

/**
 * The request payload as the domain sees it: aws-chunked framing removed and every signature
 * and hash verified while streaming, with the client's checksum claim (header or trailer).
 */
function openBody(
  req: IncomingMessage,
  auth: VerifiedRequest | null,
): { body: Readable; declaredBytes: number | null; checksumClaim: ChecksumClaim | null } {
  const contentLength = parseLength(header(req.headers, 'content-length'));
  const headerChecksum = readChecksumHeader(req.headers);
  const trailerName = header(req.headers, 'x-amz-trailer')?.trim().toLowerCase() ?? null;
  const sdkAlgorithm = readChecksumAlgorithmName(
    header(req.headers, 'x-amz-sdk-checksum-algorithm'),
    'x-amz-sdk-checksum-algorithm',
  );
  const payload = auth === null ? UNSIGNED_PAYLOAD : auth.payload;
  switch (payload.kind) {
    case 'streaming-signed':
    case 'streaming-signed-trailer':
    case 'streaming-unsigned-trailer': {
      // A streaming payload mode comes only from a verified signature.
      if (auth === null) throw s3Error('InvalidRequest', 'aws-chunked bodies must be signed.');
      const decoded = parseLength(header(req.headers, 'x-amz-decoded-content-length'));
      if (decoded === null) {
        throw s3Error(
          'MissingContentLength',
          'You must provide the x-amz-decoded-content-length header with aws-chunked uploads.',
        );
      }
      const decoder = createAwsChunkedDecoder({
        mode: payload,
        signingKey: auth.signingKey,
        scope: auth.scope,
        seedSignature: auth.seedSignature,
        requestTime: formatAmzDate(auth.requestTime),
        decodedContentLength: decoded,
        expectedTrailer: trailerName,
      });
      const body = pipeBody(req, decoder);
      let claim: ChecksumClaim | null = null;
      if (trailerName !== null && trailerName.startsWith('x-amz-checksum-')) {
        const algorithm = readChecksumAlgorithmName(
          trailerName.slice('x-amz-checksum-'.length),
          'x-amz-trailer',
        );
        if (algorithm !== null) claim = { algorithm, expected: () => decoder.trailers()[trailerName] };
      } else if (headerChecksum !== null) {
        claim = { algorithm: headerChecksum.algorithm, expected: () => headerChecksum.value };
      } else if (sdkAlgorithm !== null) {
        claim = { algorithm: sdkAlgorithm, expected: () => undefined };
      }
      return { body, declaredBytes: decoded, checksumClaim: claim };
    }
    case 'sha256':
    case 'unsigned': {
      if (trailerName !== null) {
        throw s3Error(
          'InvalidRequest',
          'The x-amz-trailer header requires an aws-chunked (STREAMING-*-TRAILER) payload.',
        );
      }
      const body = payload.kind === 'sha256' ? pipeBody(req, createPayloadHashVerifier(payload.hex)) : req;
      let claim: ChecksumClaim | null = null;
      if (headerChecksum !== null)
        claim = { algorithm: headerChecksum.algorithm, expected: () => headerChecksum.value };
      else if (sdkAlgorithm !== null) claim = { algorithm: sdkAlgorithm, expected: () => undefined };
      return { body, declaredBytes: contentLength, checksumClaim: claim };
    }
    default:
      return assertNever(payload, 'payload mode');
  }
}

/** Pipes the request into a verifying transform, carrying errors from either side downstream. */
function pipeBody(req: IncomingMessage, transform: NodeJS.ReadWriteStream & Readable): Readable {
  req.on('error', (error) => transform.destroy(error));
  req.on('aborted', () =>
    transform.destroy(new SigV4Error('IncompleteBody', 'The request body ended early.')),
  );
  return req.pipe(transform);
}

function parseLength(value: string | undefined): number | null {
  if (value === undefined) return null;
  if (!/^\d+$/.test(value.trim())) throw s3Error('InvalidArgument', 'Invalid content length.');
  return Number(value.trim());
}
