import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import {
  CreateKeyCommand,
  DecryptCommand,
  DescribeKeyCommand,
  EncryptCommand,
  KMSClient,
  KMSServiceException,
  ScheduleKeyDeletionCommand,
} from '@aws-sdk/client-kms';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { readDefaultGuardrails } from '../../src/adapters/cedar/cedar-guardrails.ts';
import { AuditClient } from '../../src/cli/audit-client.ts';
import { parseCanonicalRecord, type AuditRecord } from '../../src/domain/audit/records.ts';
import { sovraRequest } from '../helpers/sovra-api.ts';
import { CLI, NODE, removeDir, TEST_REGION, type SovraProcess } from '../helpers/sovra-process.ts';
import { startUnsealedSovra } from '../helpers/unsealed-sovra.ts';

/**
 * KMS authorization as AWS KMS and IAM do it, against the real server with @aws-sdk/client-kms:
 * identity policies of users and role sessions on `kms:<Operation>` and the key's ARN, key
 * policies that must allow (themselves or by naming the tenant's root), explicit denies, both
 * sides across tenants, and platform operators only under a lockbox approval scoped to the key.
 */

const run = promisify(execFile);

interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

async function sovraCli(args: string[]): Promise<string> {
  const { stdout } = await run(NODE, [CLI, ...args]);
  return stdout;
}

/** A refusal's AWS error name and message. */
async function refusal(promise: Promise<unknown>): Promise<{ name: string; message: string }> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof KMSServiceException) return { name: error.name, message: error.message };
    throw error;
  }
  assert.fail('expected the call to be refused');
}

const A = 'agency-a';
const B = 'agency-b';
const plaintext = Buffer.from('classified payload');

