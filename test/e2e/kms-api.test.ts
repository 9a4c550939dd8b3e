import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, createPublicKey, randomBytes, verify as verifyWithNode } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import {
  CancelKeyDeletionCommand,
  CreateAliasCommand,
  CreateKeyCommand,
  DecryptCommand,
  DeleteAliasCommand,
  DescribeKeyCommand,
  DisableKeyCommand,
  DisableKeyRotationCommand,
  EnableKeyCommand,
  EnableKeyRotationCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  GenerateDataKeyWithoutPlaintextCommand,
  GenerateRandomCommand,
  GetKeyPolicyCommand,
  GetKeyRotationStatusCommand,
  GetPublicKeyCommand,
  KMSClient,
  KMSServiceException,
  ListAliasesCommand,
  ListKeyPoliciesCommand,
  ListKeyRotationsCommand,
  ListKeysCommand,
  ListResourceTagsCommand,
  PutKeyPolicyCommand,
  ReEncryptCommand,
  RotateKeyOnDemandCommand,
  ScheduleKeyDeletionCommand,
  SignCommand,
  TagResourceCommand,
  UntagResourceCommand,
  UpdateAliasCommand,
  UpdateKeyDescriptionCommand,
  VerifyCommand,
} from '@aws-sdk/client-kms';
import { sovraCli, startUnsealedSovra, unseal } from '../helpers/unsealed-sovra.ts';
import { createTestSchema, type TestSchema } from '../helpers/postgres.ts';
import { removeDir, TEST_REGION, type MetadataBackend, type SovraProcess } from '../helpers/sovra-process.ts';

const run = promisify(execFile);
/** Debian's AWS CLI, installed by scripts/system-deps.sh; its absence fails the suite. */
const AWS = '/usr/bin/aws';

/** The AWS error name and HTTP status an SDK call fails with. */
async function kmsError(
  promise: Promise<unknown>,
): Promise<{ name: string; status: number | undefined; message: string }> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof KMSServiceException) {
      return { name: error.name, status: error.$metadata.httpStatusCode, message: error.message };
    }
    throw error;
  }
  assert.fail('expected the call to fail');
}

