import type { IncomingHttpHeaders } from 'node:http';
import type { Authorizer } from '../../../domain/iam/authorizer.ts';
import {
  parseRequestedObjectLock,
  parseRetainUntilDate,
  parseRetentionMode,
  type DefaultRetention,
  type ObjectLockConfiguration,
} from '../../../domain/storage/object-lock.ts';
import type { BucketRecord, ObjectRetention, RequestedObjectLock } from '../../../domain/storage/types.ts';
import { LIMITS } from '../../../platform/limits.ts';
import { s3Error } from '../errors.ts';
import { readBodyText, sendEmpty, sendXml, type S3Exchange } from '../exchange.ts';
import { header } from '../object-headers.ts';
import type { S3ObjectLabels } from '../object-labels.ts';
import type { S3Services } from '../s3-endpoint.ts';
import { parseXmlBody, renderXmlDocument, xmlObject, xmlText, type XmlNode, type XmlObject } from '../xml.ts';

/** Object Lock (https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock.html). */

/** https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObjectLockConfiguration.html */
export async function getObjectLockConfiguration(
  x: S3Exchange,
  services: S3Services,
  bucket: BucketRecord,
): Promise<void> {
  const configuration = await services.objectLock.getConfiguration(bucket);
  const nodes: XmlNode[] = [['ObjectLockEnabled', 'Enabled']];
  const rule = configuration.defaultRetention;
  if (rule !== null) {
    nodes.push([
      'Rule',
      [
        [
          'DefaultRetention',
          [
            ['Mode', rule.mode],
            [rule.unit, rule.count],
          ],
        ],
      ],
    ]);
  }
  sendXml(x.res, 200, renderXmlDocument('ObjectLockConfiguration', nodes));
}

/** https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObjectLockConfiguration.html */
export async function putObjectLockConfiguration(
  x: S3Exchange,
  services: S3Services,
  bucket: BucketRecord,
): Promise<void> {
  const doc = parseXmlBody(await readBodyText(x.body, LIMITS.xmlBodyMaxBytes), 'ObjectLockConfiguration');
  await services.objectLock.putConfiguration(bucket.name, readObjectLockConfiguration(doc));
  sendEmpty(x.res, 200);
}

/** https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObjectRetention.html */
export async function getObjectRetention(
  x: S3Exchange,
  services: S3Services,
  bucket: BucketRecord,
  labels: S3ObjectLabels,
): Promise<void> {
  const versionId = x.route.query.get('versionId');
  const { retention } = await services.objectLock.getRetention(bucket, x.route.key!, versionId, (version) =>
    labels.admit(x, 's3:GetObjectRetention', bucket, version, versionId === null ? undefined : { versionId }),
  );
  sendXml(
    x.res,
    200,
    renderXmlDocument('Retention', [
      ['Mode', retention.mode],
      ['RetainUntilDate', retention.retainUntil.toISOString()],
    ]),
  );
}

/**
 * https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObjectRetention.html: an empty
 * <Retention/> removes the retention (allowed only for GOVERNANCE, with the bypass).
 */
export async function putObjectRetention(
  x: S3Exchange,
  services: S3Services,
  bucket: BucketRecord,
): Promise<void> {
  const text = await readBodyText(x.body, LIMITS.xmlBodyMaxBytes);
  if (text.trim() === '') throw s3Error('MalformedXML', 'The request must carry a <Retention> document.');
  const retention = readRetention(parseXmlBody(text, 'Retention'));
  const governanceBypass = await governanceBypassOf(x, services.authorizer, bucket);
  await services.objectLock.putRetention({
    bucket,
    key: x.route.key!,
    versionId: x.route.query.get('versionId'),
    retention,
    governanceBypass,
  });
  sendEmpty(x.res, 200);
}

/** https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObjectLegalHold.html */
export async function getObjectLegalHold(
  x: S3Exchange,
  services: S3Services,
  bucket: BucketRecord,
  labels: S3ObjectLabels,
): Promise<void> {
  const versionId = x.route.query.get('versionId');
  const { on } = await services.objectLock.getLegalHold(bucket, x.route.key!, versionId, (version) =>
    labels.admit(x, 's3:GetObjectLegalHold', bucket, version, versionId === null ? undefined : { versionId }),
  );
  sendXml(x.res, 200, renderXmlDocument('LegalHold', [['Status', on ? 'ON' : 'OFF']]));
}

