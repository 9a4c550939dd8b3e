import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { GetObjectCommand, PutObjectCommand, CreateBucketCommand } from '@aws-sdk/client-s3';
import { removeDir, startSovra } from '../helpers/sovra-process.ts';
import { encryptionSuite } from './s3-encryption.suite.ts';

encryptionSuite('sqlite');

describe('the default root of trust (local-key) encrypts at rest', () => {
  it('a server started with default settings creates keys/root.key (0600), warns, and stores objects encrypted', async () => {
    const sovra = await startSovra();
    const s3 = sovra.client();
    try {
      const mode = statSync(join(sovra.dataDir, 'keys', 'root.key')).mode & 0o777;
      assert.equal(mode, 0o600);
      assert.ok(sovra.logs.some((line) => line.includes('NOT FOR PRODUCTION')));
      await s3.send(new CreateBucketCommand({ Bucket: 'default' }));
      const canary = Buffer.alloc(64 * 1024, 'DEFAULT-ROOT-CANARY ');
      const put = await s3.send(new PutObjectCommand({ Bucket: 'default', Key: 'k', Body: canary }));
      assert.equal(put.ServerSideEncryption, 'AES256');
      const got = await s3.send(new GetObjectCommand({ Bucket: 'default', Key: 'k' }));
      assert.ok(Buffer.from(await got.Body!.transformToByteArray()).equals(canary));
      const blobs = join(sovra.dataDir, 'blobs');
      const files = readdirSync(blobs, { recursive: true, withFileTypes: true }).filter((e) => e.isFile());
      assert.ok(files.length > 0);
      for (const entry of files) {
        const bytes = readFileSync(join(entry.parentPath, entry.name));
        assert.equal(bytes.indexOf('DEFAULT-ROOT-CANARY'), -1);
      }
    } finally {
      s3.destroy();
      await sovra.stop();
      removeDir(sovra.dataDir);
    }
  });
});
