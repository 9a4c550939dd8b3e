import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Debian's softhsm2 package (installed by scripts/system-deps.sh). */
export const SOFTHSM2_MODULE = '/usr/lib/softhsm/libsofthsm2.so';
const SOFTHSM2_UTIL = '/usr/bin/softhsm2-util';

export interface SoftHsmToken {
  /** The softhsm2.conf of this token's private token directory. */
  conf: string;
  label: string;
  pin: string;
  soPin: string;
  modulePath: string;
  /** Initialises one more token in the same token directory (before the module is initialised). */
  addToken(label: string): Promise<void>;
  /** Removes the token directory and restores SOFTHSM2_CONF. */
  cleanup(): Promise<void>;
}

/**
 * A freshly initialised SoftHSM2 token in a private token directory under a temp dir. SoftHSM2
 * reads SOFTHSM2_CONF from the process environment when C_Initialize runs, so this sets it for
 * the current process: create the token before the first PKCS#11 root opens, and keep one token
 * directory per test process. When softhsm2 is not installed this throws, so the tests fail
 * instead of passing without having run.
 */
export async function createSoftHsmToken(
  options: { label?: string; pin?: string; soPin?: string } = {},
): Promise<SoftHsmToken> {
  requireSoftHsm();
  const directory = await mkdtemp(join(tmpdir(), 'sovra-softhsm-'));
  const tokenDir = join(directory, 'tokens');
  await mkdir(tokenDir, { mode: 0o700 });
  const conf = join(directory, 'softhsm2.conf');
  await writeFile(
    conf,
    [`directories.tokendir = ${tokenDir}`, 'objectstore.backend = file', 'log.level = ERROR', ''].join('\n'),
    { mode: 0o600 },
  );
  const label = options.label ?? 'sovra-test';
  const pin = options.pin ?? '1234-user';
  const soPin = options.soPin ?? '5678-so';
  const initToken = async (tokenLabel: string) => {
    await run(
      SOFTHSM2_UTIL,
      ['--init-token', '--free', '--label', tokenLabel, '--pin', pin, '--so-pin', soPin],
      { env: { ...process.env, SOFTHSM2_CONF: conf } },
    );
  };
  await initToken(label);
  const previousConf = process.env.SOFTHSM2_CONF;
  process.env.SOFTHSM2_CONF = conf;
  return {
    conf,
    label,
    pin,
    soPin,
    modulePath: SOFTHSM2_MODULE,
    addToken: initToken,
    cleanup: async () => {
      if (previousConf === undefined) delete process.env.SOFTHSM2_CONF;
      else process.env.SOFTHSM2_CONF = previousConf;
      await rm(directory, { recursive: true, force: true });
    },
  };
}

function requireSoftHsm(): void {
  for (const path of [SOFTHSM2_UTIL, SOFTHSM2_MODULE]) {
    try {
      accessSync(path, constants.R_OK);
    } catch {
      throw new Error(
        `SoftHSM2 is required for the PKCS#11 tests but ${path} is missing; install the Debian package softhsm2 (bash scripts/system-deps.sh does)`,
      );
    }
  }
}
