import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { evaluateReadConditions, resolveRange } from '../../src/domain/storage/conditions.ts';
import { validateBucketName, validateObjectKey } from '../../src/domain/storage/names.ts';
import type { SovraError } from '../../src/platform/errors.ts';
import { readRange } from '../../src/protocols/s3/object-headers.ts';

const code = (fn: () => unknown) => {
  try {
    fn();
  } catch (error) {
    return (error as SovraError).code;
  }
  return null;
};

describe('storage rules', () => {
  it('bucket names follow the S3 general purpose naming rules', () => {
    for (const ok of ['abc', 'my-bucket.records', 'a'.repeat(63), '1bucket'])
      assert.equal(
        code(() => validateBucketName(ok)),
        null,
        ok,
      );
    for (const bad of [
      'ab',
      'a'.repeat(64),
      'Bucket',
      'a_b',
      '-ab',
      'ab-',
      'a..b',
      'a.-b',
      '10.0.0.1',
      'xn--abc',
      'sthree-x',
      'x-s3alias',
      'x--ol-s3',
    ]) {
      assert.equal(
        code(() => validateBucketName(bad)),
        'InvalidBucketName',
        bad,
      );
    }
  });

  it('object keys are 1..1,024 UTF-8 bytes', () => {
    assert.equal(
      code(() => validateObjectKey('é'.repeat(512))),
      null,
    );
    assert.equal(
      code(() => validateObjectKey('é'.repeat(513))),
      'KeyTooLong',
    );
    assert.equal(
      code(() => validateObjectKey('')),
      'InvalidObjectKey',
    );
  });

  it('ranges resolve as RFC 9110 specifies and past-the-end ranges are unsatisfiable', () => {
    assert.deepEqual(resolveRange({ kind: 'bounded', first: 2, last: 5 }, 10), { start: 2, endExclusive: 6 });
    assert.deepEqual(resolveRange({ kind: 'bounded', first: 2, last: 50 }, 10), {
      start: 2,
      endExclusive: 10,
    });
    assert.deepEqual(resolveRange({ kind: 'open', first: 7 }, 10), { start: 7, endExclusive: 10 });
    assert.deepEqual(resolveRange({ kind: 'suffix', length: 30 }, 10), { start: 0, endExclusive: 10 });
    assert.equal(
      code(() => resolveRange({ kind: 'open', first: 10 }, 10)),
      'RangeNotSatisfiable',
    );
    assert.equal(
      code(() => resolveRange({ kind: 'suffix', length: 1 }, 0)),
      'RangeNotSatisfiable',
    );
  });

  it('unusable Range headers are ignored (whole object), not errors', () => {
    assert.equal(readRange('bytes=5-2'), null);
    assert.equal(readRange('items=0-1'), null);
    assert.equal(readRange('bytes=0-1,3-4'), null);
    assert.deepEqual(readRange('bytes=-5'), { kind: 'suffix', length: 5 });
  });

  it('read conditions follow RFC 9110 precedence and S3 combinations', () => {
    const modified = new Date('2026-01-01T00:00:10Z');
    const before = new Date('2026-01-01T00:00:00Z');
    const after = new Date('2026-01-01T00:01:00Z');
    assert.equal(
      code(() => evaluateReadConditions({ ifMatch: '"e"' }, 'e', modified)),
      null,
    );
    assert.equal(
      code(() => evaluateReadConditions({ ifMatch: '"x"' }, 'e', modified)),
      'PreconditionFailed',
    );
    // If-Match true + If-Unmodified-Since false → 200
    assert.equal(
      code(() => evaluateReadConditions({ ifMatch: '"e"', ifUnmodifiedSince: before }, 'e', modified)),
      null,
    );
    // If-None-Match false + If-Modified-Since true → 304
    assert.equal(
      code(() => evaluateReadConditions({ ifNoneMatch: '"e"', ifModifiedSince: before }, 'e', modified)),
      'NotModified',
    );
    assert.equal(
      code(() => evaluateReadConditions({ ifModifiedSince: after }, 'e', modified)),
      'NotModified',
    );
    assert.equal(
      code(() => evaluateReadConditions({ ifUnmodifiedSince: before }, 'e', modified)),
      'PreconditionFailed',
    );
    assert.equal(
      code(() => evaluateReadConditions({ ifNoneMatch: '"e"' }, 'e', modified, true)),
      'PreconditionFailed',
    );
  });
});
