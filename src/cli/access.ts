import { readFileSync, writeFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { generateNoteKey, parseSignerKey } from '../domain/audit/tlog/note-keys.ts';
import { inspectAttestation, signAttestation } from '../domain/lockbox/attestation.ts';
import {
  signAttestationRevocation,
  type RevokedAttestations,
} from '../domain/lockbox/attestation-revocation.ts';
import { ACCESS_REQUEST_STATUSES } from '../domain/lockbox/access-request.ts';
import { LIST_PAGE_MAX, REVOCATION_LIST_PAGE_MAX } from '../domain/lockbox/limits.ts';
import { systemClock } from '../platform/clock.ts';
import { isSovraError } from '../platform/errors.ts';
import { AccessClient, AccessRequestError, type AccessDecision } from './access-client.ts';
import { OperatorRequestError } from './operator-client.ts';
import { readCredentialsFile } from './operator.ts';
import { failCommand } from './store-command.ts';

const DEFAULT_ENDPOINT = 'http://127.0.0.1:9000';
const DEFAULT_REGION = 'us-east-1';

type Options = Record<string, string | string[] | boolean | undefined>;

/**
 * `sovra access …`: operator access approval (the lockbox). Operators file requests with their
 * security office's attestation; the tenant's administrators list, approve, deny, revoke and
 * acknowledge; a second operator confirms break-glass requests. `attest`, `attestation-key` and
 * `revoke-attestation` act as a small security office (tests and small deployments). Output is JSON.
 */
export function accessCommand(env: Record<string, string | undefined>): Command {
  const access = new Command('access').description(
    'operator access approval: request, list, approve, deny, revoke, confirm (break-glass) and acknowledge access to tenant data; where the tenant’s security notifications go',
  );
  const endpointCommand = (name: string, description: string, parent: Command = access) =>
    parent
      .command(name)
      .description(description)
      .addOption(
        new Option('--endpoint <url>', 'server URL [env SOVRA_ENDPOINT]').default(
          env.SOVRA_ENDPOINT ?? DEFAULT_ENDPOINT,
        ),
      )
      .addOption(
        new Option('--region <region>', 'signing region [env SOVRA_REGION]').default(
          env.SOVRA_REGION ?? DEFAULT_REGION,
        ),
      );
  const apiCommand = (name: string, description: string, parent: Command = access) =>
    endpointCommand(name, description, parent).requiredOption(
      '--credentials <file>',
      'JSON credentials (accessKeyId, secretAccessKey; mode 0600)',
    );

  apiCommand('request', 'file an access request to a tenant’s data (platform operators, with an attestation)')
    .requiredOption('--tenant <id>', 'the tenant whose data is concerned')
    .requiredOption('--bucket <name>', 'the bucket')
    .option('--prefix <prefix>', 'only keys under this prefix')
    .option('--kms-key <id>', 'the KMS key id kms: actions may use')
    .requiredOption('--action <action...>', 'IAM actions, e.g. s3:GetObject s3:ListBucket kms:Decrypt')
    .requiredOption('--duration <seconds>', 'how long the access lasts once granted')
    .requiredOption('--justification <text>', 'why the access is needed (shown to the tenant)')
    .requiredOption('--ticket <ref>', 'the incident or change ticket')
    .requiredOption(
      '--attestation <file>',
      'the attestation note from your security office (`sovra access attest`)',
    )
    .option('--break-glass', 'emergency access: a second operator confirms instead of the tenant approving')
    .action(async (options: Options) => {
      await run(async () => {
        const duration = Number(options.duration);
        if (!Number.isSafeInteger(duration) || duration <= 0)
          return failCommand('--duration is a number of seconds');
        const request: Record<string, unknown> = {
          tenantId: options.tenant,
          bucket: options.bucket,
          actions: options.action,
          durationSeconds: duration,
          justification: options.justification,
          ticket: options.ticket,
          breakGlass: options.breakGlass === true,
        };
        if (typeof options.prefix === 'string') request.keyPrefix = options.prefix;
        if (typeof options.kmsKey === 'string') request.kmsKeyId = options.kmsKey;
        printJson(await clientOf(options).file(request, readAttestation(options)));
      });
    });

  apiCommand('list', 'list access requests, newest first, one JSON document per line')
    .option(
      '--tenant <id>',
      'one tenant’s requests (platform operators; administrators see their own tenant’s)',
    )
    .option('--status <status>', `only requests in this status: ${ACCESS_REQUEST_STATUSES.join(', ')}`)
    .option('--limit <n>', 'at most this many requests', '100')
    .action(async (options: Options) => {
      await run(async () => {
        const client = clientOf(options);
        const query: Record<string, string> = {};
        if (typeof options.tenant === 'string') query.tenant = options.tenant;
        if (typeof options.status === 'string') query.status = options.status;
        await printPages(options.limit, LIST_PAGE_MAX, async (page) => {
          const { requests, nextAfter } = await client.list({ ...query, ...page });
          return { items: requests, nextAfter };
        });
      });
    });

  apiCommand('get', 'print one access request')
    .argument('<id>', 'the request id')
    .action(async (id: string, options: Options) => {
      await run(async () => printJson(await clientOf(options).get(id)));
    });

  const decision = (name: AccessDecision, description: string, textOption: 'comment' | 'reason' | null) => {
    const command = apiCommand(name, description).argument('<id>', 'the request id');
    if (textOption !== null)
      command.option(
        `--${textOption} <text>`,
        `the ${textOption}, kept with the request and in the audit log`,
      );
    if (name === 'confirm')
      command.requiredOption('--attestation <file>', 'the confirming operator’s attestation note');
    command.action(async (id: string, options: Options) => {
      await run(async () => {
        const text = textOption === null ? undefined : options[textOption];
        const body = typeof text === 'string' && textOption !== null ? { [textOption]: text } : {};
        const attestation = name === 'confirm' ? readAttestation(options) : null;
        printJson(await clientOf(options).decide(id, name, body, attestation));
      });
    });
  };
  decision('approve', 'approve a pending request (the tenant’s administrators)', 'comment');
  decision('deny', 'deny a pending request (the tenant’s administrators)', 'reason');
  decision(
    'revoke',
    'end a request or an access at once (the tenant’s administrators or the requester)',
    'reason',
  );
  decision('confirm', 'confirm a break-glass request as a second, distinct operator', null);
  decision(
    'acknowledge',
    'acknowledge a break-glass access after review (the tenant’s administrators)',
    'comment',
  );

  const notifications = access
    .command('notifications')
    .description(
      'where the tenant’s security notifications (new requests, break-glass access) go: an operator-registered notification target (the tenant’s administrators)',
    );
  apiCommand('set', 'send security notifications to a notification target', notifications)
    .requiredOption(
      '--destination <arn>',
      'the target’s ARN from the operator, arn:sovra:sqs:<region>:<id>:webhook or …:nats',
    )
    .action(async (options: Options) => {
      await run(async () =>
        printJson(await clientOf(options).notifications('PUT', String(options.destination))),
      );
    });
  apiCommand('get', 'print the tenant’s security notification destination', notifications).action(
    async (options: Options) => {
      await run(async () => printJson(await clientOf(options).notifications('GET')));
    },
  );
  apiCommand('clear', 'stop sending security notifications', notifications).action(
    async (options: Options) => {
      await run(async () => printJson(await clientOf(options).notifications('DELETE')));
    },
  );

  access
    .command('attest')
    .description(
      'sign an operator attestation as a security office (sovra-operator-attestation/v1 signed note)',
    )
    .requiredOption(
      '--key <file>',
      'the security office’s signer key file (from `sovra access attestation-key`)',
    )
    .requiredOption('--subject <principalId>', 'the operator’s principal id')
    .requiredOption('--clearance <level>', 'the operator’s clearance, a level id such as SECRET')
    .requiredOption('--nationality <country>', 'ISO 3166-1 alpha-2, e.g. VN')
    .requiredOption('--residency <country>', 'ISO 3166-1 alpha-2, e.g. VN')
    .requiredOption(
      '--expires <iso8601>',
      'when the attestation stops being valid (at most a year after issue)',
    )
    .option('--issued <iso8601>', 'when it was issued (default now)')
    .option('--out <file>', 'write the note to this file instead of standard output')
    .action(async (options: Options) => {
      await run(async () => {
        const expiresAtMs = timeOption(options.expires, '--expires');
        const issuedAtMs = options.issued === undefined ? Date.now() : timeOption(options.issued, '--issued');
        const signer = parseSignerKey(readFileSync(String(options.key), 'utf8').trim(), systemClock);
        const note = await signAttestation(
          {
            subject: String(options.subject),
            clearance: String(options.clearance),
            nationality: String(options.nationality),
            residency: String(options.residency),
            issuedAtMs,
            expiresAtMs,
          },
          signer,
        );
        if (typeof options.out === 'string') writeFileSync(options.out, note, { mode: 0o600, flag: 'wx' });
        else process.stdout.write(note);
      });
    });

  endpointCommand(
    'revoke-attestation',
    'revoke operator attestations as a security office (sovra-operator-attestation-revocation/v1 signed note) and submit the revocation (platform operators)',
  )
    .requiredOption(
      '--office-key <file>',
      'the security office’s signer key file (from `sovra access attestation-key`)',
    )
    .option('--attestation <file>', 'revoke this one attestation note')
    .option('--subject <principalId>', 'with --before: revoke every attestation of this operator …')
    .option('--before <iso8601>', '… issued before this time (at the latest now)')
    .requiredOption('--reason <text>', 'why (kept with the revocation and in the audit log)')
    .option('--out <file>', 'only write the signed note to this file, submit nothing')
    .option('--credentials <file>', 'JSON credentials of a platform operator, to submit (mode 0600)')
    .action(async (options: Options) => {
      await run(async () => {
        const revoked = revokedOf(options);
        if (revoked === null) {
          return failCommand('name what to revoke: --attestation FILE, or --subject S and --before TIME');
        }
        if (typeof options.out !== 'string' && typeof options.credentials !== 'string') {
          return failCommand('--credentials is needed to submit the revocation (or --out to only write it)');
        }
        const signer = parseSignerKey(readFileSync(String(options.officeKey), 'utf8').trim(), systemClock);
        const note = await signAttestationRevocation(
          { ...revoked, reason: String(options.reason), revokedAtMs: Date.now() },
          signer,
        );
        if (typeof options.out === 'string') {
          writeFileSync(options.out, note, { mode: 0o600, flag: 'wx' });
          return;
        }
        printJson(await clientOf(options).revokeAttestation(note));
      });
    });

  apiCommand(
    'revocations',
    'list the attestation revocations the platform accepted, oldest first, one JSON document per line (platform operators)',
  )
    .option('--limit <n>', 'at most this many revocations', '100')
    .action(async (options: Options) => {
      await run(async () => {
        const client = clientOf(options);
        await printPages(options.limit, REVOCATION_LIST_PAGE_MAX, async (page) => {
          const { revocations, nextAfter } = await client.revocations(page);
          return { items: revocations, nextAfter };
        });
      });
    });

  access
    .command('attestation-key')
    .description(
      'make a security office key pair (Ed25519 note key): writes the private key, prints the verifier key',
    )
    .requiredOption('--name <name>', 'the office name, e.g. security-office.gov.vn')
    .requiredOption('--out <file>', 'the private key file to create (0600, refused if it exists)')
    .action(async (options: Options) => {
      await run(() => {
        const key = generateNoteKey('ed25519', String(options.name));
        writeFileSync(String(options.out), `${key.signerKey}\n`, { mode: 0o600, flag: 'wx' });
        process.stdout.write(`${key.verifierKey}\n`);
        return Promise.resolve();
      });
    });
  return access;
}

function clientOf(options: Options): AccessClient {
  return new AccessClient(
    String(options.endpoint),
    readCredentialsFile(String(options.credentials)),
    String(options.region),
  );
}

/**
 * What `revoke-attestation` revokes, with the subject: one attestation (its file, read but not
 * verified: the office revokes what it issued) or everything issued before a time. Null when the
 * options name neither or both.
 */
function revokedOf(options: Options): { subject: string; revoked: RevokedAttestations } | null {
  const byFile = typeof options.attestation === 'string';
  const byTime = typeof options.subject === 'string' || typeof options.before === 'string';
  if (byFile === byTime) return null;
  if (byFile) {
    const attestation = inspectAttestation(readAttestation(options));
    return {
      subject: attestation.subject,
      revoked: { kind: 'attestation', attestationSha256: attestation.sha256 },
    };
  }
  if (typeof options.subject !== 'string' || typeof options.before !== 'string') return null;
  return {
    subject: options.subject,
    revoked: { kind: 'issued-before', issuedBeforeMs: timeOption(options.before, '--before') },
  };
}

function readAttestation(options: Options): string {
  try {
    return readFileSync(String(options.attestation), 'utf8');
  } catch (error) {
    throw new AccessRequestError(
      'InvalidAttestation',
      `cannot read ${String(options.attestation)}: ${(error as Error).message}`,
      null,
    );
  }
}

function timeOption(value: unknown, name: string): number {
  const ms = typeof value === 'string' && /^\d{4}-\d{2}-\d{2}/.test(value) ? Date.parse(value) : Number.NaN;
  if (!Number.isFinite(ms))
    throw new AccessRequestError('InvalidArgument', `${name} must be an ISO 8601 time`, null);
  return ms;
}

/**
 * Prints up to `--limit` items, one JSON document per line, fetching pages of at most `pageMax`
 * and following `nextAfter`.
 */
async function printPages(
  limit: unknown,
  pageMax: number,
  fetchPage: (page: {
    after?: string;
    limit: string;
  }) => Promise<{ items: readonly unknown[]; nextAfter: string | null }>,
): Promise<void> {
  const wanted = Number(limit);
  if (!Number.isSafeInteger(wanted) || wanted < 1) return failCommand('--limit must be a positive integer');
  let printed = 0;
  let after: string | null = null;
  do {
    const page = await fetchPage({
      ...(after === null ? {} : { after }),
      limit: String(Math.min(pageMax, wanted - printed)),
    });
    for (const item of page.items.slice(0, wanted - printed)) {
      process.stdout.write(`${JSON.stringify(item)}\n`);
      printed += 1;
    }
    after = page.nextAfter;
  } while (after !== null && printed < wanted);
}

function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

/** Refusals (the server's, the domain's, files that cannot be written) exit 2 with one line naming the code. */
async function run(work: () => Promise<void>): Promise<void> {
  try {
    await work();
  } catch (error) {
    if (error instanceof AccessRequestError || error instanceof OperatorRequestError || isSovraError(error)) {
      return failCommand(`${error.code}: ${error.message}`);
    }
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' || code === 'ENOENT' || code === 'EACCES')
      return failCommand((error as Error).message);
    throw error;
  }
}
