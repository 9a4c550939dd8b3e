// `node bench/authorization.ts` (or the `authorization` section of `npm run bench` once
// registered): authorization throughput in-process, and the cost of authorization on a 4 KiB
// GET through the S3 endpoint, each next to a baseline measured in the same run.
// BENCH_DURATION_S (default 3) sets each HTTP run; every decision run takes one second.
import { mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { DiskBlobStore } from '../src/adapters/blobs/disk-blob-store.ts';
import { CedarGuardrailCompiler, readDefaultGuardrails } from '../src/adapters/cedar/cedar-guardrails.ts';
import { LocalKeySealer } from '../src/adapters/secrets/local-key-sealer.ts';
import { SqlMetadataStore } from '../src/adapters/sql/metadata-store.ts';
import { SQLITE_MIGRATIONS } from '../src/adapters/sqlite/migrations.ts';
import { SqliteDatabase } from '../src/adapters/sqlite/sqlite-database.ts';
import { Guardrails } from '../src/domain/guardrails/guardrails.ts';
import {
  TenantAdminAuthorizer,
  type ActionTarget,
  type Authorizer,
  type RequestFacts,
} from '../src/domain/iam/authorizer.ts';
import { bootstrapRootTenant } from '../src/domain/iam/bootstrap.ts';
import { encodeBucketPolicyDocument, type BucketPolicyStore } from '../src/domain/iam/bucket-policy.ts';
import type { Caller } from '../src/domain/iam/caller.ts';
import { CredentialResolver } from '../src/domain/iam/credentials.ts';
import { parsePolicy, type CompiledPolicy } from '../src/domain/iam/policy/index.ts';
import { RequestAuthorizer } from '../src/domain/iam/request-authorizer.ts';
import { MultipartUploads } from '../src/domain/storage/multipart-uploads.ts';
import { BucketNotifications } from '../src/domain/storage/notifications.ts';
import { ObjectData } from '../src/domain/storage/object-data.ts';
import { ObjectLock } from '../src/domain/storage/object-lock.ts';
import { ObjectStore } from '../src/domain/storage/object-store.ts';
import { Tagging } from '../src/domain/storage/tagging.ts';
import { systemClock } from '../src/platform/clock.ts';
import { S3Endpoint } from '../src/protocols/s3/s3-endpoint.ts';
import { removeDir, TEST_REGION } from '../test/helpers/sovra-process.ts';
import { formatTable, wrk } from './harness.ts';

const TENANT = 'bench';
const BUCKET = 'bench';
/** A bucket policy is at most 20 KB: about 50 of these statements; the rest go to identity policies. */
const BUCKET_POLICY_STATEMENTS = 50;
/** Statements per identity policy in this bench (real managed policies hold about 30 in 6,144 characters). */
const IDENTITY_POLICY_STATEMENTS = 50;
/** Principals the mixed workload cycles through. */
const PRINCIPALS = 20;
const DECISION_RUN_MS = 1_000;

/**
 * Decisions per second of RequestAuthorizer (identity policies, the bucket policy, the default
 * Cedar guardrails and the classification rules) with 10, 100 and 1,000 policy statements: for a
 * repeated GET (one principal reading one object again and again, as a GET benchmark does; the
 * decision is remembered within its second) and for distinct requests (20 principals, a new key
 * each time, one in ten denied, one in ten a listing with s3:prefix), which are evaluated in
 * full; next to TenantAdminAuthorizer, the rule it replaces, and a permit-all authorizer. Then a
 * 4 KiB GET through the S3 endpoint in this process under each authorizer (wrk, presigned URL):
 * requests per second and server CPU per GET.
 */
export async function runAuthorizationBench(): Promise<void> {
  const rows: (string | number)[][] = [
    ['authorization decisions, in-process', 'statements', 'decisions/s', 'µs/decision'],
  ];
  const admin = caller('user-admin', true);
  const hotTarget: ActionTarget = { bucket: { name: BUCKET, tenantId: TENANT }, key: 'team-0/object-0' };
  const permitAll: Authorizer = { authorize: () => Promise.resolve() };
  const permit = await decisionsPerSecond(() => permitAll.authorize(admin, 's3:GetObject', hotTarget));
  rows.push(['ceiling: permit-all authorizer', '', permit, micros(permit)]);
  const tenantAdmin = new TenantAdminAuthorizer();
  const before = await decisionsPerSecond(() => tenantAdmin.authorize(admin, 's3:GetObject', hotTarget));
  rows.push(['baseline: TenantAdminAuthorizer (before policies)', '', before, micros(before)]);
  const guardrails = new Guardrails(new CedarGuardrailCompiler(), readDefaultGuardrails());
  for (const statements of [10, 100, 1_000]) {
    const authorizer = requestAuthorizer(statements, guardrails);
    const hot = await decisionsPerSecond(() => authorizer.authorize(admin, 's3:GetObject', hotTarget));
    rows.push([`RequestAuthorizer + default guardrails, repeated GET`, statements, hot, micros(hot)]);
    const mixed = mixedWorkload(authorizer);
    const mixedRate = await decisionsPerSecond(mixed);
    rows.push([
      `RequestAuthorizer + default guardrails, distinct requests`,
      statements,
      mixedRate,
      micros(mixedRate),
    ]);
  }
  process.stdout.write(`${formatTable(rows)}\n\n`);
  process.stdout.write(`${formatTable(await getThroughEndpoint(guardrails))}\n`);
}

function caller(principalId: string, isTenantAdmin: boolean): Caller {
  return {
    principalId,
    tenantId: TENANT,
    isTenantAdmin,
    requestId: 'bench',
    sourceIp: '10.1.2.3',
    secureTransport: true,
  };
}

function micros(decisionsPerSecond: number): number {
  return Math.round((1e6 / decisionsPerSecond) * 100) / 100;
}

/** Calls `decide` back to back for DECISION_RUN_MS (after a short warm-up); decisions per second. */
async function decisionsPerSecond(decide: () => Promise<void>): Promise<number> {
  for (let i = 0; i < 20_000; i++) await decide();
  let decisions = 0;
  const started = performance.now();
  const deadline = started + DECISION_RUN_MS;
  while (performance.now() < deadline) {
    for (let i = 0; i < 1_000; i++) await decide();
    decisions += 1_000;
  }
  return Math.round(decisions / ((performance.now() - started) / 1000));
}

/**
 * `statements` statements for principals user-0 … user-19: the bucket policy holds up to
 * BUCKET_POLICY_STATEMENTS, each principal's identity policies the rest. One in five is a Deny of
 * a restricted prefix under an aws:SourceIp or aws:SecureTransport condition, one in five allows
 * listing a team's prefix (s3:prefix), the others allow reading a team's objects, some under an
 * aws:CurrentTime condition. Object and bucket ARNs sit in separate statements, as the AWS
 * examples write them: the policy library indexes statements by the literal start of their
 * resources, and a statement naming the bare bucket ARN next to `bucket/prefix/*` is filed
 * under the bucket and visited by every request on it.
 */
export function requestAuthorizer(statements: number, guardrails: Guardrails): RequestAuthorizer {
  const inBucketPolicy = Math.min(statements, BUCKET_POLICY_STATEMENTS);
  const bucketStatements = Array.from({ length: inBucketPolicy }, (_, index) => statement(index, true));
  const identityStatements = Array.from({ length: statements - inBucketPolicy }, (_, index) =>
    statement(inBucketPolicy + index, false),
  );
  const identityPolicies: CompiledPolicy[] = [];
  for (let first = 0; first < identityStatements.length; first += IDENTITY_POLICY_STATEMENTS) {
    identityPolicies.push(
      parsePolicy(
        JSON.stringify({
          Version: '2012-10-17',
          Statement: identityStatements.slice(first, first + IDENTITY_POLICY_STATEMENTS),
        }),
        // Larger than a managed policy may be, so that 1,000 statements fit in 19 policies.
        { kind: 'identity', sizeLimit: { maxSize: 64 * 1024, unit: 'characters' } },
      ),
    );
  }
  const document = encodeBucketPolicyDocument(
    JSON.stringify({ Version: '2012-10-17', Statement: bucketStatements }),
  );
  const store: BucketPolicyStore = { getBucketConfig: () => Promise.resolve({ document }) };
  return new RequestAuthorizer({
    bucketPolicies: store,
    guardrails,
    clock: systemClock,
    // Every principal carries all identity policies: the evaluation looks at all their statements.
    identityPolicies: { policiesFor: () => Promise.resolve(identityPolicies) },
  });
}

function statement(index: number, inBucketPolicy: boolean): object {
  const team = Math.floor(index / 5) % PRINCIPALS;
  const principal = inBucketPolicy ? { Principal: { AWS: `arn:aws:iam::${TENANT}:user/user-${team}` } } : {};
  switch (index % 5) {
    case 4:
      return {
        Sid: `Deny${index}`,
        Effect: 'Deny',
        ...principal,
        Action: ['s3:DeleteObject', 's3:GetObject'],
        Resource: `arn:aws:s3:::${BUCKET}/restricted-${index}/*`,
        Condition:
          index % 2 === 0
            ? { NotIpAddress: { 'aws:SourceIp': `10.${index % 250}.0.0/16` } }
            : { Bool: { 'aws:SecureTransport': 'false' } },
      };
    case 3:
      return {
        Sid: `List${index}`,
        Effect: 'Allow',
        ...principal,
        Action: 's3:ListBucket',
        Resource: `arn:aws:s3:::${BUCKET}`,
        Condition: { StringLike: { 's3:prefix': `team-${team}/*` } },
      };
    default:
      return {
        Sid: `Read${index}`,
        Effect: 'Allow',
        ...principal,
        Action: index % 3 === 0 ? ['s3:GetObject', 's3:GetObjectTagging'] : 's3:Get*',
        Resource: `arn:aws:s3:::${BUCKET}/team-${team}/*`,
        ...(index % 7 === 0
          ? { Condition: { DateGreaterThan: { 'aws:CurrentTime': '2020-01-01T00:00:00Z' } } }
          : {}),
      };
  }
}

/**
 * Principal i reads a new key under team-i/ each time (so no remembered decision serves it),
 * every tenth request a restricted key (denied) or a listing of its prefix.
 */
export function mixedWorkload(authorizer: RequestAuthorizer): () => Promise<void> {
  const callers = Array.from({ length: PRINCIPALS }, (_, index) => caller(`user-${index}`, false));
  const bucket = { name: BUCKET, tenantId: TENANT };
  const listFacts = callers.map((_, index): RequestFacts => ({
    conditionKeys: [['s3:prefix', `team-${index}/`]],
  }));
  let step = 0;
  return async () => {
    step += 1;
    const who = step % PRINCIPALS;
    const kind = step % 10;
    try {
      if (kind === 9) {
        await authorizer.authorize(callers[who]!, 's3:ListBucket', { bucket, key: null }, listFacts[who]);
      } else if (kind === 8) {
        await authorizer.authorize(callers[who]!, 's3:GetObject', { bucket, key: `restricted-4/${step}` });
      } else {
        await authorizer.authorize(callers[who]!, 's3:GetObject', {
          bucket,
          key: `team-${who}/object-${step}`,
        });
      }
    } catch (error) {
      if ((error as { code?: string }).code !== 'AccessDenied') throw error;
    }
  };
}

/** Delegates to whichever authorizer a run measures (the same small cost in every run). */
class SwitchedAuthorizer implements Authorizer {
  current: Authorizer;
  constructor(initial: Authorizer) {
    this.current = initial;
  }
  authorize(caller: Caller, action: string, target: ActionTarget, facts?: RequestFacts): Promise<void> {
    return this.current.authorize(caller, action, target, facts);
  }
  forgetBucketPolicy(bucket: string): void {
    this.current.forgetBucketPolicy?.(bucket);
  }
}

/**
 * A 4 KiB GET by presigned URL through S3Endpoint (SQLite metadata, objects inline, no root of
 * trust) in this process, driven by wrk at concurrency 16, under each authorizer in turn, twice.
 * Server CPU is this process's CPU time per GET.
 */
async function getThroughEndpoint(guardrails: Guardrails): Promise<(string | number)[][]> {
  const durationS = Number(process.env.BENCH_DURATION_S ?? 3);
  const dataDir = mkdtempSync(join(tmpdir(), 'sovra-bench-authz-'));
  const db = new SqliteDatabase(join(dataDir, 'metadata.sqlite'));
  const metadata = new SqlMetadataStore(db, { migrations: SQLITE_MIGRATIONS, clock: systemClock });
  let server: Server | null = null;
  let client: S3Client | null = null;
  try {
    await metadata.migrate();
    const sealer = LocalKeySealer.openOrCreate(join(dataDir, 'keys', 'local-seal.key'));
    const boot = await bootstrapRootTenant(metadata, sealer, systemClock);
    if (boot === null) throw new Error('the bench store was not empty');
    const data = new ObjectData(new DiskBlobStore({ root: dataDir }));
    const objects = new ObjectStore({ metadata, data, clock: systemClock, region: TEST_REGION });
    const requestAuthorizer = new RequestAuthorizer({
      bucketPolicies: objects,
      objectTags: objects,
      guardrails,
      clock: systemClock,
    });
    const switched = new SwitchedAuthorizer(requestAuthorizer);
    const endpoint = new S3Endpoint({
      objects,
      uploads: new MultipartUploads({ metadata, data, objects, clock: systemClock }),
      objectLock: new ObjectLock({ metadata, objects, clock: systemClock }),
      tagging: new Tagging({ metadata, objects, clock: systemClock }),
      notifications: new BucketNotifications({
        metadata,
        clock: systemClock,
        region: TEST_REGION,
        destinations: [],
      }),
      credentials: new CredentialResolver({ metadata, sealer, clock: systemClock }),
      authorizer: switched,
      clock: systemClock,
      region: TEST_REGION,
      domains: [],
    });
    const log = { info: () => undefined, warn: () => undefined, error: () => undefined };
    let requests = 0;
    server = createServer((req, res) => {
      requests += 1;
      void endpoint.handle(req, res, `bench-${requests}`, log);
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    if (typeof address !== 'object' || address === null) throw new Error('no address');
    const endpointUrl = `http://127.0.0.1:${address.port}`;
    client = new S3Client({
      endpoint: endpointUrl,
      region: TEST_REGION,
      forcePathStyle: true,
      credentials: boot.credentials,
    });
    await client.send(new CreateBucketCommand({ Bucket: BUCKET }));
    await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'small', Body: Buffer.alloc(4096, 1) }));
    const url = await getSignedUrl(client, new GetObjectCommand({ Bucket: BUCKET, Key: 'small' }), {
      expiresIn: 3600,
    });
    const runs: [string, Authorizer][] = [
      ['permit-all authorizer (ceiling)', { authorize: () => Promise.resolve() }],
      ['TenantAdminAuthorizer (before policies)', new TenantAdminAuthorizer()],
      ['RequestAuthorizer + default guardrails', requestAuthorizer],
    ];
    const measured = new Map<string, { rps: number[]; cpuMicros: number[]; p50: number[]; p99: number[] }>();
    switched.current = requestAuthorizer;
    await wrk(url, { connections: 16, durationS: 1 });
    for (let round = 0; round < 2; round++) {
      for (const [name, authorizer] of round === 0 ? runs : [...runs].reverse()) {
        switched.current = authorizer;
        const cpuBefore = process.cpuUsage();
        const servedBefore = requests;
        const result = await wrk(url, { connections: 16, durationS });
        if (result.errors > 0) throw new Error(`${name}: ${result.errors} failed GETs`);
        const cpu = process.cpuUsage(cpuBefore);
        const entry = measured.get(name) ?? { rps: [], cpuMicros: [], p50: [], p99: [] };
        entry.rps.push(result.requestsPerSecond);
        entry.cpuMicros.push((cpu.user + cpu.system) / Math.max(1, requests - servedBefore));
        entry.p50.push(result.p50Ms);
        entry.p99.push(result.p99Ms);
        measured.set(name, entry);
      }
    }
    const average = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;
    const baseline = average(measured.get(runs[1]![0])!.cpuMicros);
    const rows: (string | number)[][] = [
      [
        '4 KiB GET through S3Endpoint in-process, wrk -c16',
        'GETs/s',
        'p50 ms',
        'p99 ms',
        'server CPU µs/GET',
        'CPU vs TenantAdmin',
      ],
    ];
    for (const [name] of runs) {
      const entry = measured.get(name)!;
      const cpuMicros = average(entry.cpuMicros);
      rows.push([
        name,
        Math.round(average(entry.rps)),
        average(entry.p50),
        average(entry.p99),
        Math.round(cpuMicros),
        `${cpuMicros >= baseline ? '+' : ''}${((100 * (cpuMicros - baseline)) / baseline).toFixed(1)}%`,
      ]);
    }
    return rows;
  } finally {
    client?.destroy();
    if (server !== null) await new Promise<void>((resolve) => server!.close(() => resolve()));
    await metadata.close();
    removeDir(dataDir);
  }
}

if (import.meta.main) await runAuthorizationBench();
