import { createHash } from 'node:crypto';
import { checksumOf } from '../../../domain/storage/digests.ts';
import { storageError } from '../../../domain/storage/errors.ts';
import {
  decodeLifecycleDocument,
  encodeLifecycleDocument,
  filterNeedsObject,
  hasTransitions,
  type LifecycleConfiguration,
  type LifecycleExpiration,
  type LifecycleFilter,
  type LifecycleNoncurrentTransition,
  type LifecycleRule,
  type LifecycleTag,
  type LifecycleTransition,
  type NoncurrentVersionExpiration,
} from '../../../domain/storage/lifecycle.ts';
import type { BucketRecord } from '../../../domain/storage/types.ts';
import { assertNever } from '../../../platform/errors.ts';
import { randomHexId } from '../../../platform/ids.ts';
import { LIMITS } from '../../../platform/limits.ts';
import { s3Error } from '../errors.ts';
import { readBodyText, sendEmpty, sendXml, type S3Exchange } from '../exchange.ts';
import { readContentMd5 } from '../object-headers.ts';
import type { S3Services } from '../s3-endpoint.ts';
import { parseXmlBody, renderXmlDocument, type XmlNode, type XmlObject, type XmlValue } from '../xml.ts';

/**
 * Lifecycle configuration (https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lifecycle-mgmt.html):
 * PutBucketLifecycleConfiguration parses and validates the XML as S3 does and stores it as the
 * bucket's 'lifecycle' document; the lifecycle runner carries the rules out in the background.
 * Transitions are accepted and stored but not carried out until storage tiers exist: the PUT
 * response then carries TRANSITIONS_HEADER and the gateway logs it.
 */

/** Response header of a PUT whose rules include transitions: they are recorded, not yet executed. */
export const TRANSITIONS_HEADER = 'x-sovra-lifecycle-transitions';
export const TRANSITIONS_NOT_EXECUTED = 'recorded-not-executed';

export async function getBucketLifecycleConfiguration(
  x: S3Exchange,
  services: S3Services,
  bucket: BucketRecord,
): Promise<void> {
  const stored = await services.objects.getBucketConfig(bucket.name, 'lifecycle');
  if (stored === null) {
    throw s3Error('NoSuchLifecycleConfiguration', 'The lifecycle configuration does not exist', {
      bucket: bucket.name,
    });
  }
  const config = decodeLifecycleDocument(stored.document);
  sendXml(x.res, 200, renderXmlDocument('LifecycleConfiguration', config.rules.map(renderRule)));
}

/** https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketLifecycleConfiguration.html */
export async function putBucketLifecycleConfiguration(
  x: S3Exchange,
  services: S3Services,
  bucket: BucketRecord,
): Promise<void> {
  const contentMd5 = readContentMd5(x.req.headers);
  if (contentMd5 === null && x.checksumClaim === null) {
    throw s3Error('InvalidRequest', 'Missing required header for this request: Content-MD5');
  }
  const text = await readBodyText(x.body, LIMITS.xmlBodyMaxBytes);
  await verifyBodyDigests(Buffer.from(text, 'utf8'), contentMd5, x);
  const config = parseLifecycleConfiguration(parseXmlBody(text, 'LifecycleConfiguration'));
  await services.objects.putBucketConfig(bucket.name, 'lifecycle', encodeLifecycleDocument(config));
  const headers: Record<string, string> = {};
  if (hasTransitions(config)) {
    headers[TRANSITIONS_HEADER] = TRANSITIONS_NOT_EXECUTED;
    x.log.warn(
      {
        requestId: x.requestId,
        bucket: bucket.name,
        rules: config.rules
          .filter((r) => r.transitions.length > 0 || r.noncurrentVersionTransitions.length > 0)
          .map((r) => r.id),
      },
      'lifecycle transitions recorded but not executed: storage tiers are not available yet',
    );
  }
  sendEmpty(x.res, 200, headers);
}