describe('KMS authorization by identity policies, key policies, guardrails and the lockbox', () => {
  let sovra: SovraProcess;
  let dir: string;
  const file = (name: string) => join(dir, name);
  const clients: KMSClient[] = [];
  let adminA: Credentials;
  let adminB: Credentials;
  const keys: Record<string, { id: string; arn: string }> = {};
  const users: Record<string, { id: string; credentials: Credentials }> = {};

  async function adminCall(
    credentials: Credentials,
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: Record<string, unknown> | null }> {
    return sovraRequest(sovra.endpoint, credentials, method, `/_sovra/admin/${path}`, body);
  }

  async function admin(credentials: Credentials, method: string, path: string, body?: unknown) {
    const answer = await adminCall(credentials, method, path, body);
    assert.ok(answer.status < 300, `${method} ${path}: ${answer.status} ${JSON.stringify(answer.body)}`);
    return answer.body;
  }

  function kms(credentials: Credentials, headers: Record<string, string> = {}): KMSClient {
    const client = new KMSClient({ endpoint: sovra.endpoint, region: TEST_REGION, credentials });
    client.middlewareStack.add(
      (next) => (args) => {
        Object.assign((args.request as { headers: Record<string, string> }).headers, headers);
        return next(args);
      },
      { step: 'build', name: 'sovraHeaders' },
    );
    clients.push(client);
    return client;
  }

  /** A user of a tenant with an access key and the managed policies given, attached. */
  async function user(tenantAdmin: Credentials, name: string, policies: Record<string, object[]> = {}) {
    const created = (await admin(tenantAdmin, 'POST', 'users', { name })) as { user: { id: string } };
    for (const [policy, statements] of Object.entries(policies)) {
      await admin(tenantAdmin, 'POST', 'policies', {
        name: policy,
        document: { Version: '2012-10-17', Statement: statements },
      });
      await admin(tenantAdmin, 'PUT', `users/${name}/policies/${policy}`);
    }
    const key = (await admin(tenantAdmin, 'POST', `users/${name}/access-keys`, {})) as {
      accessKey: Credentials;
    };
    users[name] = {
      id: created.user.id,
      credentials: { accessKeyId: key.accessKey.accessKeyId, secretAccessKey: key.accessKey.secretAccessKey },
    };
    return users[name].credentials;
  }

  async function createKey(name: string, owner: Credentials, policy?: object[]): Promise<void> {
    const { KeyMetadata } = await kms(owner).send(
      new CreateKeyCommand({
        Description: name,
        ...(policy === undefined
          ? {}
          : { Policy: JSON.stringify({ Version: '2012-10-17', Statement: policy }) }),
      }),
    );
    keys[name] = { id: KeyMetadata!.KeyId!, arn: KeyMetadata!.Arn! };
  }

  async function records(credentials: Credentials): Promise<AuditRecord[]> {
    const page = await new AuditClient(sovra.endpoint, credentials, TEST_REGION).records({ limit: '1000' });
    return page.records.map((r) => parseCanonicalRecord(Buffer.from(r.record!, 'utf8')));
  }

  /** A principal's key-use records in a tenant's view, once at least `count` are there (decisions are written in batches). */
  async function keyUses(
    credentials: Credentials,
    principalId: string,
    count: number,
  ): Promise<AuditRecord[]> {
    for (let attempt = 0; ; attempt++) {
      const found = (await records(credentials)).filter(
        (r) => r.kind === 'key-use' && r.principalId === principalId,
      );
      if (found.length >= count || attempt === 50) return found;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sovra-kms-iam-'));
    // The lockbox: a security office's key and the platform rules operators must satisfy.
    const vkey = (
      await sovraCli([
        'access',
        'attestation-key',
        '--name',
        'security-office.test',
        '--out',
        file('office.key'),
      ])
    ).trim();
    writeFileSync(file('office.vkeys'), `${vkey}\n`);
    writeFileSync(
      file('rules.json'),
      JSON.stringify({
        minClearance: 'SECRET',
        nationalities: ['VN'],
        residencies: ['VN'],
        networkJurisdictions: ['VN'],
        maxDurationSeconds: 28_800,
        breakGlass: { enabled: false },
      }),
    );
    sovra = await startUnsealedSovra('sqlite', null, {
      extraArgs: [
        '--operator-attestation-keys',
        file('office.vkeys'),
        '--operator-access-rules',
        file('rules.json'),
        '--home-jurisdiction',
        'VN',
      ],
    });
    for (const id of [A, B]) {
      const created = (await admin(sovra.credentials, 'POST', 'tenants', { id, name: id })) as {
        accessKey: Credentials;
      };
      const credentials = {
        accessKeyId: created.accessKey.accessKeyId,
        secretAccessKey: created.accessKey.secretAccessKey,
      };
      if (id === A) adminA = credentials;
      else adminB = credentials;
    }
    await createKey('one', adminA);
    await createKey('two', adminA);
    // A key whose policy names one user and not the tenant: identity policies do not count.
    await createKey('named', adminA, [
      { Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${A}:user/admin` }, Action: 'kms:*', Resource: '*' },
    ]);
    // A key shared with agency-b for encryption and decryption.
    await createKey('shared', adminA, [
      { Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${A}:root` }, Action: 'kms:*', Resource: '*' },
      {
        Sid: 'AgencyBUses',
        Effect: 'Allow',
        Principal: { AWS: `arn:aws:iam::${B}:root` },
        Action: ['kms:Encrypt', 'kms:Decrypt'],
        Resource: '*',
      },
    ]);
  });

  after(async () => {
    for (const client of clients) client.destroy();
    await sovra?.stop();
    if (sovra !== undefined) removeDir(sovra.dataDir);
    if (dir !== undefined) removeDir(dir);
  });

  it('a user without policies is refused with AccessDeniedException naming the identity policies; the administrator is not', async () => {
    const alice = kms(await user(adminA, 'alice'));
    const denied = await refusal(
      alice.send(new EncryptCommand({ KeyId: keys.one!.id, Plaintext: plaintext })),
    );
    assert.equal(denied.name, 'AccessDeniedException');
    assert.equal(
      denied.message,
      `User: arn:aws:iam::${A}:user/alice is not authorized to perform: kms:Encrypt on resource: ${keys.one!.arn} ` +
        'because no identity-based policy allows the kms:Encrypt action (justification CUSTOMER_INITIATED_ACCESS from jurisdiction VN)',
    );
    assert.equal((await refusal(alice.send(new CreateKeyCommand({})))).name, 'AccessDeniedException');
    await kms(adminA).send(new EncryptCommand({ KeyId: keys.one!.id, Plaintext: plaintext }));
    // The refusal is an authorization-denied record of the tenant, naming the layer.
    const refused = (await records(adminA)).find(
      (r) => r.action === 'kms:Encrypt' && r.principalId === users.alice!.id,
    );
    assert.equal(refused?.kind, 'authorization-denied');
    assert.equal(refused.resource, keys.one!.arn);
    assert.equal(refused.details.deniedBy, 'iam');
  });

  it('an identity policy allowing kms:Encrypt and kms:Decrypt on one key opens that key and no other', async () => {
    const carol = kms(
      await user(adminA, 'carol', {
        'use-key-one': [{ Effect: 'Allow', Action: ['kms:Encrypt', 'kms:Decrypt'], Resource: keys.one!.arn }],
      }),
    );
    const { CiphertextBlob } = await carol.send(
      new EncryptCommand({ KeyId: keys.one!.arn, Plaintext: plaintext }),
    );
    const { Plaintext } = await carol.send(new DecryptCommand({ CiphertextBlob }));
    assert.equal(Buffer.from(Plaintext!).toString(), plaintext.toString());
    const other = await refusal(
      carol.send(new EncryptCommand({ KeyId: keys.two!.id, Plaintext: plaintext })),
    );
    assert.equal(other.name, 'AccessDeniedException');
    assert.match(
      other.message,
      new RegExp(`kms:Encrypt on resource: ${keys.two!.arn} because no identity-based`),
    );
    const manage = await refusal(carol.send(new ScheduleKeyDeletionCommand({ KeyId: keys.one!.id })));
    assert.equal(manage.name, 'AccessDeniedException');
  });

  it('an explicit Deny in the identity policy wins over a key policy allowing the user', async () => {
    await createKey('dave-only', adminA, [
      { Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${A}:root` }, Action: 'kms:*', Resource: '*' },
      { Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${A}:user/dave` }, Action: 'kms:*', Resource: '*' },
    ]);
    const dave = kms(
      await user(adminA, 'dave', {
        'no-decrypt': [{ Sid: 'NeverDecrypt', Effect: 'Deny', Action: 'kms:Decrypt', Resource: '*' }],
      }),
    );
    const { CiphertextBlob } = await dave.send(
      new EncryptCommand({ KeyId: keys['dave-only']!.id, Plaintext: plaintext }),
    );
    const denied = await refusal(dave.send(new DecryptCommand({ CiphertextBlob })));
    assert.equal(denied.name, 'AccessDeniedException');
    assert.match(
      denied.message,
      /with an explicit deny in an identity-based policy \(.*no-decrypt.*"NeverDecrypt"\)/,
    );
    const record = (await records(adminA)).find(
      (r) => r.action === 'kms:Decrypt' && r.principalId === users.dave!.id,
    );
    assert.equal(record?.kind, 'authorization-denied');
    assert.match(String(record.details.denyingPolicies), /NeverDecrypt/);
  });

  it('a key policy that does not name the tenant refuses a user whose identity policy allows', async () => {
    const erin = kms(
      await user(adminA, 'erin', {
        'use-all-keys': [
          { Effect: 'Allow', Action: ['kms:Encrypt', 'kms:Decrypt'], Resource: `arn:aws:kms:*:${A}:key/*` },
        ],
      }),
    );
    await erin.send(new EncryptCommand({ KeyId: keys.two!.id, Plaintext: plaintext }));
    const denied = await refusal(
      erin.send(new EncryptCommand({ KeyId: keys.named!.id, Plaintext: plaintext })),
    );
    assert.equal(denied.name, 'AccessDeniedException');
    assert.match(denied.message, /because no resource-based policy allows the kms:Encrypt action/);
  });

  it('a role session (STS AssumeRole) uses the keys its role policy allows', async () => {
    await admin(adminA, 'POST', 'roles', {
      name: 'key-user',
      trustPolicy: JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${A}:user/frank` }, Action: 'sts:AssumeRole' },
        ],
      }),
    });
    await admin(adminA, 'POST', 'policies', {
      name: 'use-key-two',
      document: {
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Action: ['kms:Encrypt', 'kms:Decrypt'], Resource: keys.two!.arn }],
      },
    });
    await admin(adminA, 'PUT', 'roles/key-user/policies/use-key-two');
    const frank = await user(adminA, 'frank');
    const sts = new STSClient({ endpoint: sovra.endpoint, region: TEST_REGION, credentials: frank });
    const { Credentials: session } = await sts.send(
      new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${A}:role/key-user`, RoleSessionName: 'batch' }),
    );
    sts.destroy();
    const asRole = kms({
      accessKeyId: session!.AccessKeyId!,
      secretAccessKey: session!.SecretAccessKey!,
      sessionToken: session!.SessionToken!,
    });
    const { CiphertextBlob } = await asRole.send(
      new EncryptCommand({ KeyId: keys.two!.id, Plaintext: plaintext }),
    );
    assert.equal(
      Buffer.from((await asRole.send(new DecryptCommand({ CiphertextBlob }))).Plaintext!).toString(),
      plaintext.toString(),
    );
    const denied = await refusal(
      asRole.send(new EncryptCommand({ KeyId: keys.one!.id, Plaintext: plaintext })),
    );
    assert.equal(denied.name, 'AccessDeniedException');
    assert.match(
      denied.message,
      new RegExp(`^User: arn:aws:sts::${A}:assumed-role/key-user/batch is not authorized`),
    );
    // The user itself has no policy of its own.
    assert.equal(
      (await refusal(kms(frank).send(new EncryptCommand({ KeyId: keys.two!.id, Plaintext: plaintext }))))
        .name,
      'AccessDeniedException',
    );
  });

  it('across tenants both the key policy and the caller’s identity policy must allow, within guardrails that permit it', async () => {
    const bob = kms(
      await user(adminB, 'bob', {
        'use-agency-a-keys': [
          { Effect: 'Allow', Action: ['kms:Encrypt', 'kms:Decrypt'], Resource: `arn:aws:kms:*:${A}:key/*` },
        ],
      }),
    );
    const bert = kms(await user(adminB, 'bert'));
    const shared = { KeyId: keys.shared!.arn, Plaintext: plaintext };
    // The default guardrails keep tenants apart: refused, and answered as a key that does not exist.
    const isolated = await refusal(bob.send(new EncryptCommand(shared)));
    assert.deepEqual(isolated, {
      name: 'NotFoundException',
      message: `Key '${keys.shared!.arn}' does not exist`,
    });
    // The platform operator lifts tenant isolation for shared keys.
    const open = readDefaultGuardrails().replace(/@id\("tenant-isolation"\)[^;]*;/, '');
    assert.doesNotMatch(open, /tenant-isolation"/);
    await admin(sovra.credentials, 'PUT', 'guardrails', open);
    try {
      const { CiphertextBlob } = await bob.send(new EncryptCommand(shared));
      const { Plaintext } = await bob.send(new DecryptCommand({ CiphertextBlob }));
      assert.equal(Buffer.from(Plaintext!).toString(), plaintext.toString());
      // Agency A's administrator decrypts what agency-b encrypted under A's key.
      await kms(adminA).send(new DecryptCommand({ CiphertextBlob }));
      // Only the key policy allows bert: refused. Only bob's identity policy allows key one: refused.
      for (const [client, key] of [
        [bert, keys.shared!],
        [bob, keys.one!],
      ] as const) {
        const denied = await refusal(
          client.send(new EncryptCommand({ KeyId: key.arn, Plaintext: plaintext })),
        );
        assert.deepEqual(denied, { name: 'NotFoundException', message: `Key '${key.arn}' does not exist` });
      }
      // A key id names the caller's own tenant's keys; another tenant's key needs its ARN.
      assert.equal(
        (await refusal(bob.send(new EncryptCommand({ ...shared, KeyId: keys.shared!.id })))).name,
        'NotFoundException',
      );
      // Key management never crosses tenants.
      assert.equal(
        (await refusal(bob.send(new ScheduleKeyDeletionCommand({ KeyId: keys.shared!.arn })))).name,
        'NotFoundException',
      );
      // The use is in the key owner's view, naming the caller's tenant.
      const view = await records(adminA);
      const used = view.find(
        (r) => r.kind === 'request' && r.action === 'kms:Encrypt' && r.principalId === users.bob!.id,
      );
      assert.equal(used?.principalTenantId, B);
      assert.equal(used.resource, keys.shared!.arn);
      // The key's decision log has bob's uses: refused while tenants were kept apart, then granted.
      const decisions = (await keyUses(adminA, users.bob!.id, 2)).slice(0, 2);
      assert.deepEqual(
        decisions.map((r) => [r.principalTenantId, r.action, r.result]),
        [
          [B, 'kms:Encrypt', 'denied'],
          [B, 'kms:Encrypt', 'success'],
        ],
      );
    } finally {
      await admin(sovra.credentials, 'PUT', 'guardrails', readDefaultGuardrails());
    }
    assert.equal((await refusal(bob.send(new EncryptCommand(shared)))).name, 'NotFoundException');
  });

  it('a platform operator uses a tenant’s key only under an active approval scoped to it, and the tenant sees each use', async () => {
    const operatorId = ((await admin(sovra.credentials, 'GET', 'users/admin')) as { user: { id: string } })
      .user.id;
    await sovraCli([
      'access',
      'attest',
      '--key',
      file('office.key'),
      '--subject',
      operatorId,
      '--clearance',
      'SECRET',
      '--nationality',
      'VN',
      '--residency',
      'VN',
      '--expires',
      new Date(Date.now() + 86_400_000).toISOString(),
      '--out',
      file('operator.note'),
    ]);
    writeFileSync(file('root.json'), JSON.stringify(sovra.credentials), { mode: 0o600 });
    writeFileSync(file('agency-a.json'), JSON.stringify(adminA), { mode: 0o600 });
    const endpoint = ['--endpoint', sovra.endpoint, '--region', TEST_REGION];
    const filed = JSON.parse(
      await sovraCli([
        'access',
        'request',
        '--tenant',
        A,
        '--bucket',
        'key-support',
        '--kms-key',
        keys.one!.id,
        '--action',
        'kms:Encrypt',
        'kms:Decrypt',
        '--duration',
        '3600',
        '--justification',
        'Verify the key after a root of trust migration',
        '--ticket',
        'CHG-2030-7',
        '--attestation',
        file('operator.note'),
        '--credentials',
        file('root.json'),
        ...endpoint,
      ]),
    ) as { id: string; status: string };
    assert.equal(filed.status, 'pending');
    const attestation = Buffer.from(readFileSync(file('operator.note'), 'utf8'), 'utf8').toString('base64');
    const plain = kms(sovra.credentials);
    const approved = kms(sovra.credentials, {
      'x-sovra-access-approval': filed.id,
      'x-sovra-operator-attestation': attestation,
    });
    const input = { KeyId: keys.one!.arn, Plaintext: plaintext };
    // No standing access: without an approval the key is not there for the operator.
    assert.equal((await refusal(plain.send(new EncryptCommand(input)))).name, 'NotFoundException');
    const pending = await refusal(approved.send(new EncryptCommand(input)));
    assert.equal(pending.name, 'AccessDeniedException');
    assert.match(
      pending.message,
      new RegExp(`operator access approval ${filed.id} does not allow it \\(ApprovalNotActive`),
    );

    // Another tenant's principal naming the approval learns nothing about the key either.
    const probe = kms(await user(adminB, 'gina'), {
      'x-sovra-access-approval': filed.id,
      'x-sovra-operator-attestation': attestation,
    });
    assert.deepEqual(await refusal(probe.send(new EncryptCommand(input))), {
      name: 'NotFoundException',
      message: `Key '${keys.one!.arn}' does not exist`,
    });

    await sovraCli(['access', 'approve', filed.id, '--credentials', file('agency-a.json'), ...endpoint]);
    const { CiphertextBlob } = await approved.send(new EncryptCommand(input));
    assert.equal(
      Buffer.from((await approved.send(new DecryptCommand({ CiphertextBlob }))).Plaintext!).toString(),
      plaintext.toString(),
    );
    // Outside the approval: another key, another action.
    const otherKey = await refusal(approved.send(new EncryptCommand({ ...input, KeyId: keys.two!.arn })));
    assert.equal(otherKey.name, 'AccessDeniedException');
    assert.match(otherKey.message, /OutsideApprovedScope/);
    const otherAction = await refusal(approved.send(new DescribeKeyCommand({ KeyId: keys.one!.arn })));
    assert.match(otherAction.message, /OutsideApprovedScope/);

    const tenantView = await records(adminA);
    const uses = tenantView.filter((r) => r.kind === 'operator-access');
    assert.ok(
      uses.some(
        (r) =>
          r.result === 'success' &&
          r.approvalId === filed.id &&
          r.principalId === operatorId &&
          r.action === 'kms:Decrypt' &&
          r.resource === `sovra:kms-key/${keys.one!.id}`,
      ),
      'the tenant sees the operator’s key use and the approval it used',
    );
    assert.ok(uses.some((r) => r.result === 'denied' && r.approvalId === filed.id));
    // The key uses themselves are recorded with the operator's justification under that approval.
    const operatorUses = await keyUses(adminA, operatorId, 4);
    assert.ok(
      operatorUses.some(
        (r) => r.result === 'success' && r.justification === 'OPERATOR_SUPPORT' && r.approvalId === filed.id,
      ),
      JSON.stringify(operatorUses),
    );
  });
});
