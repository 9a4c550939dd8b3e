/**
 * Residency decisions: where a tenant's data may be placed. Sovra places every bucket in the
 * region its endpoint serves, inside the platform's home jurisdiction, on the platform's own
 * storage; a CreateBucket whose LocationConstraint names another region is refused
 * (InvalidLocationConstraint, as a regional S3 endpoint answers). Each such decision, allowed or
 * refused, goes to the audit log as a `residency-decision` record with the region and
 * jurisdiction (docs/reference/audit-log-formats.md), so a tenant and an auditor see where each
 * bucket was pinned and every placement that was refused. The sovereignty firewall's decisions
 * (placing permitted data on a commercial backend) will be recorded the same way once it exists.
 */
export interface PlacementDecision {
  tenantId: string;
  principalId: string;
  bucket: string;
  /** The LocationConstraint the request named; null when it named none (the served region). */
  requestedRegion: string | null;
  /** The region the platform serves, where the bucket is (or would have been) placed. */
  region: string;
  /** The platform's home jurisdiction (ISO 3166-1 alpha-2, or 'unknown'). */
  jurisdiction: string;
  allowed: boolean;
  /** The requested label of the bucket (compact form), null for the lowest level. */
  classification: string | null;
  requestId: string;
  sourceIp: string | null;
  sourceJurisdiction: string;
  timeMs: number;
}

/** Where placement decisions are recorded (the audit log); durable when the promise resolves. */
export interface PlacementDecisionLog {
  record(decision: PlacementDecision): Promise<void>;
}