export async function deleteBucketLifecycle(
  x: S3Exchange,
  services: S3Services,
  bucket: BucketRecord,
): Promise<void> {
  await services.objects.deleteBucketConfig(bucket.name, 'lifecycle');
  sendEmpty(x.res, 204);
}

async function verifyBodyDigests(body: Buffer, contentMd5: Buffer | null, x: S3Exchange): Promise<void> {
  if (contentMd5 !== null && !createHash('md5').update(body).digest().equals(contentMd5)) {
    throw storageError('DigestMismatch', 'The Content-MD5 you specified did not match what we received.');
  }
  const claim = x.checksumClaim;
  const expected = claim?.expected();
  if (claim === null || expected === undefined) return;
  if ((await checksumOf(claim.algorithm, body)).toString('base64') !== expected) {
    throw storageError(
      'ChecksumMismatch',
      `The ${claim.algorithm} you specified did not match the calculated checksum.`,
    );
  }
}

// ---- parsing ----------------------------------------------------------------------------------

const MALFORMED = 'The XML you provided was not well-formed or did not validate against our published schema';

function malformed(detail?: string): Error {
  return s3Error('MalformedXML', detail === undefined ? MALFORMED : `${MALFORMED} (${detail})`);
}

/**
 * The storage classes S3 accepts in Transition and NoncurrentVersionTransition
 * (https://docs.aws.amazon.com/AmazonS3/latest/API/API_Transition.html).
 */
const TRANSITION_STORAGE_CLASSES = [
  'GLACIER',
  'STANDARD_IA',
  'ONEZONE_IA',
  'INTELLIGENT_TIERING',
  'DEEP_ARCHIVE',
  'GLACIER_IR',
];
/** Infrequent-access classes take objects only 30 days after creation (lifecycle-transition-general-considerations). */
const THIRTY_DAY_MINIMUM_CLASSES = ['STANDARD_IA', 'ONEZONE_IA'];

export function parseLifecycleConfiguration(doc: XmlObject): LifecycleConfiguration {
  const root = elementsOf(doc, 'LifecycleConfiguration', ['Rule']);
  const entries = root.Rule === undefined ? [] : Array.isArray(root.Rule) ? root.Rule : [root.Rule];
  if (entries.length === 0) throw malformed('a lifecycle configuration needs at least one Rule');
  if (entries.length > LIMITS.lifecycleRulesMax) {
    throw malformed(`a lifecycle configuration holds at most ${LIMITS.lifecycleRulesMax} rules`);
  }
  const rules = entries.map(parseRule);
  const ids = new Set<string>();
  for (const rule of rules) {
    if (ids.has(rule.id)) {
      throw s3Error('InvalidArgument', 'Rule ID must be unique. Found same ID for more than one rule', {
        argumentName: 'ID',
      });
    }
    ids.add(rule.id);
  }
  return { rules };
}

const RULE_ELEMENTS = [
  'ID',
  'Prefix',
  'Filter',
  'Status',
  'Expiration',
  'Transition',
  'NoncurrentVersionTransition',
  'NoncurrentVersionExpiration',
  'AbortIncompleteMultipartUpload',
];

function parseRule(value: XmlValue): LifecycleRule {
  const rule = elementsOf(value, 'Rule', RULE_ELEMENTS);
  const givenId = textOf(rule, 'ID');
  if (givenId !== undefined && givenId.length > LIMITS.lifecycleRuleIdMaxChars) {
    throw s3Error(
      'InvalidArgument',
      `ID length should not exceed allowed limit of ${LIMITS.lifecycleRuleIdMaxChars}`,
      {
        argumentName: 'ID',
      },
    );
  }
  // S3 names a rule given without an ID itself.
  const id = givenId === undefined || givenId === '' ? randomHexId(20) : givenId;
  const status = textOf(rule, 'Status');
  if (status !== 'Enabled' && status !== 'Disabled') throw malformed('Status must be Enabled or Disabled');
  const filter = parseRuleFilter(rule);
  const parsed: LifecycleRule = {
    id,
    status,
    filter,
    expiration: optional(rule, 'Expiration', parseExpiration),
    noncurrentVersionExpiration: optional(rule, 'NoncurrentVersionExpiration', parseNoncurrentExpiration),
    abortIncompleteMultipartUpload: optional(rule, 'AbortIncompleteMultipartUpload', parseAbort),
    transitions: listOf(rule.Transition).map(parseTransition),
    noncurrentVersionTransitions: listOf(rule.NoncurrentVersionTransition).map(parseNoncurrentTransition),
  };
  checkRule(parsed);
  return parsed;
}

