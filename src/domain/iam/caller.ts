/** Who is asking, established by a protocol's authentication and carried into every domain call. */
export interface Caller {
  principalId: string;
  tenantId: string;
  isTenantAdmin: boolean;
  requestId: string;
  sourceIp: string;
  secureTransport: boolean;
}
