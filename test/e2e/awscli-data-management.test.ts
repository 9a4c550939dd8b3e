import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { removeDir, startSovra, TEST_REGION, type SovraProcess } from '../helpers/sovra-process.ts';

const run = promisify(execFile);
const AWS = '/usr/bin/aws';

/**
 * Debian's awscli (botocore) drives the data-management calls that the SDK suites cover, so that
 * boto-based tooling is shown to work unchanged: versioning, tagging, CORS, ACLs, notifications.
 */
describe('aws s3api data-management calls (botocore)', () => {
  let sovra: SovraProcess;
  let work: string;

  before(async () => {
    sovra = await startSovra();
    work = mkdtempSync(join(tmpdir(), 'sovra-awscli-dm-'));
    // `aws s3 cp` copies larger objects part by part, reading the source's tags and sending them
    // back with x-amz-tagging (--copy-props default).
    writeFileSync(
      join(work, 'config'),
      '[default]\ns3 =\n  multipart_threshold = 5MB\n  multipart_chunksize = 5MB\n',
    );
  });
  after(async () => {
    await sovra?.stop();
    if (sovra !== undefined) removeDir(sovra.dataDir);
    if (work !== undefined) removeDir(work);
  });

  async function s3api(...args: string[]): Promise<unknown> {
    const stdout = await aws('s3api', ...args, '--output', 'json');
    return stdout.trim() === '' ? null : (JSON.parse(stdout) as unknown);
  }

  async function aws(...args: string[]): Promise<string> {
    const env = { ...process.env };
    delete env.AWS_CA_BUNDLE;
    const { stdout } = await run(AWS, ['--endpoint-url', sovra.endpoint, ...args], {
      env: {
        ...env,
        AWS_ACCESS_KEY_ID: sovra.credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: sovra.credentials.secretAccessKey,
        AWS_DEFAULT_REGION: TEST_REGION,
        AWS_CONFIG_FILE: join(work, 'config'),
        AWS_SHARED_CREDENTIALS_FILE: join(work, 'none'),
        AWS_EC2_METADATA_DISABLED: 'true',
        AWS_PAGER: '',
      },
    });
    return stdout;
  }

  it('versioning, object versions and delete markers', async () => {
    await s3api('create-bucket', '--bucket', 'dm-versions');
    await s3api(
      'put-bucket-versioning',
      '--bucket',
      'dm-versions',
      '--versioning-configuration',
      'Status=Enabled',
    );
    assert.deepEqual(await s3api('get-bucket-versioning', '--bucket', 'dm-versions'), { Status: 'Enabled' });
    const body = join(work, 'body.txt');
    writeFileSync(body, 'v');
    const first = (await s3api('put-object', '--bucket', 'dm-versions', '--key', 'k', '--body', body)) as {
      VersionId: string;
    };
    await s3api('put-object', '--bucket', 'dm-versions', '--key', 'k', '--body', body);
    const marker = (await s3api('delete-object', '--bucket', 'dm-versions', '--key', 'k')) as {
      DeleteMarker: boolean;
    };
    assert.equal(marker.DeleteMarker, true);
    const versions = (await s3api('list-object-versions', '--bucket', 'dm-versions')) as {
      Versions: unknown[];
      DeleteMarkers: unknown[];
    };
    assert.equal(versions.Versions.length, 2);
    assert.equal(versions.DeleteMarkers.length, 1);
    await s3api(
      'get-object',
      '--bucket',
      'dm-versions',
      '--key',
      'k',
      '--version-id',
      first.VersionId,
      join(work, 'out.txt'),
    );
  });

  it('bucket and object tagging', async () => {
    await s3api('create-bucket', '--bucket', 'dm-tags');
    await s3api('put-bucket-tagging', '--bucket', 'dm-tags', '--tagging', 'TagSet=[{Key=agency,Value=moh}]');
    assert.deepEqual(await s3api('get-bucket-tagging', '--bucket', 'dm-tags'), {
      TagSet: [
        { Key: 'agency', Value: 'moh' },
        { Key: 'sovra:classification', Value: 'PUBLIC' },
      ],
    });
    const body = join(work, 'tag.txt');
    writeFileSync(body, 't');
    await s3api('put-object', '--bucket', 'dm-tags', '--key', 'o', '--body', body);
    await s3api(
      'put-object-tagging',
      '--bucket',
      'dm-tags',
      '--key',
      'o',
      '--tagging',
      'TagSet=[{Key=class,Value=internal}]',
    );
    const tags = (await s3api('get-object-tagging', '--bucket', 'dm-tags', '--key', 'o')) as {
      TagSet: unknown[];
    };
    assert.deepEqual(tags.TagSet, [
      { Key: 'class', Value: 'internal' },
      { Key: 'sovra:classification', Value: 'PUBLIC' },
    ]);
    await s3api('delete-object-tagging', '--bucket', 'dm-tags', '--key', 'o');
  });

  it('aws s3 cp of a multipart object copies its tags back, the reserved label tag included', async () => {
    await s3api('create-bucket', '--bucket', 'dm-copy-props');
    const big = join(work, 'big.bin');
    writeFileSync(big, Buffer.alloc(6 * 1024 * 1024, 1));
    await s3api(
      'put-object',
      '--bucket',
      'dm-copy-props',
      '--key',
      'big',
      '--body',
      big,
      '--tagging',
      'project=atlas',
    );
    await aws('s3', 'cp', 's3://dm-copy-props/big', 's3://dm-copy-props/big-copy', '--copy-props', 'default');
    const tags = (await s3api('get-object-tagging', '--bucket', 'dm-copy-props', '--key', 'big-copy')) as {
      TagSet: unknown[];
    };
    assert.deepEqual(tags.TagSet, [
      { Key: 'project', Value: 'atlas' },
      { Key: 'sovra:classification', Value: 'PUBLIC' },
    ]);
  });

  it('CORS configuration round trip', async () => {
    await s3api('create-bucket', '--bucket', 'dm-cors');
    const config = join(work, 'cors.json');
    writeFileSync(
      config,
      JSON.stringify({
        CORSRules: [
          {
            AllowedOrigins: ['https://portal.gov.example'],
            AllowedMethods: ['GET', 'PUT'],
            AllowedHeaders: ['*'],
            MaxAgeSeconds: 600,
          },
        ],
      }),
    );
    await s3api('put-bucket-cors', '--bucket', 'dm-cors', '--cors-configuration', `file://${config}`);
    const cors = (await s3api('get-bucket-cors', '--bucket', 'dm-cors')) as {
      CORSRules: { AllowedOrigins: string[]; MaxAgeSeconds: number }[];
    };
    assert.deepEqual(cors.CORSRules[0]!.AllowedOrigins, ['https://portal.gov.example']);
    assert.equal(cors.CORSRules[0]!.MaxAgeSeconds, 600);
    await s3api('delete-bucket-cors', '--bucket', 'dm-cors');
    await assert.rejects(s3api('get-bucket-cors', '--bucket', 'dm-cors'), /NoSuchCORSConfiguration/);
  });

  it('ACL reads answer owner full control and non-private canned ACLs are refused', async () => {
    await s3api('create-bucket', '--bucket', 'dm-acl');
    const acl = (await s3api('get-bucket-acl', '--bucket', 'dm-acl')) as { Grants: { Permission: string }[] };
    assert.equal(acl.Grants[0]!.Permission, 'FULL_CONTROL');
    await s3api('put-bucket-acl', '--bucket', 'dm-acl', '--acl', 'private');
    await assert.rejects(
      s3api('put-bucket-acl', '--bucket', 'dm-acl', '--acl', 'public-read'),
      /AccessControlListNotSupported/,
    );
  });

  it('notification configuration: empty by default, unknown destinations refused', async () => {
    await s3api('create-bucket', '--bucket', 'dm-notify');
    assert.equal(await s3api('get-bucket-notification-configuration', '--bucket', 'dm-notify'), null);
    const config = join(work, 'notify.json');
    writeFileSync(
      config,
      JSON.stringify({
        QueueConfigurations: [
          { QueueArn: 'arn:sovra:sqs:us-east-1:nowhere:webhook', Events: ['s3:ObjectCreated:*'] },
        ],
      }),
    );
    await assert.rejects(
      s3api(
        'put-bucket-notification-configuration',
        '--bucket',
        'dm-notify',
        '--notification-configuration',
        `file://${config}`,
      ),
      /InvalidArgument/,
    );
  });
});
