import { closeSync, existsSync, fsyncSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { Command, Option } from 'commander';
import { parseCanonicalRecord, recordLeaf } from '../domain/audit/records.ts';
import { storeLogSource, verifyLog, type VerificationReport } from '../domain/audit/log-verifier.ts';
import { pruneExpiredRecords, type RecordArchive } from '../domain/audit/retention-pruner.ts';
import { cosignCheckpoint, openCheckpoint } from '../domain/audit/tlog/checkpoint.ts';
import { hashLeaf } from '../domain/audit/tlog/hashing.ts';
import {
  formatVerifierKey,
  generateNoteKey,
  parseSignerKey,
  parseVerifierKey,
  type NoteVerifier,
} from '../domain/audit/tlog/note-keys.ts';
import { verifyConsistencyProof, verifyInclusionProof } from '../domain/audit/tlog/proof-verification.ts';
import { systemClock } from '../platform/clock.ts';
import { isSovraError } from '../platform/errors.ts';
import { openMetadataAndKeyStores } from '../server/metadata.ts';
import { AuditClient, AuditRequestError, type RecordsPage } from './audit-client.ts';
import { readCredentialsFile } from './operator.ts';
import { failCommand, storeCommand } from './store-command.ts';

const DEFAULT_ENDPOINT = 'http://127.0.0.1:9000';
const DEFAULT_REGION = 'us-east-1';
/** Exit code when verification finds the log altered (usage errors are 2). */
const EXIT_ALTERED = 1;

/**
 * `sovra audit …`: verify the whole log (from the database, or from its served tiles as any
 * outside auditor would) and query a tenant's records with proof that they are in the signed log.
 */
export function auditCommand(env: Record<string, string | undefined>): Command {
  const audit = new Command('audit').description('verify the audit log and read a tenant’s audit records');
  const endpointOption = () =>
    new Option('--endpoint <url>', 'server URL [env SOVRA_ENDPOINT]').default(
      env.SOVRA_ENDPOINT ?? DEFAULT_ENDPOINT,
    );
  const regionOption = () =>
    new Option('--region <region>', 'signing region [env SOVRA_REGION]').default(
      env.SOVRA_REGION ?? DEFAULT_REGION,
    );

  const verify = storeCommand(env, {
    name: 'verify',
    description:
      'recompute every hash of the log and check every checkpoint signature; names the first entry that does not match (exit 1)',
    storesUnused: (options) => typeof options.fromTiles === 'string',
    async run(config, clock, options) {
      const pinned = (options.vkey as unknown as string[] | undefined) ?? [];
      let report: VerificationReport;
      if (typeof options.fromTiles === 'string') {
        const credentials =
          typeof options.credentials === 'string' ? readCredentialsFile(options.credentials) : null;
        const client = new AuditClient(options.fromTiles, credentials, config.region);
        const keys = pinned.length > 0 ? pinned : await client.verifierKeys();
        report = await verifyLog(client.tilesSource(), keys.map(parseVerifierKey));
      } else {
        const { metadata, auditLog } = openMetadataAndKeyStores(config, clock);
        try {
          await metadata.migrate();
          const keys =
            pinned.length > 0
              ? pinned
              : (await auditLog.logKeys()).map((key) =>
                  formatVerifierKey(
                    key.algorithm === 'ed25519' ? 'ed25519' : 'ml-dsa-65',
                    key.name,
                    key.publicKey,
                  ),
                );
          report = await verifyLog(storeLogSource(auditLog), keys.map(parseVerifierKey));
        } finally {
          await metadata.close();
        }
      }
      process.stdout.write(`${JSON.stringify(report)}\n`);
      if (!report.ok) {
        process.stderr.write(
          `sovra: the audit log does not verify: ${report.problem?.reason ?? 'unknown'}\n`,
        );
        process.exitCode = EXIT_ALTERED;
      }
    },
  })
    .option(
      '--from-tiles <url>',
      'verify the log a server serves (c2sp.org/tlog-tiles), not the local database',
    )
    .option('--credentials <file>', 'with --from-tiles: JSON credentials of an authorized log reader')
    .option(
      '--vkey <vkey...>',
      'the log’s verifier keys to trust (default: the store’s, or the server’s /vkeys)',
    );
  audit.addCommand(verify);

  audit
    .command('query')
    .description('print a tenant’s audit records as JSON lines; --verify checks each is in the signed log')
    .addOption(endpointOption())
    .addOption(regionOption())
    .requiredOption('--credentials <file>', 'JSON credentials of a tenant administrator')
    .option('--tenant <id>', 'another tenant (authorized log readers only)')
    .option('--from <iso8601>', 'records at or after this time')
    .option('--to <iso8601>', 'records before this time')
    .option('--principal <id>', 'only this principal’s records')
    .option('--action <name>', 'only this action, e.g. s3:GetObject')
    .option('--resource <prefix>', 'only resources starting with this ARN prefix')
    .option('--result <success|failure|denied>', 'only this result')
    .option('--limit <n>', 'at most this many records', '1000')
    .option('--verify', 'check each record’s inclusion proof against the signed checkpoint')
    .option(
      '--vkey <vkey...>',
      'with --verify: the log’s verifier keys to trust (default: the server’s /vkeys)',
    )
    .action(async (options: Record<string, string | string[] | boolean | undefined>) => {
      try {
        const client = new AuditClient(
          String(options.endpoint),
          readCredentialsFile(String(options.credentials)),
          String(options.region),
        );
        const verifiers =
          options.verify === true
            ? (Array.isArray(options.vkey) ? options.vkey : await client.verifierKeys()).map(parseVerifierKey)
            : [];
        const query: Record<string, string> = {};
        for (const name of ['tenant', 'from', 'to', 'principal', 'action', 'resource', 'result'] as const) {
          const value = options[name];
          if (typeof value === 'string') query[name] = value;
        }
        if (options.verify === true) query.proofs = 'true';
        const wanted = Number(options.limit);
        if (!Number.isSafeInteger(wanted) || wanted < 1)
          return failCommand('--limit must be a positive integer');
        let printed = 0;
        let after: number | null = -1;
        while (after !== null && printed < wanted) {
          const page: RecordsPage = await client.records({
            ...query,
            ...(after >= 0 ? { after: String(after) } : {}),
            limit: String(Math.min(1000, wanted - printed)),
          });
          for (const disclosed of page.records) {
            const verified =
              options.verify === true ? verifyDisclosed(disclosed, page.checkpoint, verifiers) : undefined;
            const record =
              disclosed.record === null ? null : parseCanonicalRecord(Buffer.from(disclosed.record, 'utf8'));
            process.stdout.write(`${JSON.stringify({ leafIndex: disclosed.leafIndex, record, verified })}\n`);
            printed += 1;
          }
          after = page.nextAfter;
        }
      } catch (error) {
        if (error instanceof AuditRequestError || isSovraError(error)) return failCommand(error.message);
        throw error;
      }
    });
  audit.addCommand(
    storeCommand(env, {
      name: 'prune',
      description:
        'archive the records whose minimum retention has ended to a file, then remove them from the database (their hashes stay)',
      async run(config, clock, options) {
        if (typeof options.archive !== 'string') return failCommand('--archive <file> is required');
        const archivePath = options.archive;
        const { metadata, auditLog } = openMetadataAndKeyStores(config, clock);
        try {
          await metadata.migrate();
          const result = await pruneExpiredRecords(auditLog, jsonLinesArchive(archivePath), clock.nowMs());
          process.stdout.write(`${JSON.stringify(result)}\n`);
        } finally {
          await metadata.close();
        }
      },
    }).option(
      '--archive <file>',
      'JSON lines file the archived records are appended to (fsynced before removal)',
    ),
  );

  audit
    .command('witness-key')
    .description(
      'make a witness key pair (c2sp.org/tlog-cosignature, Ed25519): writes the private key, prints the verifier key',
    )
    .requiredOption('--name <name>', 'the witness name, e.g. witness.regulator.example')
    .requiredOption('--out <file>', 'the private key file to create (0600, refused if it exists)')
    .action((options: { name: string; out: string }) => {
      try {
        const key = generateNoteKey('cosignature/v1', options.name);
        writeFileSync(options.out, `${key.signerKey}\n`, { mode: 0o600, flag: 'wx' });
        process.stdout.write(`${key.verifierKey}\n`);
      } catch (error) {
        if (isSovraError(error) || (error as NodeJS.ErrnoException).code === 'EEXIST') {
          return failCommand((error as Error).message);
        }
        throw error;
      }
    });

  audit
    .command('cosign')
    .description(
      'act as a witness: check the latest checkpoint is signed by the log and consistent with the last one this witness cosigned, then cosign it',
    )
    .addOption(endpointOption())
    .addOption(regionOption())
    .requiredOption('--credentials <file>', 'JSON credentials of an authorized log reader')
    .requiredOption('--witness-key <file>', 'the witness private key file (from `sovra audit witness-key`)')
    .requiredOption(
      '--state <file>',
      'where the witness keeps the last checkpoint it cosigned (size and root)',
    )
    .option('--vkey <vkey...>', 'the log’s verifier keys to trust (default: the server’s /vkeys)')
    .action(async (options: Record<string, string | string[] | undefined>) => {
      try {
        const client = new AuditClient(
          String(options.endpoint),
          readCredentialsFile(String(options.credentials)),
          String(options.region),
        );
        const logKeys = Array.isArray(options.vkey) ? options.vkey : await client.verifierKeys();
        const verifiers = logKeys.map(parseVerifierKey);
        const witness = parseSignerKey(readFileSync(String(options.witnessKey), 'utf8').trim(), systemClock);
        const note = await client.checkpoint();
        const { checkpoint } = openCheckpoint(note, verifiers);
        const statePath = String(options.state);
        const previous = existsSync(statePath)
          ? (JSON.parse(readFileSync(statePath, 'utf8')) as { treeSize: number; rootHash: string })
          : null;
        if (previous !== null) {
          const previousRoot = Buffer.from(previous.rootHash, 'base64');
          if (checkpoint.treeSize < previous.treeSize) {
            return failCommand(
              `the log went back from size ${previous.treeSize} to ${checkpoint.treeSize}: refusing`,
            );
          }
          if (checkpoint.treeSize === previous.treeSize && !checkpoint.rootHash.equals(previousRoot)) {
            return failCommand(
              `two different roots for size ${checkpoint.treeSize}: the log forked; refusing`,
            );
          }
          if (checkpoint.treeSize > previous.treeSize && previous.treeSize > 0) {
            verifyConsistencyProof({
              oldSize: previous.treeSize,
              newSize: checkpoint.treeSize,
              oldRootHash: previousRoot,
              newRootHash: checkpoint.rootHash,
              proof: await client.consistencyProof(previous.treeSize, checkpoint.treeSize),
            });
          }
        }
        const { signatureLine } = await cosignCheckpoint(note, verifiers, witness);
        const accepted = await client.submitCosignature(checkpoint.treeSize, signatureLine);
        writeFileSync(
          statePath,
          `${JSON.stringify({ treeSize: checkpoint.treeSize, rootHash: checkpoint.rootHash.toString('base64') })}\n`,
        );
        process.stdout.write(
          `${JSON.stringify({ treeSize: checkpoint.treeSize, cosigned: accepted === 1 })}\n`,
        );
      } catch (error) {
        if (error instanceof AuditRequestError || isSovraError(error)) return failCommand(error.message);
        throw error;
      }
    });
  return audit;
}

/**
 * How a tenant proves one of its records is in the signed log: recompute the leaf from the
 * record and its salt, verify the checkpoint's signatures, then the RFC 9162 inclusion proof of
 * that leaf against the checkpoint's root. Returns 'in-log', 'not-yet-checkpointed' or throws.
 */
export function verifyDisclosed(
  disclosed: {
    leafIndex: number;
    record: string | null;
    salt: string | null;
    leaf: string;
    inclusionProof?: string[];
  },
  checkpointNote: string | null,
  verifiers: readonly NoteVerifier[],
): 'in-log' | 'not-yet-checkpointed' | 'archived' {
  if (disclosed.record === null || disclosed.salt === null) return 'archived';
  const leaf = recordLeaf(Buffer.from(disclosed.record, 'utf8'), Buffer.from(disclosed.salt, 'base64'));
  if (!leaf.equals(Buffer.from(disclosed.leaf, 'base64'))) {
    throw new AuditRequestError(
      'VerificationFailed',
      `record ${disclosed.leafIndex} does not match its leaf`,
      null,
    );
  }
  if (checkpointNote === null || disclosed.inclusionProof === undefined) return 'not-yet-checkpointed';
  const { checkpoint } = openCheckpoint(checkpointNote, verifiers);
  verifyInclusionProof({
    leafIndex: disclosed.leafIndex,
    treeSize: checkpoint.treeSize,
    leafHash: hashLeaf(leaf),
    proof: disclosed.inclusionProof.map((hash) => Buffer.from(hash, 'base64')),
    rootHash: checkpoint.rootHash,
  });
  return 'in-log';
}

/** Appends records as JSON lines (leaf index, record, salt) and fsyncs before they are removed. */
function jsonLinesArchive(path: string): RecordArchive {
  return {
    keep(records) {
      const lines = records.map((record) =>
        JSON.stringify({
          leafIndex: record.index,
          record: record.canonical?.toString('utf8') ?? null,
          salt: record.salt?.toString('base64') ?? null,
          leaf: record.leaf.toString('base64'),
        }),
      );
      const fd = openSync(path, 'a', 0o600);
      try {
        writeSync(fd, `${lines.join('\n')}\n`);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      return Promise.resolve();
    },
  };
}