/** https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObjectLegalHold.html */
export async function putObjectLegalHold(
  x: S3Exchange,
  services: S3Services,
  bucket: BucketRecord,
): Promise<void> {
  const doc = parseXmlBody(await readBodyText(x.body, LIMITS.xmlBodyMaxBytes), 'LegalHold');
  const status = xmlText(doc.Status);
  if (status !== 'ON' && status !== 'OFF') {
    throw s3Error('MalformedXML', 'The LegalHold Status must be ON or OFF.');
  }
  await services.objectLock.putLegalHold(
    bucket,
    x.route.key!,
    x.route.query.get('versionId'),
    status === 'ON',
  );
  sendEmpty(x.res, 200);
}

/** The x-amz-object-lock-* headers of PutObject, CopyObject and CreateMultipartUpload. */
export function readObjectLockHeaders(headers: IncomingHttpHeaders): RequestedObjectLock | null {
  return parseRequestedObjectLock({
    mode: header(headers, 'x-amz-object-lock-mode'),
    retainUntilDate: header(headers, 'x-amz-object-lock-retain-until-date'),
    legalHold: header(headers, 'x-amz-object-lock-legal-hold'),
  });
}

/**
 * `x-amz-bypass-governance-retention: true` counts only for a caller allowed
 * s3:BypassGovernanceRetention on the target; asking without the permission is AccessDenied
 * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock-managing.html#object-lock-managing-bypass).
 */
export async function governanceBypassOf(
  x: S3Exchange,
  authorizer: Authorizer,
  bucket: BucketRecord,
  key: string | null = x.route.key,
): Promise<boolean> {
  const value = header(x.req.headers, 'x-amz-bypass-governance-retention');
  if (value === undefined || value.trim().toLowerCase() !== 'true') return false;
  await authorizer.authorize(x.caller, 's3:BypassGovernanceRetention', { bucket, key });
  return true;
}

/**
 * <ObjectLockConfiguration>: ObjectLockEnabled must be Enabled; an optional Rule holds one
 * DefaultRetention with a Mode and exactly one of Days or Years. Shape errors are MalformedXML;
 * a period that is not positive is InvalidRetentionPeriod (decided by the domain).
 */
function readObjectLockConfiguration(doc: XmlObject): ObjectLockConfiguration {
  if (xmlText(doc.ObjectLockEnabled)?.trim() !== 'Enabled') {
    throw s3Error('MalformedXML', 'ObjectLockEnabled must be Enabled.');
  }
  if (doc.Rule === undefined) return { defaultRetention: null };
  const retention = xmlObject(xmlObject(doc.Rule)?.DefaultRetention);
  if (retention === undefined) throw s3Error('MalformedXML', 'A Rule must hold a DefaultRetention.');
  const mode = parseRetentionMode(xmlText(retention.Mode)?.trim() ?? '', () =>
    s3Error('MalformedXML', 'The DefaultRetention Mode must be GOVERNANCE or COMPLIANCE.'),
  );
  const days = xmlText(retention.Days);
  const years = xmlText(retention.Years);
  if ((days === undefined) === (years === undefined)) {
    throw s3Error('MalformedXML', 'A DefaultRetention names exactly one of Days or Years.');
  }
  const unit: DefaultRetention['unit'] = days !== undefined ? 'Days' : 'Years';
  const count = (days ?? years)!.trim();
  if (!/^-?\d{1,12}$/.test(count)) throw s3Error('MalformedXML', `${unit} must be an integer.`);
  return { defaultRetention: { mode, unit, count: Number(count) } };
}

function readRetention(doc: XmlObject): ObjectRetention | null {
  const mode = xmlText(doc.Mode)?.trim();
  const date = xmlText(doc.RetainUntilDate)?.trim();
  if (mode === undefined && date === undefined) return null;
  if (mode === undefined || date === undefined) {
    throw s3Error('MalformedXML', 'A Retention names both Mode and RetainUntilDate, or neither.');
  }
  return {
    mode: parseRetentionMode(mode, () =>
      s3Error('MalformedXML', 'The Retention Mode must be GOVERNANCE or COMPLIANCE.'),
    ),
    retainUntil: parseRetainUntilDate(date, () =>
      s3Error('MalformedXML', 'RetainUntilDate must be an ISO 8601 date-time.'),
    ),
  };
}
