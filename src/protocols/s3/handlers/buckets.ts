import type { PlacementDecisionLog } from '../../../domain/residency/placement.ts';
import type { ObjectStore } from '../../../domain/storage/object-store.ts';
import type { BucketRecord } from '../../../domain/storage/types.ts';
import type { Clock } from '../../../platform/clock.ts';
import { isSovraError } from '../../../platform/errors.ts';
import { LIMITS } from '../../../platform/limits.ts';
import { s3Error } from '../errors.ts';
import { readBodyText, sendEmpty, sendXml, type S3Exchange } from '../exchange.ts';
import { header } from '../object-headers.ts';
import { parseXmlBody, renderXmlDocument, xmlText, type XmlNode } from '../xml.ts';

export function ownerNode(tenantId: string): XmlNode {
  return [
    'Owner',
    [
      ['ID', tenantId],
      ['DisplayName', tenantId],
    ],
  ];
}

export async function listBuckets(x: S3Exchange, objects: ObjectStore): Promise<void> {
  const buckets = await objects.listBuckets(x.caller.tenantId);
  const nodes: XmlNode[] = buckets.map((b) => [
    'Bucket',
    [
      ['Name', b.name],
      ['CreationDate', b.createdAt.toISOString()],
      ['BucketRegion', b.region],
    ],
  ]);
  sendXml(
    x.res,
    200,
    renderXmlDocument('ListAllMyBucketsResult', [ownerNode(x.caller.tenantId), ['Buckets', nodes]]),
  );
}

/** https://docs.aws.amazon.com/AmazonS3/latest/API/API_CreateBucket.html */
export async function createBucket(
  x: S3Exchange,
  objects: ObjectStore,
  classification: string | null,
  placement: { region: string; jurisdiction: string; clock: Clock; log: PlacementDecisionLog | null },
): Promise<void> {
  const text = await readBodyText(x.body, LIMITS.xmlBodyMaxBytes);
  let region: string | null = null;
  if (text.trim() !== '') {
    const config = parseXmlBody(text, 'CreateBucketConfiguration');
    region = xmlText(config.LocationConstraint) ?? null;
  }
  const acl = header(x.req.headers, 'x-amz-acl');
  if (acl !== undefined && acl !== 'private') {
    throw s3Error(
      'AccessControlListNotSupported',
      'The bucket does not allow ACLs; access is governed by policies.',
    );
  }
  // With x-amz-bucket-object-lock-enabled the bucket starts with Object Lock and versioning on.
  const objectLockEnabled =
    header(x.req.headers, 'x-amz-bucket-object-lock-enabled')?.trim().toLowerCase() === 'true';
  // The placement is a residency decision: recorded whether allowed or refused, before answering.
  const decide = (allowed: boolean) =>
    placement.log?.record({
      tenantId: x.caller.tenantId,
      principalId: x.caller.principalId,
      bucket: x.route.bucket!,
      requestedRegion: region === '' ? null : region,
      region: placement.region,
      jurisdiction: placement.jurisdiction,
      allowed,
      classification,
      requestId: x.requestId,
      sourceIp: x.caller.sourceIp === '' ? null : x.caller.sourceIp,
      sourceJurisdiction: x.keyUse.jurisdiction,
      timeMs: placement.clock.nowMs(),
    });
  let bucket;
  try {
    bucket = await objects.createBucket(x.caller, x.route.bucket!, region, {
      objectLockEnabled,
      classification,
    });
  } catch (error) {
    if (isSovraError(error) && error.code === 'InvalidLocation') await decide(false);
    throw error;
  }
  await decide(true);
  sendEmpty(x.res, 200, { location: `/${bucket.name}` });
}

/** HeadBucket answers with the bucket's label headers (`x-sovra-classification`, `x-sovra-compartments`). */
export function headBucket(
  x: S3Exchange,
  bucket: BucketRecord,
  labelHeaders: Readonly<Record<string, string>>,
): void {
  sendEmpty(x.res, 200, {
    ...labelHeaders,
    'x-amz-bucket-region': bucket.region,
    'x-amz-access-point-alias': 'false',
  });
}

export async function deleteBucket(x: S3Exchange, objects: ObjectStore): Promise<void> {
  await objects.deleteBucket(x.route.bucket!);
  sendEmpty(x.res, 204);
}

export function getBucketLocation(x: S3Exchange, bucket: BucketRecord): void {
  // us-east-1 is reported as an empty LocationConstraint, as S3 does.
  const region = bucket.region === 'us-east-1' ? '' : bucket.region;
  sendXml(
    x.res,
    200,
    renderXmlDocument('LocationConstraint', []).replace(
      '</LocationConstraint>',
      `${region}</LocationConstraint>`,
    ),
  );
}

export function getBucketVersioning(x: S3Exchange, bucket: BucketRecord): void {
  const status = bucket.versioning === 'Unversioned' ? undefined : bucket.versioning;
  sendXml(x.res, 200, renderXmlDocument('VersioningConfiguration', [['Status', status]]));
}

export async function putBucketVersioning(x: S3Exchange, objects: ObjectStore): Promise<void> {
  const config = parseXmlBody(await readBodyText(x.body, LIMITS.xmlBodyMaxBytes), 'VersioningConfiguration');
  const status = xmlText(config.Status);
  if (status !== 'Enabled' && status !== 'Suspended') {
    throw s3Error('MalformedXML', 'The versioning Status must be Enabled or Suspended.');
  }
  if (xmlText(config.MfaDelete) === 'Enabled') {
    throw s3Error('NotImplemented', 'MFA Delete is not supported; use Object Lock for immutability.');
  }
  await objects.setVersioning(x.route.bucket!, status);
  sendEmpty(x.res, 200);
}

/**
 * ACLs are answered only in the shape S3 gives buckets with ACLs disabled (owner full control),
 * so standard tools keep working; access itself is governed by policies.
 */
export function getAcl(x: S3Exchange, ownerTenantId: string): void {
  const grant: XmlNode = [
    'Grant',
    [
      [
        'Grantee',
        [
          ['ID', ownerTenantId],
          ['DisplayName', ownerTenantId],
        ],
      ],
      ['Permission', 'FULL_CONTROL'],
    ],
  ];
  const xml = renderXmlDocument('AccessControlPolicy', [
    ownerNode(ownerTenantId),
    ['AccessControlList', [grant]],
  ]).replace(
    '<Grantee>',
    '<Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="CanonicalUser">',
  );
  sendXml(x.res, 200, xml);
}

export async function putAcl(x: S3Exchange): Promise<void> {
  const acl = header(x.req.headers, 'x-amz-acl');
  const body = await readBodyText(x.body, LIMITS.xmlBodyMaxBytes);
  if ((acl === undefined && body.trim() === '') || (acl !== undefined && !ALLOWED_CANNED_ACLS.has(acl))) {
    throw s3Error(
      'AccessControlListNotSupported',
      'The bucket does not allow ACLs; access is governed by policies.',
    );
  }
  if (body.trim() !== '') {
    throw s3Error(
      'AccessControlListNotSupported',
      'The bucket does not allow ACLs; access is governed by policies.',
    );
  }
  sendEmpty(x.res, 200);
}

export const ALLOWED_CANNED_ACLS = new Set(['private', 'bucket-owner-full-control']);
