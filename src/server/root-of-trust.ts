import { openPkcs11Root } from '../adapters/root-of-trust/pkcs11-root.ts';
import { localRootKeyPath, openOrCreateLocalRootKey } from '../adapters/root-of-trust/local-root-key-file.ts';
import { SealRecordFile, sealRecordPath } from '../adapters/root-of-trust/seal-record-file.ts';
import { SoftwareRoot, type RootOfTrust } from '../domain/kms/root-of-trust.ts';
import { ShamirSeal, type SealEvent } from '../domain/kms/seal.ts';
import { assertNever } from '../platform/errors.ts';
import type { Clock } from '../platform/clock.ts';
import type { ServerConfig } from '../platform/config.ts';
import type { Logger } from '../platform/logger.ts';

export interface OpenedRootOfTrust {
  /** What key services wrap under; null when none is configured. */
  root: RootOfTrust | null;
  /** Unseal progress and sealing, for the operator endpoints; only for the sealed software root. */
  seal: ShamirSeal | null;
}

/**
 * Builds the configured root of trust. The sealed software root always starts sealed: its key
 * exists only as custodians' shares, so a restart (or a crash) seals it.
 */
export async function openRootOfTrust(
  config: ServerConfig,
  log: Logger,
  clock: Clock,
): Promise<OpenedRootOfTrust> {
  const kind = config.rootOfTrust.kind;
  switch (kind) {
    case 'none':
      log.warn(
        { rootOfTrust: kind },
        'no root of trust: objects are stored WITHOUT encryption at rest and the KMS is unavailable (tests and benchmarks only)',
      );
      return { root: null, seal: null };
    case 'local-key': {
      // Unsealed from start to stop by a key file beside the data: encryption at rest works out of
      // the box, but whoever copies the whole data directory has the key too.
      const path = localRootKeyPath(config.dataDir);
      const { key, created } = openOrCreateLocalRootKey(path);
      const root = new SoftwareRoot();
      root.unsealWith(key);
      log.warn(
        { rootOfTrust: kind, rootKeyFile: path, created },
        'root of trust is a local key file beside the data: NOT FOR PRODUCTION — use --root-of-trust sealed-shamir or pkcs11',
      );
      return { root, seal: null };
    }
    case 'sealed-shamir': {
      const root = new SoftwareRoot();
      const records = new SealRecordFile(sealRecordPath(config.dataDir));
      const seal = new ShamirSeal({ root, records, clock, events: logSealEvent(log) });
      // A damaged seal record stops the start here rather than at the first custodian's share.
      const status = await seal.status();
      if (status.initialized) {
        log.info(
          { rootOfTrust: kind, sealed: true, threshold: status.threshold, shares: status.shares },
          'root of trust is sealed: a quorum of key custodians must unseal it (sovra operator unseal)',
        );
      } else {
        log.warn(
          { rootOfTrust: kind, sealRecord: records.location },
          'root of trust is not initialised: run `sovra operator init` against the data directory',
        );
      }
      return { root, seal };
    }
    case 'pkcs11': {
      // Logged in to the HSM from start to stop: unsealed while the server runs. The root key is
      // never created here (a typo in a label must not silently start a new key hierarchy).
      const settings = config.rootOfTrust;
      const root = await openPkcs11Root(settings);
      log.info(
        {
          rootOfTrust: kind,
          module: settings.modulePath,
          token: settings.tokenLabel,
          key: settings.keyLabel,
        },
        'root of trust: logged in to the HSM; the root key stays inside the token',
      );
      return { root, seal: null };
    }
    default:
      return assertNever(kind, 'root of trust');
  }
}

/** Seal decisions go to the log for now (the audit log will take them); they never hold secrets. */
function logSealEvent(log: Logger): (event: SealEvent) => void {
  return (event) => {
    const fields = { seal: event };
    switch (event.event) {
      case 'unseal-share-accepted':
        log.info(fields, `unseal progress ${event.progress} of ${event.threshold}`);
        return;
      case 'unseal-share-refused':
        log.warn(fields, `unseal share refused (${event.reason})`);
        return;
      case 'unsealed':
        log.info(fields, 'root of trust unsealed by a quorum of key custodians');
        return;
      case 'unseal-failed':
        log.warn(fields, 'unseal failed: the shares do not rebuild the root key; progress reset');
        return;
      case 'unseal-reset':
        log.info(fields, `unseal progress discarded (${event.reason})`);
        return;
      case 'sealed':
        log.info(fields, event.wasSealed ? 'seal requested; already sealed' : 'root of trust sealed');
        return;
      default:
        assertNever(event, 'seal event');
    }
  };
}