/** Rules that concern a rule as a whole, as S3 states them in its errors. */
function checkRule(rule: LifecycleRule): void {
  const hasAction =
    rule.expiration !== null ||
    rule.noncurrentVersionExpiration !== null ||
    rule.abortIncompleteMultipartUpload !== null ||
    rule.transitions.length > 0 ||
    rule.noncurrentVersionTransitions.length > 0;
  if (!hasAction) throw s3Error('InvalidRequest', 'At least one action needs to be specified in a rule');
  const usesTags = filterTags(rule.filter).length > 0;
  if (rule.abortIncompleteMultipartUpload !== null && filterNeedsObject(rule.filter)) {
    throw s3Error(
      'InvalidRequest',
      usesTags
        ? 'AbortIncompleteMultipartUpload cannot be specified with Tags.'
        : 'AbortIncompleteMultipartUpload cannot be specified with Object Size.',
    );
  }
  if (rule.expiration?.kind === 'expiredObjectDeleteMarker' && usesTags) {
    throw s3Error('InvalidRequest', 'ExpiredObjectDeleteMarker cannot be specified with Tags.');
  }
  const timings = [rule.expiration, ...rule.transitions.map((t) => t.when)].flatMap((t) =>
    t !== null && (t.kind === 'days' || t.kind === 'date') ? [t.kind] : [],
  );
  if (timings.includes('days') && timings.includes('date')) {
    throw s3Error(
      'InvalidRequest',
      "Found mixed 'Date' and 'Days' based Expiration and Transition actions in lifecycle rule",
    );
  }
  const classes = new Set<string>();
  for (const transition of rule.transitions) {
    if (classes.has(transition.storageClass)) {
      throw s3Error(
        'InvalidRequest',
        `'StorageClass' must be different for 'Transition' actions in same 'Rule'`,
      );
    }
    classes.add(transition.storageClass);
    if (
      transition.when.kind === 'days' &&
      THIRTY_DAY_MINIMUM_CLASSES.includes(transition.storageClass) &&
      transition.when.days < 30
    ) {
      throw s3Error(
        'InvalidArgument',
        `'Days' in Transition action must be greater than or equal to 30 for storageClass '${transition.storageClass}'`,
        { argumentName: 'Days' },
      );
    }
    if (
      rule.expiration?.kind === 'days' &&
      transition.when.kind === 'days' &&
      rule.expiration.days <= transition.when.days
    ) {
      throw s3Error(
        'InvalidArgument',
        "'Days' in the Expiration action must be greater than 'Days' in the Transition action",
        {
          argumentName: 'Days',
        },
      );
    }
  }
}

