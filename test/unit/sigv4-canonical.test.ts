import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  canonicalHeaders,
  canonicalQueryString,
  canonicalUri,
  formatAmzDate,
  parseAmzDate,
  parseQuery,
  trimHeaderValue,
  uriEncode,
} from '../../src/protocols/sigv4/canonical.ts';
import { SigV4Error } from '../../src/protocols/sigv4/errors.ts';
import { deriveSigningKey, SigningKeyCache } from '../../src/protocols/sigv4/signing-key.ts';

function assertSigV4Error(fn: () => unknown, code: string): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof SigV4Error, `expected SigV4Error, got ${String(error)}`);
    assert.equal(error.code, code);
    return true;
  });
}

describe('UriEncode', () => {
  it('keeps only A-Z a-z 0-9 - _ . ~ and encodes every other byte as upper-case %XX', () => {
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    const encoded = uriEncode(all, true);
    const expected = Array.from(all, (byte) => {
      const char = String.fromCharCode(byte);
      return /[A-Za-z0-9\-_.~]/.test(char) ? char : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
    }).join('');
    assert.equal(encoded, expected);
  });

  it('keeps "/" only when told to (paths), and encodes it in query components', () => {
    const bytes = Buffer.from('a/b');
    assert.equal(uriEncode(bytes, false), 'a/b');
    assert.equal(uriEncode(bytes, true), 'a%2Fb');
  });
});

describe('canonical URI for S3', () => {
  it('decodes once and re-encodes once, normalising escapes to UriEncode form', () => {
    assert.equal(canonicalUri('/bucket/a%20b/c+d', 's3'), '/bucket/a%20b/c%2Bd');
    assert.equal(canonicalUri('/bucket/%7e%7E~', 's3'), '/bucket/~~~');
    assert.equal(canonicalUri('/bucket/%c3%bc', 's3'), '/bucket/%C3%BC');
    assert.equal(canonicalUri('/test$file.text', 's3'), '/test%24file.text');
  });

  it('does not normalise ".", ".." or "//" segments, which are part of S3 object keys', () => {
    assert.equal(canonicalUri('/bucket/../a/./b//c/', 's3'), '/bucket/../a/./b//c/');
  });

  it('turns an empty path into "/"', () => {
    assert.equal(canonicalUri('', 's3'), '/');
  });

  it('re-encodes bytes that are not valid UTF-8 exactly', () => {
    assert.equal(canonicalUri('/b/%FF%FE', 's3'), '/b/%FF%FE');
  });

  it('a malformed escape fails with InvalidURI', () => {
    assertSigV4Error(() => canonicalUri('/bucket/%zz', 's3'), 'InvalidURI');
    assertSigV4Error(() => canonicalUri('/bucket/%4', 's3'), 'InvalidURI');
  });
});

describe('canonical URI for other services', () => {
  it('removes dot segments and empty segments, then encodes the already-encoded path again', () => {
    assert.equal(canonicalUri('/a/./b/../c', 'standard'), '/a/c');
    assert.equal(canonicalUri('//x//y/', 'standard'), '/x/y/');
    assert.equal(canonicalUri('/a%20b', 'standard'), '/a%2520b');
    assert.equal(canonicalUri('/', 'standard'), '/');
  });
});

describe('canonical query string', () => {
  it('sorts by encoded name, then by value, and gives a bare name an empty value', () => {
    const query = parseQuery('prefix=J&max-keys=2&acl&tag=b&tag=a');
    assert.equal(canonicalQueryString(query, null), 'acl=&max-keys=2&prefix=J&tag=a&tag=b');
  });

  it('re-encodes decoded components, "/" included, and reads "+" as a space', () => {
    const query = parseQuery('prefix=a%2fb+c%7E&k%20ey=%2B');
    assert.deepEqual(
      query.map((p) => [p.name, p.value]),
      [
        ['prefix', 'a/b c~'],
        ['k ey', '+'],
      ],
    );
    assert.equal(canonicalQueryString(query, null), 'k%20ey=%2B&prefix=a%2Fb%20c~');
  });

  it('leaves out the named parameter (X-Amz-Signature for presigned URLs) and empty pairs', () => {
    const query = parseQuery('b=2&&X-Amz-Signature=abc&a=1&');
    assert.equal(canonicalQueryString(query, 'X-Amz-Signature'), 'a=1&b=2');
  });

  it('a malformed escape fails with InvalidURI', () => {
    assertSigV4Error(() => parseQuery('a=%g0'), 'InvalidURI');
  });
});

describe('canonical headers', () => {
  it('trims values and collapses inner runs of spaces and tabs to one space', () => {
    assert.equal(trimHeaderValue('  a   b\t c  '), 'a b c');
    assert.equal(trimHeaderValue('already clean'), 'already clean');
    assert.equal(trimHeaderValue('   '), '');
  });

  it('joins several values of one header with "," and lists headers in signed order', () => {
    const result = canonicalHeaders({ host: 'h', 'x-amz-meta-list': [' a ', 'b  c'] }, [
      'host',
      'x-amz-meta-list',
    ]);
    assert.equal(result.text, 'host:h\nx-amz-meta-list:a,b c\n');
    assert.equal(result.hasWideCharacters, false);
  });

  it('gives a signed header that is absent an empty value', () => {
    assert.equal(canonicalHeaders({}, ['range']).text, 'range:\n');
  });
});

describe('x-amz-date', () => {
  it('parses the ISO 8601 basic format and formats it back', () => {
    const ms = parseAmzDate('20130524T000000Z');
    assert.equal(ms, Date.UTC(2013, 4, 24));
    assert.equal(formatAmzDate(new Date(Date.UTC(2013, 4, 24, 1, 2, 3))), '20130524T010203Z');
  });

  it('rejects anything that is not a real UTC instant in that exact format', () => {
    for (const text of [
      '20130524T000000',
      '2013-05-24T00:00:00Z',
      '20130230T000000Z',
      '20130524T246000Z',
      '2013052AT000000Z',
    ]) {
      assert.equal(parseAmzDate(text), null, text);
    }
  });
});

describe('signing key', () => {
  it('derives the key of the AWS documentation example (IAM, 20120215, us-east-1)', () => {
    const key = deriveSigningKey('wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY', '20120215', 'us-east-1', 'iam');
    assert.equal(key.toString('hex'), 'f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d');
  });

  it('the cache returns the same key, never exceeds its bound, and re-derives for a rotated secret', () => {
    const cache = new SigningKeyCache(2);
    const first = cache.signingKey('AKID', 'secret', '20240101', 'us-east-1', 's3');
    assert.equal(cache.signingKey('AKID', 'secret', '20240101', 'us-east-1', 's3'), first);
    cache.signingKey('AKID', 'secret', '20240102', 'us-east-1', 's3');
    cache.signingKey('AKID', 'secret', '20240103', 'us-east-1', 's3');
    assert.equal(cache.size, 2);
    const rotated = cache.signingKey('AKID', 'other', '20240103', 'us-east-1', 's3');
    assert.deepEqual(rotated.export(), deriveSigningKey('other', '20240103', 'us-east-1', 's3'));
  });
});
