import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { removeDir, startSovra, TEST_REGION, type SovraProcess } from '../helpers/sovra-process.ts';

const run = promisify(execFile);
const MiB = 1024 * 1024;

/** Debian's clients, installed by scripts/system-deps.sh; their absence fails the suite. */
const AWS = '/usr/bin/aws';
const S3CMD = '/usr/bin/s3cmd';
const RCLONE = '/usr/bin/rclone';

function withoutVariables(env: NodeJS.ProcessEnv, names: string[]): NodeJS.ProcessEnv {
  const copy = { ...env };
  for (const name of names) delete copy[name];
  return copy;
}

function md5File(path: string): string {
  return createHash('md5').update(readFileSync(path)).digest('hex');
}

describe('standard S3 clients against the real server (awscli, s3cmd, rclone)', () => {
  let sovra: SovraProcess;
  let work: string;
  let small: string;
  let large: string;

  before(async () => {
    for (const tool of [AWS, S3CMD, RCLONE]) {
      assert.ok(existsSync(tool), `${tool} is required (run scripts/system-deps.sh)`);
    }
    sovra = await startSovra();
    work = mkdtempSync(join(tmpdir(), 'sovra-clients-'));
    small = join(work, 'small.txt');
    large = join(work, 'large.bin');
    writeFileSync(small, 'hello from a sovereign cloud\n');
    writeFileSync(large, randomBytes(21 * MiB));
  });

  after(async () => {
    await sovra?.stop();
    if (sovra !== undefined) removeDir(sovra.dataDir);
    if (work !== undefined) removeDir(work);
  });

  describe('awscli (aws s3 and aws s3api)', () => {
    const env = () => ({
      ...process.env,
      AWS_ACCESS_KEY_ID: sovra.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: sovra.credentials.secretAccessKey,
      AWS_DEFAULT_REGION: TEST_REGION,
      AWS_CONFIG_FILE: join(work, 'no-aws-config'),
      AWS_SHARED_CREDENTIALS_FILE: join(work, 'no-aws-credentials'),
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_PAGER: '',
    });
    const aws = async (...args: string[]) =>
      (await run(AWS, ['--endpoint-url', sovra.endpoint, ...args], { env: env(), maxBuffer: 64 * MiB }))
        .stdout;

    it('aws s3 makes a bucket, copies small and multipart files both ways, lists, syncs and removes', async () => {
      await aws('s3', 'mb', 's3://cli-aws');
      await aws('s3', 'cp', small, 's3://cli-aws/dir/small.txt');
      await aws('s3', 'cp', large, 's3://cli-aws/dir/large.bin');
      const listing = await aws('s3', 'ls', 's3://cli-aws/dir/');
      assert.match(listing, /small\.txt/);
      assert.match(listing, /large\.bin/);
      const back = join(work, 'aws-back.bin');
      await aws('s3', 'cp', 's3://cli-aws/dir/large.bin', back);
      assert.equal(md5File(back), md5File(large));
      const syncSource = join(work, 'sync-src');
      mkdirSync(syncSource);
      for (let i = 0; i < 5; i++) writeFileSync(join(syncSource, `f${i}.txt`), `file ${i}`);
      await aws('s3', 'sync', syncSource, 's3://cli-aws/sync/');
      const synced = await aws('s3', 'ls', 's3://cli-aws/sync/');
      assert.equal(synced.trim().split('\n').length, 5);
      await aws('s3', 'rm', '--recursive', 's3://cli-aws/');
      await aws('s3', 'rb', 's3://cli-aws');
    });

    it('aws s3api drives object calls and reports S3 errors', async () => {
      await aws('s3api', 'create-bucket', '--bucket', 'cli-api');
      const put = JSON.parse(
        await aws(
          's3api',
          'put-object',
          '--bucket',
          'cli-api',
          '--key',
          'k',
          '--body',
          small,
          '--metadata',
          'agency=mof',
        ),
      ) as { ETag: string };
      assert.equal(put.ETag, `"${md5File(small)}"`);
      const head = JSON.parse(await aws('s3api', 'head-object', '--bucket', 'cli-api', '--key', 'k')) as {
        Metadata: Record<string, string>;
      };
      assert.deepEqual(head.Metadata, { agency: 'mof' });
      const listed = JSON.parse(await aws('s3api', 'list-objects-v2', '--bucket', 'cli-api')) as {
        Contents: { Key: string }[];
      };
      assert.deepEqual(
        listed.Contents.map((c) => c.Key),
        ['k'],
      );
      await assert.rejects(
        aws('s3api', 'get-object', '--bucket', 'cli-api', '--key', 'missing', join(work, 'x')),
        /NoSuchKey/,
      );
      await aws('s3api', 'delete-object', '--bucket', 'cli-api', '--key', 'k');
      await aws('s3api', 'delete-bucket', '--bucket', 'cli-api');
    });
  });

  describe('s3cmd', () => {
    const config = () => {
      const path = join(work, 's3cmd.cfg');
      const host = `127.0.0.1:${sovra.port}`;
      writeFileSync(
        path,
        [
          '[default]',
          `access_key = ${sovra.credentials.accessKeyId}`,
          `secret_key = ${sovra.credentials.secretAccessKey}`,
          `host_base = ${host}`,
          `host_bucket = ${host}`,
          `bucket_location = ${TEST_REGION}`,
          'use_https = False',
          'signature_v2 = False',
          'multipart_chunk_size_mb = 5',
          '',
        ].join('\n'),
        { mode: 0o600 },
      );
      return path;
    };
    const s3cmd = async (...args: string[]) =>
      (await run(S3CMD, ['-c', config(), ...args], { maxBuffer: 64 * MiB })).stdout;

    it('makes a bucket, puts (multipart) and gets files, lists, syncs and removes', async () => {
      await s3cmd('mb', 's3://cli-s3cmd');
      await s3cmd('put', small, 's3://cli-s3cmd/small.txt');
      await s3cmd('put', large, 's3://cli-s3cmd/large.bin');
      const listing = await s3cmd('ls', 's3://cli-s3cmd/');
      assert.match(listing, /large\.bin/);
      const back = join(work, 's3cmd-back.bin');
      await s3cmd('get', 's3://cli-s3cmd/large.bin', back);
      assert.equal(md5File(back), md5File(large));
      const info = await s3cmd('info', 's3://cli-s3cmd/small.txt');
      assert.match(info, new RegExp(md5File(small)));
      await s3cmd('del', 's3://cli-s3cmd/small.txt', 's3://cli-s3cmd/large.bin');
      await s3cmd('rb', 's3://cli-s3cmd');
    });
  });

  describe('rclone', () => {
    // rclone's S3 backend treats AWS_CA_BUNDLE as a CA file it must load; an inherited one breaks it.
    const env = () => ({
      ...withoutVariables(process.env, ['AWS_CA_BUNDLE']),
      RCLONE_CONFIG: join(work, 'rclone.conf'),
      RCLONE_CONFIG_SOVRA_TYPE: 's3',
      RCLONE_CONFIG_SOVRA_PROVIDER: 'Other',
      RCLONE_CONFIG_SOVRA_ACCESS_KEY_ID: sovra.credentials.accessKeyId,
      RCLONE_CONFIG_SOVRA_SECRET_ACCESS_KEY: sovra.credentials.secretAccessKey,
      RCLONE_CONFIG_SOVRA_ENDPOINT: sovra.endpoint,
      RCLONE_CONFIG_SOVRA_REGION: TEST_REGION,
      RCLONE_CONFIG_SOVRA_FORCE_PATH_STYLE: 'true',
    });
    const rclone = async (...args: string[]) =>
      (
        await run(RCLONE, ['--s3-upload-cutoff', '5M', '--s3-chunk-size', '5M', ...args], {
          env: env(),
          maxBuffer: 64 * MiB,
        })
      ).stdout;

    it('copies a directory up and back, checks it, and purges', async () => {
      const source = join(work, 'rclone-src');
      mkdirSync(source);
      writeFileSync(join(source, 'a.txt'), 'alpha');
      writeFileSync(join(source, 'big.bin'), readFileSync(large));
      mkdirSync(join(source, 'nested'));
      writeFileSync(join(source, 'nested', 'b.txt'), 'beta');
      await rclone('mkdir', 'sovra:cli-rclone');
      await rclone('copy', source, 'sovra:cli-rclone/data');
      await rclone('check', source, 'sovra:cli-rclone/data');
      const listing = await rclone('ls', 'sovra:cli-rclone');
      assert.match(listing, /nested\/b\.txt/);
      const back = join(work, 'rclone-back');
      await rclone('copy', 'sovra:cli-rclone/data', back);
      assert.equal(md5File(join(back, 'big.bin')), md5File(large));
      await rclone('purge', 'sovra:cli-rclone');
    });
  });
});
