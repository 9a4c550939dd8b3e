import type { AuditRecordKind } from './records.ts';

const DAY_MS = 86_400_000;

/**
 * Minimum retention per record kind, in days. The defaults meet Vietnam's Decree 53/2022/ND-CP
 * art. 26 (system logs kept at least 12 months) and Malaysia's PDPA data-breach notification
 * rules (breach records kept 2 years): request and key-use records 12 months + a margin, security
 * events (denials, operator access, approvals, seal and log-key events) 2 years. Operators may
 * lengthen any of them; shortening below these floors is refused by the config loader.
 */
export const DEFAULT_RETENTION_DAYS: Readonly<Record<AuditRecordKind, number>> = {
  request: 400,
  'authorization-denied': 731,
  'key-use': 400,
  'admin-change': 731,
  'operator-access': 731,
  'access-approval': 731,
  'residency-decision': 731,
  seal: 731,
  'log-key': 731,
};

export type RetentionDays = Readonly<Record<AuditRecordKind, number>>;

/** The instant before which a record may not be archived: nobody, not even the operator, may. */
export function retainUntilMs(kind: AuditRecordKind, recordedAtMs: number, days: RetentionDays): number {
  return recordedAtMs + days[kind] * DAY_MS;
}