function kmsSuite(metadata: MetadataBackend): void {
  describe(`KMS API on ${metadata}: @aws-sdk/client-kms and aws kms against the real server`, () => {
    let sovra: SovraProcess & { shares?: string[] };
    let schema: TestSchema | null = null;
    let kms: KMSClient;
    let work: string;

    before(async () => {
      assert.ok(existsSync(AWS), `${AWS} is required (run scripts/system-deps.sh)`);
      if (metadata === 'postgres') schema = await createTestSchema();
      sovra = await startUnsealedSovra(metadata, schema);
      kms = new KMSClient({ endpoint: sovra.endpoint, region: TEST_REGION, credentials: sovra.credentials });
      work = mkdtempSync(join(tmpdir(), 'sovra-kms-cli-'));
    });

    after(async () => {
      kms?.destroy();
      await sovra?.stop();
      if (sovra !== undefined) removeDir(sovra.dataDir);
      if (work !== undefined) removeDir(work);
      await schema?.drop();
    });

    describe('with @aws-sdk/client-kms', () => {
      it('CreateKey, DescribeKey (id, ARN, alias), UpdateKeyDescription and ListKeys in pages', async () => {
        const created = await kms.send(
          new CreateKeyCommand({ Description: 'payroll', Tags: [{ TagKey: 'team', TagValue: 'finance' }] }),
        );
        const key = created.KeyMetadata!;
        assert.equal(key.KeySpec, 'SYMMETRIC_DEFAULT');
        assert.equal(key.KeyUsage, 'ENCRYPT_DECRYPT');
        assert.equal(key.KeyState, 'Enabled');
        assert.equal(key.Enabled, true);
        assert.equal(key.Arn, `arn:aws:kms:${TEST_REGION}:root:key/${key.KeyId}`);
        assert.ok(
          key.CreationDate instanceof Date && Math.abs(key.CreationDate.getTime() - Date.now()) < 60_000,
        );
        assert.deepEqual(key.EncryptionAlgorithms, ['SYMMETRIC_DEFAULT']);
        await kms.send(new CreateAliasCommand({ AliasName: 'alias/payroll', TargetKeyId: key.KeyId }));
        for (const KeyId of [
          key.KeyId!,
          key.Arn,
          'alias/payroll',
          `arn:aws:kms:${TEST_REGION}:root:alias/payroll`,
        ]) {
          assert.equal((await kms.send(new DescribeKeyCommand({ KeyId }))).KeyMetadata?.KeyId, key.KeyId);
        }
        await kms.send(new UpdateKeyDescriptionCommand({ KeyId: key.KeyId, Description: 'payroll 2' }));
        assert.equal(
          (await kms.send(new DescribeKeyCommand({ KeyId: key.KeyId }))).KeyMetadata?.Description,
          'payroll 2',
        );
        await kms.send(new CreateKeyCommand({}));
        const seen: string[] = [];
        let Marker: string | undefined;
        for (;;) {
          const page = await kms.send(new ListKeysCommand({ Limit: 1, Marker }));
          seen.push(...page.Keys!.map((entry) => entry.KeyId!));
          if (page.Truncated !== true) break;
          Marker = page.NextMarker;
        }
        assert.ok(seen.includes(key.KeyId!));
        assert.ok(seen.length >= 2);
        const missing = await kmsError(kms.send(new DescribeKeyCommand({ KeyId: randomUuid() })));
        assert.deepEqual([missing.name, missing.status], ['NotFoundException', 400]);
      });

      it('Encrypt and Decrypt with an encryption context; a different context is InvalidCiphertextException', async () => {
        const { KeyMetadata } = await kms.send(new CreateKeyCommand({}));
        const context = { bucket: 'b', object: 'k' };
        const encrypted = await kms.send(
          new EncryptCommand({
            KeyId: KeyMetadata!.KeyId,
            Plaintext: Buffer.from('top secret'),
            EncryptionContext: context,
          }),
        );
        assert.equal(encrypted.KeyId, KeyMetadata!.Arn);
        assert.equal(encrypted.EncryptionAlgorithm, 'SYMMETRIC_DEFAULT');
        const decrypted = await kms.send(
          new DecryptCommand({
            CiphertextBlob: encrypted.CiphertextBlob,
            EncryptionContext: { object: 'k', bucket: 'b' },
          }),
        );
        assert.equal(Buffer.from(decrypted.Plaintext!).toString(), 'top secret');
        assert.equal(decrypted.KeyId, KeyMetadata!.Arn);
        const wrong = await kmsError(
          kms.send(
            new DecryptCommand({
              CiphertextBlob: encrypted.CiphertextBlob,
              EncryptionContext: { bucket: 'other' },
            }),
          ),
        );
        assert.deepEqual([wrong.name, wrong.status], ['InvalidCiphertextException', 400]);
        const other = await kms.send(new CreateKeyCommand({}));
        const incorrect = await kmsError(
          kms.send(
            new DecryptCommand({
              CiphertextBlob: encrypted.CiphertextBlob,
              EncryptionContext: context,
              KeyId: other.KeyMetadata!.KeyId,
            }),
          ),
        );
        assert.equal(incorrect.name, 'IncorrectKeyException');
        const tooBig = await kmsError(
          kms.send(new EncryptCommand({ KeyId: KeyMetadata!.KeyId, Plaintext: Buffer.alloc(4097) })),
        );
        assert.equal(tooBig.name, 'ValidationException');
      });

      it('GenerateDataKey, GenerateDataKeyWithoutPlaintext, ReEncrypt and GenerateRandom', async () => {
        const source = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!;
        const destination = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!;
        const context = { object: 'photos/1.jpg' };
        const dataKey = await kms.send(
          new GenerateDataKeyCommand({ KeyId: source.KeyId, KeySpec: 'AES_256', EncryptionContext: context }),
        );
        assert.equal(dataKey.Plaintext?.length, 32);
        const opened = await kms.send(
          new DecryptCommand({ CiphertextBlob: dataKey.CiphertextBlob, EncryptionContext: context }),
        );
        assert.deepEqual(Buffer.from(opened.Plaintext!), Buffer.from(dataKey.Plaintext));
        const sealedOnly = await kms.send(
          new GenerateDataKeyWithoutPlaintextCommand({
            KeyId: source.KeyId,
            NumberOfBytes: 16,
            EncryptionContext: context,
          }),
        );
        assert.ok(!('Plaintext' in sealedOnly));
        assert.equal(
          (
            await kms.send(
              new DecryptCommand({ CiphertextBlob: sealedOnly.CiphertextBlob, EncryptionContext: context }),
            )
          ).Plaintext?.length,
          16,
        );
        const neither = await kmsError(kms.send(new GenerateDataKeyCommand({ KeyId: source.KeyId })));
        assert.equal(neither.name, 'ValidationException');
        const moved = await kms.send(
          new ReEncryptCommand({
            CiphertextBlob: dataKey.CiphertextBlob,
            SourceEncryptionContext: context,
            DestinationKeyId: destination.KeyId,
            DestinationEncryptionContext: { moved: 'yes' },
          }),
        );
        assert.equal(moved.SourceKeyId, source.Arn);
        assert.equal(moved.KeyId, destination.Arn);
        const reopened = await kms.send(
          new DecryptCommand({ CiphertextBlob: moved.CiphertextBlob, EncryptionContext: { moved: 'yes' } }),
        );
        assert.deepEqual(Buffer.from(reopened.Plaintext!), Buffer.from(dataKey.Plaintext));
        const random = await kms.send(new GenerateRandomCommand({ NumberOfBytes: 64 }));
        assert.equal(random.Plaintext?.length, 64);
        const tooMany = await kmsError(kms.send(new GenerateRandomCommand({ NumberOfBytes: 1025 })));
        assert.equal(tooMany.name, 'ValidationException');
      });

      it('DisableKey makes use fail with DisabledException; EnableKey restores it', async () => {
        const key = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!;
        const encrypted = await kms.send(
          new EncryptCommand({ KeyId: key.KeyId, Plaintext: Buffer.from('x') }),
        );
        await kms.send(new DisableKeyCommand({ KeyId: key.KeyId }));
        assert.equal(
          (await kms.send(new DescribeKeyCommand({ KeyId: key.KeyId }))).KeyMetadata?.KeyState,
          'Disabled',
        );
        assert.equal(
          (await kmsError(kms.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: Buffer.from('x') }))))
            .name,
          'DisabledException',
        );
        assert.equal(
          (await kmsError(kms.send(new DecryptCommand({ CiphertextBlob: encrypted.CiphertextBlob })))).name,
          'DisabledException',
        );
        await kms.send(new EnableKeyCommand({ KeyId: key.KeyId }));
        const decrypted = await kms.send(new DecryptCommand({ CiphertextBlob: encrypted.CiphertextBlob }));
        assert.equal(Buffer.from(decrypted.Plaintext!).toString(), 'x');
      });

      it('CreateAlias, ListAliases, UpdateAlias and DeleteAlias; duplicates and reserved names are refused', async () => {
        const one = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!;
        const two = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!;
        await kms.send(new CreateAliasCommand({ AliasName: 'alias/app/current', TargetKeyId: one.KeyId }));
        const duplicate = await kmsError(
          kms.send(new CreateAliasCommand({ AliasName: 'alias/app/current', TargetKeyId: two.KeyId })),
        );
        assert.equal(duplicate.name, 'AlreadyExistsException');
        const reserved = await kmsError(
          kms.send(new CreateAliasCommand({ AliasName: 'alias/aws/s3', TargetKeyId: two.KeyId })),
        );
        assert.equal(reserved.name, 'InvalidAliasNameException');
        const listed = await kms.send(new ListAliasesCommand({ KeyId: one.KeyId }));
        assert.deepEqual(
          listed.Aliases?.map((alias) => [alias.AliasName, alias.TargetKeyId, alias.AliasArn]),
          [['alias/app/current', one.KeyId, `arn:aws:kms:${TEST_REGION}:root:alias/app/current`]],
        );
        assert.ok(listed.Aliases?.[0]?.CreationDate instanceof Date);
        await kms.send(new UpdateAliasCommand({ AliasName: 'alias/app/current', TargetKeyId: two.KeyId }));
        assert.equal(
          (await kms.send(new DescribeKeyCommand({ KeyId: 'alias/app/current' }))).KeyMetadata?.KeyId,
          two.KeyId,
        );
        const all = await kms.send(new ListAliasesCommand({}));
        assert.ok(all.Aliases?.some((alias) => alias.AliasName === 'alias/app/current'));
        await kms.send(new DeleteAliasCommand({ AliasName: 'alias/app/current' }));
        const gone = await kmsError(kms.send(new DescribeKeyCommand({ KeyId: 'alias/app/current' })));
        assert.equal(gone.name, 'NotFoundException');
      });

      it('rotation: status, enable with a period, rotate on demand (older versions keep decrypting), list rotations, disable', async () => {
        const key = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!;
        const before = await kms.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: Buffer.from('v1') }));
        assert.equal(
          (await kms.send(new GetKeyRotationStatusCommand({ KeyId: key.KeyId }))).KeyRotationEnabled,
          false,
        );
        await kms.send(new EnableKeyRotationCommand({ KeyId: key.KeyId, RotationPeriodInDays: 180 }));
        const status = await kms.send(new GetKeyRotationStatusCommand({ KeyId: key.KeyId }));
        assert.equal(status.KeyRotationEnabled, true);
        assert.equal(status.RotationPeriodInDays, 180);
        assert.ok(status.NextRotationDate instanceof Date);
        const rotated = await kms.send(new RotateKeyOnDemandCommand({ KeyId: key.KeyId }));
        assert.equal(rotated.KeyId, key.Arn);
        const rotations = await kms.send(new ListKeyRotationsCommand({ KeyId: key.KeyId }));
        assert.equal(rotations.Rotations?.length, 1);
        assert.equal(rotations.Rotations?.[0]?.RotationType, 'ON_DEMAND');
        const afterRotation = await kms.send(
          new EncryptCommand({ KeyId: key.KeyId, Plaintext: Buffer.from('v2') }),
        );
        assert.notDeepEqual(
          Buffer.from(afterRotation.CiphertextBlob!).subarray(17, 21),
          Buffer.from(before.CiphertextBlob!).subarray(17, 21),
        );
        assert.equal(
          Buffer.from(
            (await kms.send(new DecryptCommand({ CiphertextBlob: before.CiphertextBlob }))).Plaintext!,
          ).toString(),
          'v1',
        );
        assert.equal(
          Buffer.from(
            (await kms.send(new DecryptCommand({ CiphertextBlob: afterRotation.CiphertextBlob }))).Plaintext!,
          ).toString(),
          'v2',
        );
        await kms.send(new DisableKeyRotationCommand({ KeyId: key.KeyId }));
        assert.equal(
          (await kms.send(new GetKeyRotationStatusCommand({ KeyId: key.KeyId }))).KeyRotationEnabled,
          false,
        );
        const badPeriod = await kmsError(
          kms.send(new EnableKeyRotationCommand({ KeyId: key.KeyId, RotationPeriodInDays: 30 })),
        );
        assert.equal(badPeriod.name, 'ValidationException');
      });

      it('ScheduleKeyDeletion (7–30 days) makes the key KMSInvalidStateException; CancelKeyDeletion leaves it Disabled', async () => {
        const key = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!;
        const scheduled = await kms.send(
          new ScheduleKeyDeletionCommand({ KeyId: key.KeyId, PendingWindowInDays: 7 }),
        );
        assert.equal(scheduled.KeyState, 'PendingDeletion');
        assert.equal(scheduled.PendingWindowInDays, 7);
        assert.ok(Math.abs(scheduled.DeletionDate!.getTime() - (Date.now() + 7 * 86_400_000)) < 60_000);
        const described = (await kms.send(new DescribeKeyCommand({ KeyId: key.KeyId }))).KeyMetadata!;
        assert.equal(described.KeyState, 'PendingDeletion');
        assert.ok(described.DeletionDate instanceof Date);
        const use = await kmsError(
          kms.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: Buffer.from('x') })),
        );
        assert.deepEqual([use.name, use.status], ['KMSInvalidStateException', 400]);
        const window = await kmsError(
          kms.send(new ScheduleKeyDeletionCommand({ KeyId: key.KeyId, PendingWindowInDays: 6 })),
        );
        assert.equal(window.name, 'ValidationException');
        const cancelled = await kms.send(new CancelKeyDeletionCommand({ KeyId: key.KeyId }));
        assert.equal(cancelled.KeyId, key.Arn);
        assert.equal(
          (await kms.send(new DescribeKeyCommand({ KeyId: key.KeyId }))).KeyMetadata?.KeyState,
          'Disabled',
        );
      });

      it('TagResource, ListResourceTags, UntagResource; GetKeyPolicy, PutKeyPolicy, ListKeyPolicies', async () => {
        const key = (await kms.send(new CreateKeyCommand({ Tags: [{ TagKey: 'a', TagValue: '1' }] })))
          .KeyMetadata!;
        await kms.send(new TagResourceCommand({ KeyId: key.KeyId, Tags: [{ TagKey: 'b', TagValue: '2' }] }));
        assert.deepEqual((await kms.send(new ListResourceTagsCommand({ KeyId: key.KeyId }))).Tags, [
          { TagKey: 'a', TagValue: '1' },
          { TagKey: 'b', TagValue: '2' },
        ]);
        await kms.send(new UntagResourceCommand({ KeyId: key.KeyId, TagKeys: ['a'] }));
        assert.deepEqual((await kms.send(new ListResourceTagsCommand({ KeyId: key.KeyId }))).Tags, [
          { TagKey: 'b', TagValue: '2' },
        ]);
        const reservedTag = await kmsError(
          kms.send(new TagResourceCommand({ KeyId: key.KeyId, Tags: [{ TagKey: 'aws:x', TagValue: '' }] })),
        );
        assert.equal(reservedTag.name, 'TagException');
        const policy = await kms.send(new GetKeyPolicyCommand({ KeyId: key.KeyId, PolicyName: 'default' }));
        assert.equal(policy.PolicyName, 'default');
        assert.match(policy.Policy!, /arn:aws:iam::root:root/);
        const replacement = JSON.stringify({
          Version: '2012-10-17',
          Statement: [
            {
              Sid: 'all',
              Effect: 'Allow',
              Principal: { AWS: 'arn:aws:iam::root:root' },
              Action: 'kms:*',
              Resource: '*',
            },
          ],
        });
        await kms.send(
          new PutKeyPolicyCommand({ KeyId: key.KeyId, PolicyName: 'default', Policy: replacement }),
        );
        assert.equal((await kms.send(new GetKeyPolicyCommand({ KeyId: key.KeyId }))).Policy, replacement);
        const malformed = await kmsError(
          kms.send(new PutKeyPolicyCommand({ KeyId: key.KeyId, PolicyName: 'default', Policy: '{' })),
        );
        assert.equal(malformed.name, 'MalformedPolicyDocumentException');
        assert.deepEqual((await kms.send(new ListKeyPoliciesCommand({ KeyId: key.KeyId }))).PolicyNames, [
          'default',
        ]);
      });

      for (const [KeySpec, SigningAlgorithm, digest] of [
        ['ECC_NIST_P256', 'ECDSA_SHA_256', 'sha256'],
        ['ML_DSA_65', 'ML_DSA_SHAKE_256', null],
      ] as const) {
        it(`${KeySpec}: Sign, Verify and GetPublicKey; a changed message is KMSInvalidSignatureException`, async () => {
          const key = (await kms.send(new CreateKeyCommand({ KeySpec, KeyUsage: 'SIGN_VERIFY' })))
            .KeyMetadata!;
          assert.deepEqual(key.SigningAlgorithms, [SigningAlgorithm]);
          const Message = Buffer.from('a sovereign statement');
          const signed = await kms.send(
            new SignCommand({ KeyId: key.KeyId, Message, MessageType: 'RAW', SigningAlgorithm }),
          );
          assert.equal(signed.SigningAlgorithm, SigningAlgorithm);
          const verified = await kms.send(
            new VerifyCommand({ KeyId: key.KeyId, Message, Signature: signed.Signature, SigningAlgorithm }),
          );
          assert.equal(verified.SignatureValid, true);
          const published = await kms.send(new GetPublicKeyCommand({ KeyId: key.KeyId }));
          assert.equal(published.KeySpec, KeySpec);
          const publicKey = createPublicKey({
            key: Buffer.from(published.PublicKey!),
            format: 'der',
            type: 'spki',
          });
          assert.ok(verifyWithNode(digest, Message, publicKey, Buffer.from(signed.Signature!)));
          const altered = await kmsError(
            kms.send(
              new VerifyCommand({
                KeyId: key.KeyId,
                Message: Buffer.from('altered'),
                Signature: signed.Signature,
                SigningAlgorithm,
              }),
            ),
          );
          assert.equal(altered.name, 'KMSInvalidSignatureException');
          const usage = await kmsError(
            kms.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: Buffer.from('x') })),
          );
          assert.equal(usage.name, 'InvalidKeyUsageException');
        });
      }

      it('ECC_NIST_P256: a DIGEST is signed as it is, RAW and DIGEST verify each other, node:crypto agrees', async () => {
        const SigningAlgorithm = 'ECDSA_SHA_256';
        const KeyId = (
          await kms.send(new CreateKeyCommand({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' }))
        ).KeyMetadata!.KeyId;
        const Message = Buffer.from('a release manifest, hashed by its author before signing');
        const digest = createHash('sha256').update(Message).digest();
        const publicKey = createPublicKey({
          key: Buffer.from((await kms.send(new GetPublicKeyCommand({ KeyId }))).PublicKey!),
          format: 'der',
          type: 'spki',
        });
        const valid = async (input: {
          Message: Uint8Array;
          MessageType: 'RAW' | 'DIGEST';
          Signature: Uint8Array;
        }) => (await kms.send(new VerifyCommand({ KeyId, SigningAlgorithm, ...input }))).SignatureValid;

        const ofDigest = await kms.send(
          new SignCommand({ KeyId, Message: digest, MessageType: 'DIGEST', SigningAlgorithm }),
        );
        assert.equal(ofDigest.SigningAlgorithm, SigningAlgorithm);
        const ofDigestSignature = Buffer.from(ofDigest.Signature!);
        assert.equal(await valid({ Message, MessageType: 'RAW', Signature: ofDigestSignature }), true);
        assert.equal(
          await valid({ Message: digest, MessageType: 'DIGEST', Signature: ofDigestSignature }),
          true,
        );
        assert.ok(verifyWithNode('sha256', Message, publicKey, ofDigestSignature));

        const ofMessage = await kms.send(
          new SignCommand({ KeyId, Message, MessageType: 'RAW', SigningAlgorithm }),
        );
        const ofMessageSignature = Buffer.from(ofMessage.Signature!);
        assert.equal(
          await valid({ Message: digest, MessageType: 'DIGEST', Signature: ofMessageSignature }),
          true,
        );
        assert.ok(verifyWithNode('sha256', Message, publicKey, ofMessageSignature));

        // A digest sent as RAW is hashed once more (as AWS warns), so it is not the message's signature.
        const hashedTwice = await kms.send(
          new SignCommand({ KeyId, Message: digest, MessageType: 'RAW', SigningAlgorithm }),
        );
        assert.equal(
          verifyWithNode('sha256', Message, publicKey, Buffer.from(hashedTwice.Signature!)),
          false,
        );
        const mismatch = await kmsError(
          valid({ Message: digest, MessageType: 'DIGEST', Signature: Buffer.from(hashedTwice.Signature!) }),
        );
        assert.equal(mismatch.name, 'KMSInvalidSignatureException');

        // The digest must be as long as SHA-256's output.
        for (const length of [20, 31, 33, 48, 64]) {
          const wrongLength = await kmsError(
            kms.send(
              new SignCommand({
                KeyId,
                Message: randomBytes(length),
                MessageType: 'DIGEST',
                SigningAlgorithm,
              }),
            ),
          );
          assert.deepEqual(
            [wrongLength.name, wrongLength.status],
            ['ValidationException', 400],
            `${length} bytes`,
          );
        }
        const wrongVerify = await kmsError(
          valid({ Message: digest.subarray(0, 20), MessageType: 'DIGEST', Signature: ofDigestSignature }),
        );
        assert.equal(wrongVerify.name, 'ValidationException');
        const externalMu = await kmsError(
          kms.send(
            new SignCommand({
              KeyId,
              Message: randomBytes(64),
              MessageType: 'EXTERNAL_MU',
              SigningAlgorithm,
            }),
          ),
        );
        assert.equal(externalMu.name, 'ValidationException');
      });

      it('ML_DSA_65: DIGEST is ValidationException; EXTERNAL_MU is UnsupportedOperationException', async () => {
        const SigningAlgorithm = 'ML_DSA_SHAKE_256';
        const KeyId = (
          await kms.send(new CreateKeyCommand({ KeySpec: 'ML_DSA_65', KeyUsage: 'SIGN_VERIFY' }))
        ).KeyMetadata!.KeyId;
        for (const Message of [randomBytes(32), randomBytes(64)]) {
          const digest = await kmsError(
            kms.send(new SignCommand({ KeyId, Message, MessageType: 'DIGEST', SigningAlgorithm })),
          );
          assert.deepEqual([digest.name, digest.status], ['ValidationException', 400]);
        }
        const mu = await kmsError(
          kms.send(
            new SignCommand({
              KeyId,
              Message: randomBytes(64),
              MessageType: 'EXTERNAL_MU',
              SigningAlgorithm,
            }),
          ),
        );
        assert.equal(mu.name, 'UnsupportedOperationException');
        const shortMu = await kmsError(
          kms.send(
            new SignCommand({
              KeyId,
              Message: randomBytes(32),
              MessageType: 'EXTERNAL_MU',
              SigningAlgorithm,
            }),
          ),
        );
        assert.equal(shortMu.name, 'ValidationException');
        const signed = await kms.send(
          new SignCommand({ KeyId, Message: Buffer.from('m'), SigningAlgorithm }),
        );
        const verifyMu = await kmsError(
          kms.send(
            new VerifyCommand({
              KeyId,
              Message: randomBytes(64),
              MessageType: 'EXTERNAL_MU',
              Signature: signed.Signature,
              SigningAlgorithm,
            }),
          ),
        );
        assert.equal(verifyMu.name, 'UnsupportedOperationException');
      });

      it('a wrong secret is refused before anything runs', async () => {
        const forged = new KMSClient({
          endpoint: sovra.endpoint,
          region: TEST_REGION,
          credentials: { accessKeyId: sovra.credentials.accessKeyId, secretAccessKey: 'x'.repeat(40) },
        });
        const refused = await kmsError(forged.send(new ListKeysCommand({})));
        assert.equal(refused.name, 'InvalidSignatureException');
        forged.destroy();
        const unknown = new KMSClient({
          endpoint: sovra.endpoint,
          region: TEST_REGION,
          credentials: { accessKeyId: 'SVRAUNKNOWNKEY000000', secretAccessKey: 'x'.repeat(40) },
        });
        assert.equal(
          (await kmsError(unknown.send(new ListKeysCommand({})))).name,
          'UnrecognizedClientException',
        );
        unknown.destroy();
      });

      it('sealed, key use answers 503 KMSInternalException saying so; unsealed again, it works', async () => {
        const key = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!;
        const encrypted = await kms.send(
          new EncryptCommand({ KeyId: key.KeyId, Plaintext: Buffer.from('x') }),
        );
        await sovraCli([
          'operator',
          'seal',
          '--endpoint',
          sovra.endpoint,
          '--credentials',
          join(sovra.dataDir, 'admin-credentials.json'),
        ]);
        const once = new KMSClient({
          endpoint: sovra.endpoint,
          region: TEST_REGION,
          credentials: sovra.credentials,
          maxAttempts: 1,
        });
        const sealed = await kmsError(
          once.send(new DecryptCommand({ CiphertextBlob: encrypted.CiphertextBlob })),
        );
        assert.deepEqual([sealed.name, sealed.status], ['KMSInternalException', 503]);
        assert.match(sealed.message, /sealed/);
        // Nothing authenticates while sealed (credential secrets are under the root, decision 0005).
        const described = await kmsError(once.send(new DescribeKeyCommand({ KeyId: key.KeyId })));
        assert.deepEqual([described.name, described.status], ['KMSInternalException', 503]);
        once.destroy();
        for (const share of sovra.shares!.slice(1)) await unseal(sovra, share);
        const decrypted = await kms.send(new DecryptCommand({ CiphertextBlob: encrypted.CiphertextBlob }));
        assert.equal(Buffer.from(decrypted.Plaintext!).toString(), 'x');
      });
    });

    describe('with Debian’s aws kms', () => {
      const env = () => {
        const copy: NodeJS.ProcessEnv = {
          ...process.env,
          AWS_ACCESS_KEY_ID: sovra.credentials.accessKeyId,
          AWS_SECRET_ACCESS_KEY: sovra.credentials.secretAccessKey,
          AWS_DEFAULT_REGION: TEST_REGION,
          AWS_CONFIG_FILE: join(work, 'no-aws-config'),
          AWS_SHARED_CREDENTIALS_FILE: join(work, 'no-aws-credentials'),
          AWS_EC2_METADATA_DISABLED: 'true',
          AWS_PAGER: '',
        };
        delete copy.AWS_CA_BUNDLE;
        delete copy.AWS_PROFILE;
        return copy;
      };
      const aws = async (...args: string[]) =>
        (
          await run(AWS, ['--endpoint-url', sovra.endpoint, '--output', 'json', 'kms', ...args], {
            env: env(),
          })
        ).stdout;

      it('create-key, create-alias, list-aliases, describe-key, encrypt, decrypt, generate-data-key, schedule-key-deletion', async () => {
        const created = JSON.parse(await aws('create-key', '--description', 'from the cli')) as {
          KeyMetadata: { KeyId: string; Arn: string };
        };
        const keyId = created.KeyMetadata.KeyId;
        await aws('create-alias', '--alias-name', 'alias/cli', '--target-key-id', keyId);
        const aliases = JSON.parse(await aws('list-aliases')) as {
          Aliases: { AliasName: string; TargetKeyId: string }[];
        };
        assert.ok(
          aliases.Aliases.some((alias) => alias.AliasName === 'alias/cli' && alias.TargetKeyId === keyId),
        );
        const described = JSON.parse(await aws('describe-key', '--key-id', 'alias/cli')) as {
          KeyMetadata: { Description: string };
        };
        assert.equal(described.KeyMetadata.Description, 'from the cli');

        const plaintext = randomBytes(200);
        writeFileSync(join(work, 'plain.bin'), plaintext);
        const encrypted = JSON.parse(
          await aws(
            'encrypt',
            '--key-id',
            'alias/cli',
            '--plaintext',
            `fileb://${join(work, 'plain.bin')}`,
            '--encryption-context',
            'purpose=cli',
          ),
        ) as { CiphertextBlob: string; KeyId: string };
        assert.equal(encrypted.KeyId, created.KeyMetadata.Arn);
        writeFileSync(join(work, 'cipher.bin'), Buffer.from(encrypted.CiphertextBlob, 'base64'));
        const decrypted = JSON.parse(
          await aws(
            'decrypt',
            '--ciphertext-blob',
            `fileb://${join(work, 'cipher.bin')}`,
            '--encryption-context',
            'purpose=cli',
          ),
        ) as { Plaintext: string };
        assert.deepEqual(Buffer.from(decrypted.Plaintext, 'base64'), plaintext);
        await assert.rejects(
          aws(
            'decrypt',
            '--ciphertext-blob',
            `fileb://${join(work, 'cipher.bin')}`,
            '--encryption-context',
            'purpose=other',
          ),
          /InvalidCiphertextException/,
        );

        const dataKey = JSON.parse(
          await aws('generate-data-key', '--key-id', keyId, '--key-spec', 'AES_256'),
        ) as {
          Plaintext: string;
          CiphertextBlob: string;
        };
        assert.equal(Buffer.from(dataKey.Plaintext, 'base64').length, 32);
        writeFileSync(join(work, 'datakey.bin'), Buffer.from(dataKey.CiphertextBlob, 'base64'));
        const reopened = JSON.parse(
          await aws('decrypt', '--ciphertext-blob', `fileb://${join(work, 'datakey.bin')}`),
        ) as {
          Plaintext: string;
        };
        assert.equal(reopened.Plaintext, dataKey.Plaintext);

        const scheduled = JSON.parse(
          await aws('schedule-key-deletion', '--key-id', keyId, '--pending-window-in-days', '7'),
        ) as {
          KeyState: string;
        };
        assert.equal(scheduled.KeyState, 'PendingDeletion');
        await assert.rejects(aws('describe-key', '--key-id', randomUuid()), /NotFoundException/);
      });

      it('get-public-key, sign and verify with an ECC_NIST_P256 key', async () => {
        const created = JSON.parse(
          await aws('create-key', '--key-spec', 'ECC_NIST_P256', '--key-usage', 'SIGN_VERIFY'),
        ) as {
          KeyMetadata: { KeyId: string };
        };
        const keyId = created.KeyMetadata.KeyId;
        writeFileSync(join(work, 'message.txt'), 'signed by the cli');
        const signed = JSON.parse(
          await aws(
            'sign',
            '--key-id',
            keyId,
            '--message',
            `fileb://${join(work, 'message.txt')}`,
            '--message-type',
            'RAW',
            '--signing-algorithm',
            'ECDSA_SHA_256',
          ),
        ) as { Signature: string };
        writeFileSync(join(work, 'signature.bin'), Buffer.from(signed.Signature, 'base64'));
        const verified = JSON.parse(
          await aws(
            'verify',
            '--key-id',
            keyId,
            '--message',
            `fileb://${join(work, 'message.txt')}`,
            '--message-type',
            'RAW',
            '--signature',
            `fileb://${join(work, 'signature.bin')}`,
            '--signing-algorithm',
            'ECDSA_SHA_256',
          ),
        ) as { SignatureValid: boolean };
        assert.equal(verified.SignatureValid, true);
        const published = JSON.parse(await aws('get-public-key', '--key-id', keyId)) as { PublicKey: string };
        const publicKey = createPublicKey({
          key: Buffer.from(published.PublicKey, 'base64'),
          format: 'der',
          type: 'spki',
        });
        assert.ok(
          verifyWithNode(
            'sha256',
            readFileSync(join(work, 'message.txt')),
            publicKey,
            Buffer.from(signed.Signature, 'base64'),
          ),
        );
      });
    });
  });
}

function randomUuid(): string {
  const hex = randomBytes(16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20)}`;
}

kmsSuite('sqlite');
kmsSuite('postgres');
