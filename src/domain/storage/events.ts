import type { Caller } from '../iam/caller.ts';
import type { MetadataTx } from './ports.ts';

/**
 * S3 event types Sovra emits (https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-how-to-event-types-and-destinations.html),
 * without the `s3:` prefix.
 */
export type ObjectEventName =
  | 'ObjectCreated:Put'
  | 'ObjectCreated:Post'
  | 'ObjectCreated:Copy'
  | 'ObjectCreated:CompleteMultipartUpload'
  | 'ObjectRemoved:Delete'
  | 'ObjectRemoved:DeleteMarkerCreated'
  | 'LifecycleExpiration:Delete'
  | 'LifecycleExpiration:DeleteMarkerCreated';

/** One change to an object, recorded in the same transaction as the change itself. */
export interface ObjectEvent {
  name: ObjectEventName;
  bucket: string;
  key: string;
  /** S3 version id (null for unversioned buckets' deletes). */
  versionId: string | null;
  sizeBytes: number;
  etag: string;
  /** Monotonic per key: the metadata row sequence (S3's `sequencer`). */
  sequencer: number;
  time: Date;
  /** Who caused it; null for the platform itself (lifecycle). */
  caller: Caller | null;
}

/**
 * Receives object events inside the metadata transaction that makes the change, so that an
 * event exists if and only if the change committed (the transactional outbox pattern).
 */
export interface ObjectEventRecorder {
  record(tx: MetadataTx, event: ObjectEvent): Promise<void>;
}