/** The filter: exactly one of <Filter> or the deprecated rule-level <Prefix>. */
function parseRuleFilter(rule: XmlObject): LifecycleFilter {
  const hasFilter = rule.Filter !== undefined;
  const legacyPrefix = textOf(rule, 'Prefix');
  if (hasFilter && legacyPrefix !== undefined)
    throw malformed('a rule has either Prefix or Filter, not both');
  if (legacyPrefix !== undefined) return { kind: 'rulePrefix', prefix: checkedPrefix(legacyPrefix) };
  if (!hasFilter) throw malformed('a rule needs a Filter (or the deprecated Prefix)');
  const filter = elementsOf(single(rule, 'Filter'), 'Filter', [
    'Prefix',
    'Tag',
    'ObjectSizeGreaterThan',
    'ObjectSizeLessThan',
    'And',
  ]);
  const present = Object.keys(filter).filter((name) => name !== '#text');
  if (present.length === 0) return { kind: 'all' };
  if (present.length > 1)
    throw malformed(
      'a Filter holds exactly one of Prefix, Tag, ObjectSizeGreaterThan, ObjectSizeLessThan or And',
    );
  const name = present[0]!;
  switch (name) {
    case 'Prefix':
      return { kind: 'prefix', prefix: checkedPrefix(textOf(filter, 'Prefix') ?? '') };
    case 'Tag':
      return { kind: 'tag', tag: parseTag(single(filter, 'Tag')) };
    case 'ObjectSizeGreaterThan':
      return { kind: 'objectSizeGreaterThan', bytes: sizeOf(filter, 'ObjectSizeGreaterThan') };
    case 'ObjectSizeLessThan':
      return { kind: 'objectSizeLessThan', bytes: positiveSize(sizeOf(filter, 'ObjectSizeLessThan')) };
    case 'And':
      return parseAnd(single(filter, 'And'));
    default:
      throw malformed(`unexpected element ${name}`);
  }
}

function parseAnd(value: XmlValue): LifecycleFilter {
  const and = elementsOf(value, 'And', ['Prefix', 'Tag', 'ObjectSizeGreaterThan', 'ObjectSizeLessThan']);
  const prefix = textOf(and, 'Prefix');
  const tags = listOf(and.Tag).map(parseTag);
  const keys = new Set<string>();
  for (const tag of tags) {
    if (keys.has(tag.key)) throw s3Error('InvalidRequest', 'Duplicate Tag Keys are not allowed.');
    keys.add(tag.key);
  }
  const greaterThan = and.ObjectSizeGreaterThan === undefined ? null : sizeOf(and, 'ObjectSizeGreaterThan');
  const lessThan =
    and.ObjectSizeLessThan === undefined ? null : positiveSize(sizeOf(and, 'ObjectSizeLessThan'));
  if (prefix === undefined && tags.length === 0 && greaterThan === null && lessThan === null) {
    throw malformed('And needs at least one predicate');
  }
  if (greaterThan !== null && lessThan !== null && greaterThan >= lessThan) {
    throw s3Error('InvalidArgument', 'ObjectSizeGreaterThan must be less than ObjectSizeLessThan', {
      argumentName: 'ObjectSizeGreaterThan',
    });
  }
  return {
    kind: 'and',
    prefix: prefix === undefined ? null : checkedPrefix(prefix),
    tags,
    objectSizeGreaterThan: greaterThan,
    objectSizeLessThan: lessThan,
  };
}

function parseTag(value: XmlValue): LifecycleTag {
  const tag = elementsOf(value, 'Tag', ['Key', 'Value']);
  const key = textOf(tag, 'Key');
  if (key === undefined) throw malformed('a Tag needs a Key');
  // https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-tagging.html: keys of 1–128 and
  // values of up to 256 Unicode characters. A Tag without Value selects objects whose tag has none.
  const tagValue = textOf(tag, 'Value') ?? '';
  if ([...key].length < 1 || [...key].length > 128)
    throw s3Error('InvalidTag', 'The TagKey you have provided is invalid');
  if ([...tagValue].length > 256) throw s3Error('InvalidTag', 'The TagValue you have provided is invalid');
  return { key, value: tagValue };
}

function checkedPrefix(prefix: string): string {
  if (Buffer.byteLength(prefix, 'utf8') > LIMITS.objectKeyMaxBytes || !prefix.isWellFormed()) {
    throw s3Error('InvalidArgument', 'The prefix is not a valid object key prefix', {
      argumentName: 'Prefix',
    });
  }
  return prefix;
}

