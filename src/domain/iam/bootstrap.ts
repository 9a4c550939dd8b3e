import { randomBytes } from 'node:crypto';
import type { Clock } from '../../platform/clock.ts';
import { randomHexId } from '../../platform/ids.ts';
import type { MetadataStore } from '../storage/ports.ts';
import { accessKeySecretContext, type SecretSealer } from './credentials.ts';
import type { AccessKeyRecord, Principal, Tenant } from './types.ts';

/** The platform operator's own tenant, made on first start; its administrators operate the platform. */
export const ROOT_TENANT_ID = 'root';

const ACCESS_KEY_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** 20-character access key ids in the shape AWS tools expect (upper-case, prefix names the issuer). */
export function newAccessKeyId(): string {
  const bytes = randomBytes(16);
  let id = 'SVRA';
  for (let i = 0; i < 16; i++) id += ACCESS_KEY_ALPHABET[bytes[i]! & 31];
  return id;
}

/** 40-character secrets with 240 bits of entropy. */
export function newSecretAccessKey(): string {
  return randomBytes(30).toString('base64').replace(/\+/g, 'A').replace(/\//g, 'B');
}

export interface IssuedAccessKey {
  accessKeyId: string;
  secretAccessKey: string;
}

export function sealAccessKey(
  sealer: SecretSealer,
  principal: Principal,
  issued: IssuedAccessKey,
  now: Date,
  expiresAt: Date | null,
): AccessKeyRecord {
  return {
    accessKeyId: issued.accessKeyId,
    principalId: principal.id,
    tenantId: principal.tenantId,
    sealedSecret: sealer.seal(
      Buffer.from(issued.secretAccessKey, 'utf8'),
      accessKeySecretContext(issued.accessKeyId),
    ),
    status: 'Active',
    createdAt: now,
    expiresAt,
  };
}

export interface BootstrapResult {
  tenant: Tenant;
  principal: Principal;
  credentials: IssuedAccessKey;
}

/**
 * First start: creates the root tenant, its administrator and one access key. Returns null when
 * the installation is already bootstrapped (the check and the inserts share one transaction).
 */
export async function bootstrapRootTenant(
  metadata: MetadataStore,
  sealer: SecretSealer,
  clock: Clock,
): Promise<BootstrapResult | null> {
  return metadata.transaction(async (tx) => {
    if ((await tx.getTenant(ROOT_TENANT_ID)) !== null) return null;
    const now = clock.now();
    const tenant: Tenant = { id: ROOT_TENANT_ID, name: ROOT_TENANT_ID, createdAt: now };
    const principal: Principal = {
      id: `user-${randomHexId(8)}`,
      tenantId: tenant.id,
      kind: 'user',
      name: 'admin',
      isTenantAdmin: true,
      createdAt: now,
    };
    const credentials = { accessKeyId: newAccessKeyId(), secretAccessKey: newSecretAccessKey() };
    await tx.insertTenant(tenant);
    await tx.insertPrincipal(principal);
    await tx.insertAccessKey(sealAccessKey(sealer, principal, credentials, now, null));
    return { tenant, principal, credentials };
  });
}
