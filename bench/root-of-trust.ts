import { randomBytes } from 'node:crypto';
import { Pkcs11Root } from '../src/adapters/root-of-trust/pkcs11-root.ts';
import { SoftwareRoot, type RootOfTrust } from '../src/domain/kms/root-of-trust.ts';
import { createSoftHsmToken } from '../test/helpers/softhsm.ts';
import { formatTable } from './harness.ts';

/**
 * Root-of-trust throughput: one operation is a wrap and an unwrap of a 32-byte key. The software
 * root (AES-256-GCM in this process) is the ceiling; the PKCS#11 root runs the same operation
 * inside SoftHSM2 through koffi's async calls (four Cryptoki calls, each on a libuv worker thread).
 * Both at concurrency 1 and 16, for `durationMs` each, in the same run.
 */
export async function benchRootOfTrust(durationMs: number): Promise<string> {
  const token = await createSoftHsmToken({ label: 'sovra-bench' });
  const software = new SoftwareRoot();
  software.unsealWith(randomBytes(32));
  const hsm = new Pkcs11Root({
    tokenLabel: token.label,
    pin: token.pin,
    keyLabel: 'bench-root',
    createIfMissing: true,
  });
  try {
    await hsm.open();
    const rows: (string | number)[][] = [
      ['root of trust (wrap+unwrap, 32-byte key)', 'concurrency', 'ops/s', 'p50 ms', 'p99 ms'],
    ];
    for (const [name, root] of [
      ['software (sealed-shamir), ceiling', software],
      ['PKCS#11 on SoftHSM2', hsm],
    ] as const) {
      for (const concurrency of [1, 16]) {
        const result = await measure(root, concurrency, durationMs);
        rows.push([name, concurrency, result.opsPerSecond, result.p50Ms, result.p99Ms]);
      }
    }
    return formatTable(rows);
  } finally {
    await hsm.close();
    await software.close();
    await token.cleanup();
  }
}

async function measure(
  root: RootOfTrust,
  concurrency: number,
  durationMs: number,
): Promise<{ opsPerSecond: number; p50Ms: number; p99Ms: number }> {
  const aad = Buffer.from('tenant/key/version');
  const key = randomBytes(32);
  // Warm-up: sessions opened, code paths compiled.
  await Promise.all(
    Array.from({ length: concurrency }, async () => root.unwrap(await root.wrap(key, aad), aad)),
  );
  const latenciesMs: number[] = [];
  const started = performance.now();
  const deadline = started + durationMs;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        const begin = performance.now();
        const unwrapped = await root.unwrap(await root.wrap(key, aad), aad);
        if (!unwrapped.equals(key)) throw new Error('root of trust bench: round trip changed the key');
        latenciesMs.push(performance.now() - begin);
      }
    }),
  );
  const elapsedS = (performance.now() - started) / 1000;
  latenciesMs.sort((a, b) => a - b);
  const at = (fraction: number) =>
    latenciesMs[Math.min(latenciesMs.length - 1, Math.floor(latenciesMs.length * fraction))] ?? 0;
  return { opsPerSecond: latenciesMs.length / elapsedS, p50Ms: at(0.5), p99Ms: at(0.99) };
}