function parseExpiration(value: XmlValue): LifecycleExpiration {
  const expiration = elementsOf(value, 'Expiration', ['Days', 'Date', 'ExpiredObjectDeleteMarker']);
  const given = ['Days', 'Date', 'ExpiredObjectDeleteMarker'].filter(
    (name) => expiration[name] !== undefined,
  );
  if (given.includes('ExpiredObjectDeleteMarker') && given.length > 1) {
    throw malformed(
      'ExpiredObjectDeleteMarker cannot be specified with Days or Date in a Lifecycle Expiration Policy',
    );
  }
  if (given.length !== 1)
    throw malformed('Expiration holds exactly one of Days, Date or ExpiredObjectDeleteMarker');
  if (expiration.Days !== undefined) {
    return {
      kind: 'days',
      days: positiveDays(expiration, 'Days', "'Days' for Expiration action must be a positive integer"),
    };
  }
  if (expiration.Date !== undefined) return { kind: 'date', date: midnightDate(expiration) };
  const flag = textOf(expiration, 'ExpiredObjectDeleteMarker')?.trim();
  if (flag !== 'true' && flag !== 'false') throw malformed('ExpiredObjectDeleteMarker must be true or false');
  return { kind: 'expiredObjectDeleteMarker', enabled: flag === 'true' };
}

function parseNoncurrentExpiration(value: XmlValue): NoncurrentVersionExpiration {
  const element = elementsOf(value, 'NoncurrentVersionExpiration', [
    'NoncurrentDays',
    'NewerNoncurrentVersions',
  ]);
  if (element.NoncurrentDays === undefined)
    throw malformed('NoncurrentVersionExpiration needs NoncurrentDays');
  return {
    noncurrentDays: positiveDays(
      element,
      'NoncurrentDays',
      "'NoncurrentDays' for NoncurrentVersionExpiration action must be a positive integer",
    ),
    newerNoncurrentVersions: newerNoncurrentVersionsOf(element),
  };
}

function parseAbort(value: XmlValue): { daysAfterInitiation: number } {
  const element = elementsOf(value, 'AbortIncompleteMultipartUpload', ['DaysAfterInitiation']);
  if (element.DaysAfterInitiation === undefined) {
    throw malformed('AbortIncompleteMultipartUpload needs DaysAfterInitiation');
  }
  return {
    daysAfterInitiation: positiveDays(
      element,
      'DaysAfterInitiation',
      "'DaysAfterInitiation' for AbortIncompleteMultipartUpload action must be a positive integer",
    ),
  };
}

function parseTransition(value: XmlValue): LifecycleTransition {
  const element = elementsOf(value, 'Transition', ['Days', 'Date', 'StorageClass']);
  const storageClass = storageClassOf(element);
  if ((element.Days === undefined) === (element.Date === undefined)) {
    throw malformed('Transition holds exactly one of Days or Date');
  }
  if (element.Date !== undefined)
    return { when: { kind: 'date', date: midnightDate(element) }, storageClass };
  const days = integerOf(element, 'Days');
  if (days < 0) {
    throw s3Error('InvalidArgument', "'Days' for Transition action must be a positive integer", {
      argumentName: 'Days',
    });
  }
  return { when: { kind: 'days', days }, storageClass };
}

function parseNoncurrentTransition(value: XmlValue): LifecycleNoncurrentTransition {
  const element = elementsOf(value, 'NoncurrentVersionTransition', [
    'NoncurrentDays',
    'NewerNoncurrentVersions',
    'StorageClass',
  ]);
  const storageClass = storageClassOf(element);
  if (element.NoncurrentDays === undefined)
    throw malformed('NoncurrentVersionTransition needs NoncurrentDays');
  const noncurrentDays = integerOf(element, 'NoncurrentDays');
  if (noncurrentDays < 0) {
    throw s3Error(
      'InvalidArgument',
      "'NoncurrentDays' for NoncurrentVersionTransition action must be a positive integer",
      {
        argumentName: 'NoncurrentDays',
      },
    );
  }
  return { noncurrentDays, newerNoncurrentVersions: newerNoncurrentVersionsOf(element), storageClass };
}

