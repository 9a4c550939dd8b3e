import {
  LIFECYCLE_ACTION_KINDS,
  type LifecycleActionKind,
  type LifecycleActionRecord,
  type NewLifecycleAction,
} from '../../domain/storage/ports.ts';
import type { SqlRow, SqlValue } from './driver.ts';
import { keyBytes, keyText } from './object-keys.ts';
import { bytes, integer, text } from './rows.ts';

/** Rows of the lifecycle_actions table (migration 4): the durable record of lifecycle's deletions. */

export const LIFECYCLE_ACTION_COLUMNS =
  'occurred_at_ms, bucket, object_key, action, rule_id, version_id, upload_id, size_bytes';

export function lifecycleActionParams(action: NewLifecycleAction): SqlValue[] {
  return [
    action.occurredAt.getTime(),
    action.bucket,
    keyBytes(action.key),
    action.action,
    action.ruleId,
    action.versionId,
    action.uploadId,
    action.sizeBytes,
  ];
}

export function decodeLifecycleAction(row: SqlRow): LifecycleActionRecord {
  return {
    seq: integer(row, 'seq'),
    occurredAt: new Date(integer(row, 'occurred_at_ms')),
    bucket: text(row, 'bucket'),
    key: keyText(bytes(row, 'object_key')),
    action: actionKind(row.action),
    ruleId: text(row, 'rule_id'),
    versionId: row.version_id === null ? null : text(row, 'version_id'),
    uploadId: row.upload_id === null ? null : text(row, 'upload_id'),
    sizeBytes: integer(row, 'size_bytes'),
  };
}

function actionKind(value: unknown): LifecycleActionKind {
  const match = LIFECYCLE_ACTION_KINDS.find((kind) => kind === value);
  if (match === undefined) throw new Error(`metadata column action holds an unexpected ${typeof value}`);
  return match;
}
