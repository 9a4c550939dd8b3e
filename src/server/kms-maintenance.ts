import type { KeyRing } from '../domain/kms/key-ring.ts';
import type { RootOfTrust } from '../domain/kms/root-of-trust.ts';
import type { Clock } from '../platform/clock.ts';
import { LIMITS } from '../platform/limits.ts';
import type { Logger } from '../platform/logger.ts';

/**
 * The key ring's background work in the server: every LIMITS.kmsMaintenanceIntervalMs a pass
 * destroys keys whose deletion date has passed and rotates keys whose automatic rotation is due
 * (KeyRing.runMaintenance, which tests drive with their own clock); every second, unwrapped key
 * material is dropped if the root of trust has been sealed since, even when no request comes.
 */
export function startKmsMaintenance(options: {
  keyRing: KeyRing;
  root: RootOfTrust | null;
  clock: Clock;
  log: Logger;
}): { stop(): Promise<void> } {
  const { keyRing, root, clock, log } = options;
  let running: Promise<void> | null = null;
  const pass = () => {
    running ??= keyRing
      .runMaintenance(clock.now())
      .then((report) => {
        if (report.keysDeleted > 0 || report.keysRotated > 0)
          log.info({ kms: report }, 'KMS maintenance pass');
      })
      .catch((error: unknown) => log.warn({ err: error }, 'KMS maintenance pass failed'))
      .finally(() => {
        running = null;
      });
  };
  const passes = setInterval(pass, LIMITS.kmsMaintenanceIntervalMs);
  passes.unref();
  const firstPass = setTimeout(pass, LIMITS.kmsMaintenanceFirstPassDelayMs);
  firstPass.unref();
  const sealWatch = setInterval(() => {
    if (root !== null && root.state() !== 'unsealed') keyRing.forgetMaterial();
  }, LIMITS.kmsSealCheckIntervalMs);
  sealWatch.unref();
  return {
    stop: async () => {
      clearInterval(passes);
      clearTimeout(firstPass);
      clearInterval(sealWatch);
      await running;
      keyRing.forgetMaterial();
    },
  };
}
