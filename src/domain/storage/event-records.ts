import type { ObjectEvent } from './events.ts';

/**
 * The S3 event message structure
 * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html),
 * as Sovra stores it in the outbox and sends it to destinations.
 *
 * Sovra's choices where S3's fields name AWS things: `eventSource` stays `aws:s3` so that
 * consumers written for S3 accept the records unchanged; ARNs are Sovra's (`arn:sovra:s3:::bucket`);
 * principal ids are Sovra principal and tenant ids. The `sequencer` is the outbox position of the
 * event, as 16 upper-case hex digits: it increases with every change of one key (writers of a key
 * are serialised), so comparing two sequencers of a key as strings orders its events, which is
 * what S3 documents it for.
 */

/** Version of the outbox payload document: the record below without its sequencer. */
export const EVENT_RECORD_FORMAT = 1;
/**
 * Outbox payload format 2: a message complete as stored, sent unchanged. The lockbox's security
 * notifications (domain/lockbox/security-notifications.ts) are these; they carry their own version.
 */
export const OUTBOX_MESSAGE_FORMAT = 2;

export interface S3EventRecord {
  eventVersion: string;
  eventSource: 'aws:s3';
  awsRegion: string;
  /** ISO-8601 with milliseconds, UTC. */
  eventTime: string;
  /** Without the `s3:` prefix, e.g. `ObjectCreated:Put`. */
  eventName: string;
  userIdentity: { principalId: string };
  requestParameters: { sourceIPAddress: string };
  responseElements: { 'x-amz-request-id': string; 'x-amz-id-2': string };
  s3: {
    s3SchemaVersion: '1.0';
    configurationId: string;
    bucket: { name: string; ownerIdentity: { principalId: string }; arn: string };
    object: {
      /** URL-encoded as S3 does (application/x-www-form-urlencoded; `/` kept). */
      key: string;
      /** Present for object creations only, as in S3. */
      size?: number;
      eTag?: string;
      /** Present when the bucket has (or had) versioning. */
      versionId?: string;
      /** Added at delivery (see formatSequencer); absent from stored payloads. */
      sequencer?: string;
    };
  };
}

export interface EventRecordContext {
  region: string;
  configurationId: string;
  bucketOwnerId: string;
}

/** The record of one event for one notification configuration, without its sequencer. */
export function eventRecord(event: ObjectEvent, context: EventRecordContext): S3EventRecord {
  const created = event.name.startsWith('ObjectCreated:');
  const object: S3EventRecord['s3']['object'] = { key: encodeEventKey(event.key) };
  if (created) {
    object.size = event.sizeBytes;
    object.eTag = event.etag;
  }
  if (event.versionId !== null) object.versionId = event.versionId;
  return {
    // S3 sends lifecycle events as version 2.3 (compatible with 2.1) and everything else as 2.1.
    eventVersion: event.name.startsWith('LifecycleExpiration:') ? '2.3' : '2.1',
    eventSource: 'aws:s3',
    awsRegion: context.region,
    eventTime: event.time.toISOString(),
    eventName: event.name,
    userIdentity: { principalId: event.caller?.principalId ?? PLATFORM_PRINCIPAL },
    requestParameters: { sourceIPAddress: event.caller?.sourceIp ?? '' },
    responseElements: {
      'x-amz-request-id': event.caller?.requestId ?? '',
      'x-amz-id-2': event.caller?.requestId ?? '',
    },
    s3: {
      s3SchemaVersion: '1.0',
      configurationId: context.configurationId,
      bucket: {
        name: event.bucket,
        ownerIdentity: { principalId: context.bucketOwnerId },
        arn: `arn:sovra:s3:::${event.bucket}`,
      },
      object,
    },
  };
}

/** Who caused events that no caller did (lifecycle expiration), like S3's `s3.amazonaws.com`. */
export const PLATFORM_PRINCIPAL = 'sovra';

/**
 * The message a destination receives for one stored payload: `{"Records":[record]}` with the
 * sequencer taken from the outbox position (format 2: the payload itself). A payload of an unknown format means the outbox
 * holds something this code never wrote; that fails loudly rather than sending garbage.
 */
export function eventMessage(payload: { format: number; payload: string; seq: number }): string {
  if (payload.format === OUTBOX_MESSAGE_FORMAT) return payload.payload;
  if (payload.format !== EVENT_RECORD_FORMAT) {
    throw new Error(`outbox event ${payload.seq} has unknown payload format ${payload.format}`);
  }
  // Written by eventRecord through JSON.stringify; the format number is the shape's contract.
  const record = JSON.parse(payload.payload) as S3EventRecord;
  record.s3.object.sequencer = formatSequencer(payload.seq);
  return JSON.stringify({ Records: [record] });
}

export function formatSequencer(seq: number): string {
  return seq.toString(16).toUpperCase().padStart(16, '0');
}

/**
 * Object keys in event records are URL-encoded as S3 does: "red flower.jpg" becomes
 * "red+flower.jpg" (https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html).
 * That is form encoding of the UTF-8 bytes: letters, digits and `.-_*` stay, a space becomes
 * `+`, everything else `%XX`; `/` also stays, as in S3's records. Prefix and suffix filters are
 * written in this same encoding (https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-how-to-filtering.html)
 * and so are matched against it.
 */
export function encodeEventKey(key: string): string {
  let out = '';
  for (const byte of Buffer.from(key, 'utf8')) {
    if (KEPT_BYTES[byte] === 1) out += String.fromCharCode(byte);
    else if (byte === 0x20) out += '+';
    else out += PERCENT_ENCODED[byte];
  }
  return out;
}

const KEPT_BYTES = new Uint8Array(256);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-_*/')
  KEPT_BYTES[c.charCodeAt(0)] = 1;
const PERCENT_ENCODED = Array.from(
  { length: 256 },
  (_, byte) => `%${byte.toString(16).toUpperCase().padStart(2, '0')}`,
);
