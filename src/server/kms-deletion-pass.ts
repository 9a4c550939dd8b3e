import { KeyRing } from '../domain/kms/key-ring.ts';
import type { Clock } from '../platform/clock.ts';
import type { ServerConfig } from '../platform/config.ts';
import { openMetadataAndKeyStores } from './metadata.ts';

/**
 * Completes the KMS key deletions due at `clock.now()` on the configured stores, beside a running
 * server or instead of it (`sovra admin kms-maintenance`). Destroying a key needs no root of
 * trust: the wrapped material is deleted, so everything under the key (object data keys
 * included) becomes unrecoverable — crypto-shredding. A running server notices within
 * LIMITS.kmsKeyRecordCacheTtlMs.
 */
export async function runKeyDeletionPass(
  config: ServerConfig,
  clock: Clock,
): Promise<{ keysDeleted: number; versionsDeleted: number }> {
  const { metadata, keys } = openMetadataAndKeyStores(config, clock);
  try {
    await metadata.migrate();
    const keyRing = new KeyRing({ store: keys, root: null, clock, region: config.region });
    return await keyRing.completeDueDeletions(clock.now());
  } finally {
    await metadata.close();
  }
}
