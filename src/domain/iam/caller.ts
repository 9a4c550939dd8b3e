/** Who is asking, established by a protocol's authentication and carried into every domain call. */
export interface Caller {
  principalId: string;
  tenantId: string;
  isTenantAdmin: boolean;
  requestId: string;
  sourceIp: string;
  secureTransport: boolean;
  /**
   * A platform operator's just-in-time access (the lockbox): the approval the request names and
   * the operator's signed attestation, both re-checked at every use. Absent for everyone else.
   */
  operatorApproval?: { approvalId: string; attestationNote: string | null };
}
