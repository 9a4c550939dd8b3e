export interface Tenant {
  id: string;
  name: string;
  createdAt: Date;
}

export type PrincipalKind = 'user' | 'service' | 'role';

export interface Principal {
  id: string;
  tenantId: string;
  kind: PrincipalKind;
  name: string;
  /** Tenant administrators may do everything within their tenant until policies land. */
  isTenantAdmin: boolean;
  createdAt: Date;
}

export type AccessKeyStatus = 'Active' | 'Inactive';

export interface AccessKeyRecord {
  accessKeyId: string;
  principalId: string;
  tenantId: string;
  /** The secret sealed by a SecretSealer (see docs/architecture.md); never plaintext at rest. */
  sealedSecret: Uint8Array;
  status: AccessKeyStatus;
  createdAt: Date;
  expiresAt: Date | null;
}