function storageClassOf(element: XmlObject): string {
  const storageClass = textOf(element, 'StorageClass');
  if (storageClass === undefined || !TRANSITION_STORAGE_CLASSES.includes(storageClass)) {
    throw malformed(`StorageClass must be one of ${TRANSITION_STORAGE_CLASSES.join(', ')}`);
  }
  return storageClass;
}

function newerNoncurrentVersionsOf(element: XmlObject): number | null {
  if (element.NewerNoncurrentVersions === undefined) return null;
  const count = integerOf(element, 'NewerNoncurrentVersions');
  if (count < 1 || count > LIMITS.lifecycleNewerNoncurrentVersionsMax) {
    throw s3Error(
      'InvalidArgument',
      `'NewerNoncurrentVersions' must be a positive integer of at most ${LIMITS.lifecycleNewerNoncurrentVersionsMax}`,
      { argumentName: 'NewerNoncurrentVersions' },
    );
  }
  return count;
}

function positiveDays(element: XmlObject, name: string, message: string): number {
  const days = integerOf(element, name);
  if (days < 1) throw s3Error('InvalidArgument', message, { argumentName: name });
  return days;
}

/** https://docs.aws.amazon.com/AmazonS3/latest/API/API_LifecycleExpiration.html: "The time is always midnight UTC." */
function midnightDate(element: XmlObject): Date {
  const text = textOf(element, 'Date')?.trim() ?? '';
  const ms = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(text)
    ? Date.parse(text)
    : Number.NaN;
  if (!Number.isFinite(ms)) throw malformed('Date must be an ISO 8601 date');
  if (ms % (24 * 60 * 60 * 1000) !== 0) {
    throw s3Error('InvalidArgument', "'Date' must be at midnight GMT", { argumentName: 'Date' });
  }
  return new Date(ms);
}

function sizeOf(element: XmlObject, name: string): number {
  const bytes = integerOf(element, name);
  if (bytes < 0 || bytes > LIMITS.lifecycleObjectSizeFilterMaxBytes) {
    throw s3Error(
      'InvalidArgument',
      `'${name}' must be between 0 and ${LIMITS.lifecycleObjectSizeFilterMaxBytes} bytes`,
      {
        argumentName: name,
      },
    );
  }
  return bytes;
}

function positiveSize(bytes: number): number {
  if (bytes < 1) {
    throw s3Error('InvalidArgument', "'ObjectSizeLessThan' must be greater than 0", {
      argumentName: 'ObjectSizeLessThan',
    });
  }
  return bytes;
}

/** An integer element; text that is not an integer violates the schema. */
function integerOf(element: XmlObject, name: string): number {
  const text = textOf(element, name)?.trim() ?? '';
  if (!/^-?\d{1,16}$/.test(text)) throw malformed(`${name} must be an integer`);
  return Number(text);
}

// ---- XML element access -----------------------------------------------------------------------

/**
 * The child elements of a container element, checked against the schema: only `allowed` names,
 * no text of its own (whitespace between elements aside). An empty element has no children.
 */
function elementsOf(value: XmlValue | undefined, name: string, allowed: readonly string[]): XmlObject {
  if (value === '') return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw malformed(`<${name}> must hold elements`);
  for (const [child, content] of Object.entries(value)) {
    if (child === '#text') {
      if (typeof content !== 'string' || content.trim() !== '') throw malformed(`<${name}> holds stray text`);
      continue;
    }
    if (!allowed.includes(child)) throw malformed(`<${name}> does not allow <${child}>`);
  }
  return value;
}

/** An element that may appear at most once. */
function single(parent: XmlObject, name: string): XmlValue {
  const value = parent[name];
  if (value === undefined) throw malformed(`<${name}> is missing`);
  if (Array.isArray(value)) throw malformed(`<${name}> appears more than once`);
  return value;
}

