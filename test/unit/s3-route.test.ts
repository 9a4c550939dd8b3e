import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { routeS3Request } from '../../src/protocols/s3/route.ts';
import type { SovraError } from '../../src/platform/errors.ts';

const domains = ['s3.sovra.test'];

describe('S3 routing', () => {
  it('path-style addressing splits bucket and percent-decoded key', () => {
    const route = routeS3Request('GET', '/bucket/a%20b/%E2%9C%93/..%2Fx', '127.0.0.1:9000', domains, false);
    assert.equal(route.bucket, 'bucket');
    assert.equal(route.key, 'a b/✓/../x');
    assert.equal(route.action, 'GetObject');
    assert.equal(route.virtualHosted, false);
  });

  it('virtual-hosted-style addressing takes the bucket from the Host header', () => {
    const route = routeS3Request('PUT', '/dir/file.txt', 'records.s3.sovra.test:9000', domains, false);
    assert.equal(route.bucket, 'records');
    assert.equal(route.key, 'dir/file.txt');
    assert.equal(route.action, 'PutObject');
    assert.equal(route.virtualHosted, true);
  });

  it('keys keep leading slashes and empty segments', () => {
    assert.equal(routeS3Request('GET', '/b//leading', undefined, domains, false).key, '/leading');
    assert.equal(routeS3Request('GET', '/b/a//b', undefined, domains, false).key, 'a//b');
  });

  it('subresources select the operation', () => {
    const cases: [string, string, boolean, string][] = [
      ['GET', '/', false, 'ListBuckets'],
      ['GET', '/b?list-type=2&prefix=x', false, 'ListObjectsV2'],
      ['GET', '/b', false, 'ListObjects'],
      ['GET', '/b?versions', false, 'ListObjectVersions'],
      ['GET', '/b?uploads', false, 'ListMultipartUploads'],
      ['GET', '/b?location', false, 'GetBucketLocation'],
      ['POST', '/b?delete', false, 'DeleteObjects'],
      ['PUT', '/b', false, 'CreateBucket'],
      ['PUT', '/b/k', true, 'CopyObject'],
      ['PUT', '/b/k?partNumber=1&uploadId=u', false, 'UploadPart'],
      ['PUT', '/b/k?partNumber=1&uploadId=u', true, 'UploadPartCopy'],
      ['POST', '/b/k?uploads', false, 'CreateMultipartUpload'],
      ['POST', '/b/k?uploadId=u', false, 'CompleteMultipartUpload'],
      ['DELETE', '/b/k?uploadId=u', false, 'AbortMultipartUpload'],
      ['GET', '/b/k?uploadId=u', false, 'ListParts'],
      ['HEAD', '/b/k', false, 'HeadObject'],
      ['HEAD', '/b', false, 'HeadBucket'],
    ];
    for (const [method, url, copy, action] of cases) {
      assert.equal(routeS3Request(method, url, undefined, domains, copy).action, action, `${method} ${url}`);
    }
  });

  it('operations not built yet answer NotImplemented, unknown methods MethodNotAllowed', () => {
    assert.throws(
      () => routeS3Request('GET', '/b?website', undefined, domains, false),
      (e: SovraError) => e.code === 'NotImplemented',
    );
    assert.throws(
      () => routeS3Request('PATCH', '/b/k', undefined, domains, false),
      (e: SovraError) => e.code === 'MethodNotAllowed',
    );
  });

  it('a malformed percent-encoding fails with InvalidURI', () => {
    assert.throws(
      () => routeS3Request('GET', '/b/%E2%28', undefined, domains, false),
      (e: SovraError) => e.code === 'InvalidURI',
    );
  });
});