function textOf(parent: XmlObject, name: string): string | undefined {
  if (parent[name] === undefined) return undefined;
  const value = single(parent, name);
  if (typeof value !== 'string') throw malformed(`<${name}> must hold text`);
  return value;
}

function optional<T>(parent: XmlObject, name: string, parse: (value: XmlValue) => T): T | null {
  return parent[name] === undefined ? null : parse(single(parent, name));
}

function listOf(value: XmlValue | undefined): XmlValue[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

function filterTags(filter: LifecycleFilter): LifecycleTag[] {
  if (filter.kind === 'tag') return [filter.tag];
  if (filter.kind === 'and') return filter.tags;
  return [];
}

// ---- rendering --------------------------------------------------------------------------------

function renderRule(rule: LifecycleRule): XmlNode {
  const nodes: XmlNode[] = [['ID', rule.id]];
  if (rule.filter.kind === 'rulePrefix') nodes.push(['Prefix', rule.filter.prefix]);
  else nodes.push(['Filter', renderFilter(rule.filter)]);
  nodes.push(['Status', rule.status]);
  if (rule.expiration !== null) nodes.push(['Expiration', [renderExpiration(rule.expiration)]]);
  for (const transition of rule.transitions) {
    nodes.push([
      'Transition',
      [
        transition.when.kind === 'days'
          ? ['Days', transition.when.days]
          : ['Date', transition.when.date.toISOString()],
        ['StorageClass', transition.storageClass],
      ],
    ]);
  }
  for (const transition of rule.noncurrentVersionTransitions) {
    nodes.push([
      'NoncurrentVersionTransition',
      [
        ['NoncurrentDays', transition.noncurrentDays],
        ['StorageClass', transition.storageClass],
        ['NewerNoncurrentVersions', transition.newerNoncurrentVersions],
      ],
    ]);
  }
  if (rule.noncurrentVersionExpiration !== null) {
    nodes.push([
      'NoncurrentVersionExpiration',
      [
        ['NoncurrentDays', rule.noncurrentVersionExpiration.noncurrentDays],
        ['NewerNoncurrentVersions', rule.noncurrentVersionExpiration.newerNoncurrentVersions],
      ],
    ]);
  }
  if (rule.abortIncompleteMultipartUpload !== null) {
    nodes.push([
      'AbortIncompleteMultipartUpload',
      [['DaysAfterInitiation', rule.abortIncompleteMultipartUpload.daysAfterInitiation]],
    ]);
  }
  return ['Rule', nodes];
}

function renderFilter(filter: Exclude<LifecycleFilter, { kind: 'rulePrefix' }>): XmlNode[] {
  switch (filter.kind) {
    case 'all':
      return [];
    case 'prefix':
      return [['Prefix', filter.prefix]];
    case 'tag':
      return [renderTag(filter.tag)];
    case 'objectSizeGreaterThan':
      return [['ObjectSizeGreaterThan', filter.bytes]];
    case 'objectSizeLessThan':
      return [['ObjectSizeLessThan', filter.bytes]];
    case 'and':
      return [
        [
          'And',
          [
            ['Prefix', filter.prefix],
            ...filter.tags.map(renderTag),
            ['ObjectSizeGreaterThan', filter.objectSizeGreaterThan],
            ['ObjectSizeLessThan', filter.objectSizeLessThan],
          ],
        ],
      ];
    default:
      return assertNever(filter, 'lifecycle filter');
  }
}

function renderTag(tag: LifecycleTag): XmlNode {
  return [
    'Tag',
    [
      ['Key', tag.key],
      ['Value', tag.value],
    ],
  ];
}

function renderExpiration(expiration: LifecycleExpiration): XmlNode {
  switch (expiration.kind) {
    case 'days':
      return ['Days', expiration.days];
    case 'date':
      return ['Date', expiration.date.toISOString()];
    case 'expiredObjectDeleteMarker':
      return ['ExpiredObjectDeleteMarker', expiration.enabled];
    default:
      return assertNever(expiration, 'lifecycle expiration');
  }
}
