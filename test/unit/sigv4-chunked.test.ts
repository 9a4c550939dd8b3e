import assert from 'node:assert/strict';
import { createHash, createHmac, createSecretKey } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, it } from 'node:test';

import { LIMITS } from '../../src/platform/limits.ts';
import {
  awsChunkedDecoderOptions,
  createAwsChunkedDecoder,
  type AwsChunkedDecoderOptions,
} from '../../src/protocols/sigv4/chunked.ts';
import { SigV4Error } from '../../src/protocols/sigv4/errors.ts';
import { deriveSigningKey, SigningKeyCache } from '../../src/protocols/sigv4/signing-key.ts';
import { verifySigV4, type SigV4Input } from '../../src/protocols/sigv4/verify.ts';

// The worked examples of sigv4-streaming and sigv4-streaming-trailers: a 66560-byte object of
// 'a', sent as a 65536-byte chunk, a 1024-byte chunk and the final empty chunk.
const AWS_KEY_ID = 'AKIAIOSFODNN7EXAMPLE';
const AWS_SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const AMZ_DATE = '20130524T000000Z';
const SCOPE = '20130524/us-east-1/s3/aws4_request';
const SIGNING_KEY = createSecretKey(deriveSigningKey(AWS_SECRET, '20130524', 'us-east-1', 's3'));
const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const CHUNK_1 = Buffer.alloc(65_536, 'a');
const CHUNK_2 = Buffer.alloc(1024, 'a');
const OBJECT = Buffer.concat([CHUNK_1, CHUNK_2]);

const PAYLOAD_EXAMPLE = {
  seed: '4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9',
  chunkSignatures: [
    'ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648',
    '0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497',
    'b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9',
  ],
};
const TRAILER_EXAMPLE = {
  seed: '106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e',
  chunkSignatures: [
    'b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2',
    '1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7',
    '2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992',
  ],
  trailer: 'x-amz-checksum-crc32c:sOO8/Q==',
  trailerSignature: 'd81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435',
};

function frame(size: number, signature: string | null, data: Buffer): Buffer {
  const header = signature === null ? size.toString(16) : `${size.toString(16)};chunk-signature=${signature}`;
  return Buffer.concat([
    Buffer.from(`${header}\r\n`),
    data,
    data.length > 0 ? Buffer.from('\r\n') : Buffer.alloc(0),
  ]);
}

/** The documented bodies, byte for byte, with the documented signatures. */
const PAYLOAD_EXAMPLE_BODY = Buffer.concat([
  frame(CHUNK_1.length, PAYLOAD_EXAMPLE.chunkSignatures[0]!, CHUNK_1),
  frame(CHUNK_2.length, PAYLOAD_EXAMPLE.chunkSignatures[1]!, CHUNK_2),
  frame(0, PAYLOAD_EXAMPLE.chunkSignatures[2]!, Buffer.alloc(0)),
  Buffer.from('\r\n'),
]);
const TRAILER_EXAMPLE_BODY = Buffer.concat([
  frame(CHUNK_1.length, TRAILER_EXAMPLE.chunkSignatures[0]!, CHUNK_1),
  frame(CHUNK_2.length, TRAILER_EXAMPLE.chunkSignatures[1]!, CHUNK_2),
  frame(0, TRAILER_EXAMPLE.chunkSignatures[2]!, Buffer.alloc(0)),
  Buffer.from(
    `${TRAILER_EXAMPLE.trailer}\r\nx-amz-trailer-signature:${TRAILER_EXAMPLE.trailerSignature}\r\n\r\n`,
  ),
]);

function sha256Hex(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

function hmacHex(stringToSign: string): string {
  return createHmac('sha256', SIGNING_KEY).update(stringToSign).digest('hex');
}

/** An independent signer written from the spec, checked against the documented signatures below. */
function signedBody(seed: string, chunks: Buffer[], trailers?: [string, string][]): Buffer {
  let previous = seed;
  const parts: Buffer[] = [];
  for (const data of [...chunks, Buffer.alloc(0)]) {
    previous = hmacHex(
      `AWS4-HMAC-SHA256-PAYLOAD\n${AMZ_DATE}\n${SCOPE}\n${previous}\n${EMPTY_SHA256}\n${sha256Hex(data)}`,
    );
    parts.push(frame(data.length, previous, data));
  }
  if (trailers !== undefined) {
    const canonical = trailers.map(([name, value]) => `${name}:${value}\n`).join('');
    const signature = hmacHex(
      `AWS4-HMAC-SHA256-TRAILER\n${AMZ_DATE}\n${SCOPE}\n${previous}\n${sha256Hex(canonical)}`,
    );
    parts.push(Buffer.from(`${trailers.map(([name, value]) => `${name}:${value}\r\n`).join('')}`));
    parts.push(Buffer.from(`x-amz-trailer-signature:${signature}\r\n`));
  }
  parts.push(Buffer.from('\r\n'));
  return Buffer.concat(parts);
}

/** The framing @smithy's getAwsChunkedEncodingStream produces for STREAMING-UNSIGNED-PAYLOAD-TRAILER. */
function unsignedBody(chunks: Buffer[], trailers: [string, string][], finalCrlf = true): Buffer {
  const parts = chunks.map((data) => frame(data.length, null, data));
  parts.push(Buffer.from('0\r\n'));
  for (const [name, value] of trailers) parts.push(Buffer.from(`${name}:${value}\r\n`));
  if (finalCrlf) parts.push(Buffer.from('\r\n'));
  return Buffer.concat(parts);
}

function decoderOptions(overrides: Partial<AwsChunkedDecoderOptions> = {}): AwsChunkedDecoderOptions {
  return {
    mode: { kind: 'streaming-signed' },
    signingKey: SIGNING_KEY,
    scope: SCOPE,
    seedSignature: PAYLOAD_EXAMPLE.seed,
    requestTime: AMZ_DATE,
    decodedContentLength: OBJECT.length,
    expectedTrailer: null,
    ...overrides,
  };
}

const TRAILER_OPTIONS: Partial<AwsChunkedDecoderOptions> = {
  mode: { kind: 'streaming-signed-trailer' },
  seedSignature: TRAILER_EXAMPLE.seed,
  expectedTrailer: 'x-amz-checksum-crc32c',
};

function* slices(body: Buffer, sliceBytes: number): Generator<Buffer> {
  for (let offset = 0; offset < body.length; offset += sliceBytes)
    yield body.subarray(offset, offset + sliceBytes);
}

async function decode(
  body: Buffer,
  options: AwsChunkedDecoderOptions,
  sliceBytes = body.length,
): Promise<{ data: Buffer; trailers: Record<string, string> }> {
  const decoder = createAwsChunkedDecoder(options);
  const parts: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      parts.push(chunk);
      callback();
    },
  });
  await pipeline(Readable.from(slices(body, Math.max(1, sliceBytes))), decoder, sink);
  return { data: Buffer.concat(parts), trailers: decoder.trailers() };
}

async function assertDecodeFails(
  body: Buffer,
  options: AwsChunkedDecoderOptions,
  code: string,
): Promise<void> {
  await assert.rejects(decode(body, options), (error: unknown) => {
    assert.ok(error instanceof SigV4Error, `expected SigV4Error(${code}), got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    return true;
  });
}

function replaceOnce(body: Buffer, from: string, to: string): Buffer {
  const at = body.indexOf(from);
  assert.ok(at >= 0, `"${from}" not in body`);
  return Buffer.concat([body.subarray(0, at), Buffer.from(to), body.subarray(at + from.length)]);
}

describe('AWS documentation examples (sigv4-streaming, sigv4-streaming-trailers)', () => {
  const exampleHeaders = {
    host: 's3.amazonaws.com',
    'x-amz-date': AMZ_DATE,
    'x-amz-storage-class': 'REDUCED_REDUNDANCY',
    'content-encoding': 'aws-chunked',
    'x-amz-decoded-content-length': '66560',
  };
  const verifyOptions = {
    service: 's3',
    nowMs: Date.UTC(2013, 4, 24),
    maxSkewMs: LIMITS.clockSkewMaxMs,
    maxPresignSeconds: LIMITS.presignMaxExpiresSeconds,
    uriEncoding: 's3' as const,
    signingKeyCache: new SigningKeyCache(4),
  };
  const lookup = (id: string) =>
    Promise.resolve(
      id === AWS_KEY_ID ? { secretAccessKey: AWS_SECRET, principalId: 'p', tenantId: 't' } : null,
    );

  it('the test signer reproduces every documented chunk and trailer signature', () => {
    assert.deepEqual(signedBody(PAYLOAD_EXAMPLE.seed, [CHUNK_1, CHUNK_2]), PAYLOAD_EXAMPLE_BODY);
    assert.deepEqual(
      signedBody(TRAILER_EXAMPLE.seed, [CHUNK_1, CHUNK_2], [['x-amz-checksum-crc32c', 'sOO8/Q==']]),
      TRAILER_EXAMPLE_BODY,
    );
  });

  it('the signed-chunks PUT verifies (seed 4f232c43…) and decodes to the 66560-byte object', async () => {
    const headers = {
      ...exampleHeaders,
      'content-length': '66824',
      'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
      authorization: `AWS4-HMAC-SHA256 Credential=${AWS_KEY_ID}/${SCOPE},SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class,Signature=${PAYLOAD_EXAMPLE.seed}`,
    };
    const input: SigV4Input = {
      method: 'PUT',
      rawPath: '/examplebucket/chunkObject.txt',
      rawQuery: '',
      headers,
    };
    assert.equal(PAYLOAD_EXAMPLE_BODY.length, 66_824);
    const verified = await verifySigV4(input, lookup, verifyOptions);
    const options = awsChunkedDecoderOptions(verified, headers);
    assert.ok(options !== null);
    assert.equal(options.requestTime, AMZ_DATE);
    assert.equal(options.decodedContentLength, 66_560);
    const { data, trailers } = await decode(PAYLOAD_EXAMPLE_BODY, options);
    assert.deepEqual(data, OBJECT);
    assert.deepEqual(trailers, {});
  });

  it('the signed-trailer PUT verifies (seed 106e2a8a…), decodes, and exposes its checksum trailer', async () => {
    const headers = {
      ...exampleHeaders,
      'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER',
      'x-amz-trailer': 'x-amz-checksum-crc32c',
      authorization: `AWS4-HMAC-SHA256 Credential=${AWS_KEY_ID}/${SCOPE},SignedHeaders=content-encoding;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class;x-amz-trailer,Signature=${TRAILER_EXAMPLE.seed}`,
    };
    const input: SigV4Input = {
      method: 'PUT',
      rawPath: '/examplebucket/chunkObject.txt',
      rawQuery: '',
      headers,
    };
    const verified = await verifySigV4(input, lookup, verifyOptions);
    const options = awsChunkedDecoderOptions(verified, headers);
    assert.ok(options !== null);
    assert.equal(options.expectedTrailer, 'x-amz-checksum-crc32c');
    const { data, trailers } = await decode(TRAILER_EXAMPLE_BODY, options);
    assert.deepEqual(data, OBJECT);
    assert.deepEqual(trailers, { 'x-amz-checksum-crc32c': 'sOO8/Q==' });
  });
});

describe('aws-chunked decoding across input boundaries', () => {
  const unsignedOptions = decoderOptions({
    mode: { kind: 'streaming-unsigned-trailer' },
    decodedContentLength: null,
    expectedTrailer: 'x-amz-checksum-crc32',
  });

  it('the signed-trailer example fed one byte at a time decodes exactly as when fed whole', async () => {
    const options = decoderOptions(TRAILER_OPTIONS);
    const whole = await decode(TRAILER_EXAMPLE_BODY, options);
    const byteByByte = await decode(TRAILER_EXAMPLE_BODY, options, 1);
    assert.deepEqual(byteByByte.data, whole.data);
    assert.deepEqual(byteByByte.trailers, whole.trailers);
  });

  it('any slicing of a body of many tiny signed chunks decodes to the same bytes', async () => {
    const chunks = Array.from({ length: 2000 }, (_, i) => Buffer.from([i % 251]));
    const body = signedBody(PAYLOAD_EXAMPLE.seed, chunks);
    const options = decoderOptions({ decodedContentLength: chunks.length });
    const expected = Buffer.concat(chunks);
    for (const sliceBytes of [1, 2, 3, 7, 89, 90, 91, 4096, body.length]) {
      assert.deepEqual((await decode(body, options, sliceBytes)).data, expected, `slices of ${sliceBytes}`);
    }
  });

  it('an unsigned-trailer body fed one byte at a time decodes exactly as when fed whole', async () => {
    const chunks = [Buffer.from('hello '), Buffer.from('world'), Buffer.alloc(3000, 'z')];
    const body = unsignedBody(chunks, [['x-amz-checksum-crc32', 'Ox7nCg==']]);
    const whole = await decode(body, unsignedOptions);
    const byteByByte = await decode(body, unsignedOptions, 1);
    assert.deepEqual(whole.data, Buffer.concat(chunks));
    assert.deepEqual(byteByByte.data, whole.data);
    assert.deepEqual(byteByByte.trailers, { 'x-amz-checksum-crc32': 'Ox7nCg==' });
  });

  it('an unsigned-trailer body whose closing CRLF is missing is accepted once its trailers are complete', async () => {
    const body = unsignedBody([Buffer.from('abc')], [['x-amz-checksum-crc32', 'NSRBwg==']], false);
    const { data, trailers } = await decode(body, unsignedOptions, 1);
    assert.equal(data.toString(), 'abc');
    assert.deepEqual(trailers, { 'x-amz-checksum-crc32': 'NSRBwg==' });
  });

  it('chunk extensions on unsigned chunks are ignored', async () => {
    const body = Buffer.from('3;ext=1\r\nabc\r\n0\r\nx-amz-checksum-crc32:NSRBwg==\r\n\r\n');
    assert.equal((await decode(body, unsignedOptions)).data.toString(), 'abc');
  });

  it('a large body streams with bounded buffering and honours backpressure from a slow consumer', async () => {
    const chunkBytes = 256 * 1024;
    const chunkCount = 128; // 32 MiB
    const data = Buffer.alloc(chunkBytes, 7);
    const dataSha256 = sha256Hex(data);
    function* body(): Generator<Buffer> {
      let previous = PAYLOAD_EXAMPLE.seed;
      for (let i = 0; i <= chunkCount; i++) {
        const chunk = i < chunkCount ? data : Buffer.alloc(0);
        previous = hmacHex(
          `AWS4-HMAC-SHA256-PAYLOAD\n${AMZ_DATE}\n${SCOPE}\n${previous}\n${EMPTY_SHA256}\n${i < chunkCount ? dataSha256 : EMPTY_SHA256}`,
        );
        yield Buffer.from(`${chunk.length.toString(16)};chunk-signature=${previous}\r\n`);
        if (chunk.length > 0) yield* slices(chunk, 64 * 1024);
        yield Buffer.from('\r\n');
      }
    }
    const decoder = createAwsChunkedDecoder(
      decoderOptions({ decodedContentLength: chunkBytes * chunkCount }),
    );
    let receivedBytes = 0;
    let maxBufferedBytes = 0;
    const hash = createHash('sha256');
    const slowSink = new Writable({
      highWaterMark: 64 * 1024,
      write(chunk: Buffer, _encoding, callback) {
        receivedBytes += chunk.length;
        hash.update(chunk);
        maxBufferedBytes = Math.max(maxBufferedBytes, decoder.readableLength + decoder.writableLength);
        setImmediate(callback);
      },
    });
    await pipeline(Readable.from(body()), decoder, slowSink);
    assert.equal(receivedBytes, chunkBytes * chunkCount);
    const expected = createHash('sha256');
    for (let i = 0; i < chunkCount; i++) expected.update(data);
    assert.equal(hash.digest('hex'), expected.digest('hex'));
    assert.ok(maxBufferedBytes <= 1024 * 1024, `decoder buffered ${maxBufferedBytes} bytes`);
  });
});

describe('aws-chunked failures', () => {
  const signed = () => decoderOptions();
  const trailerSigned = () => decoderOptions(TRAILER_OPTIONS);

  it('a tampered data byte fails with SignatureDoesNotMatch', async () => {
    const body = Buffer.from(PAYLOAD_EXAMPLE_BODY);
    body[50_000] = 'b'.charCodeAt(0);
    await assertDecodeFails(body, signed(), 'SignatureDoesNotMatch');
  });

  it('a tampered chunk signature fails with SignatureDoesNotMatch', async () => {
    for (const signature of PAYLOAD_EXAMPLE.chunkSignatures) {
      const body = replaceOnce(
        PAYLOAD_EXAMPLE_BODY,
        signature,
        `${signature.slice(0, 63)}${signature.endsWith('0') ? '1' : '0'}`,
      );
      await assertDecodeFails(body, signed(), 'SignatureDoesNotMatch');
    }
  });

  it('reordered chunks fail with SignatureDoesNotMatch', async () => {
    const [first, second, final] = PAYLOAD_EXAMPLE.chunkSignatures as [string, string, string];
    const body = Buffer.concat([
      frame(CHUNK_2.length, second, CHUNK_2),
      frame(CHUNK_1.length, first, CHUNK_1),
      frame(0, final, Buffer.alloc(0)),
      Buffer.from('\r\n'),
    ]);
    await assertDecodeFails(body, signed(), 'SignatureDoesNotMatch');
  });

  it('a dropped chunk fails with SignatureDoesNotMatch', async () => {
    const [first, , final] = PAYLOAD_EXAMPLE.chunkSignatures as [string, string, string];
    const body = Buffer.concat([
      frame(CHUNK_1.length, first, CHUNK_1),
      frame(0, final, Buffer.alloc(0)),
      Buffer.from('\r\n'),
    ]);
    await assertDecodeFails(body, decoderOptions({ decodedContentLength: null }), 'SignatureDoesNotMatch');
  });

  it('a body cut short anywhere fails with IncompleteBody', async () => {
    const length = PAYLOAD_EXAMPLE_BODY.length;
    for (const end of [0, 10, 90, 50_000, 65_626, 65_627, 66_700, length - 2, length - 1]) {
      await assertDecodeFails(PAYLOAD_EXAMPLE_BODY.subarray(0, end), signed(), 'IncompleteBody');
    }
    const trailerLength = TRAILER_EXAMPLE_BODY.length;
    for (const end of [trailerLength - 140, trailerLength - 92, trailerLength - 60]) {
      await assertDecodeFails(TRAILER_EXAMPLE_BODY.subarray(0, end), trailerSigned(), 'IncompleteBody');
    }
  });

  it('a decoded length other than x-amz-decoded-content-length fails with IncompleteBody', async () => {
    await assertDecodeFails(
      PAYLOAD_EXAMPLE_BODY,
      decoderOptions({ decodedContentLength: 66_561 }),
      'IncompleteBody',
    );
    await assertDecodeFails(
      PAYLOAD_EXAMPLE_BODY,
      decoderOptions({ decodedContentLength: 66_559 }),
      'IncompleteBody',
    );
    await assertDecodeFails(
      PAYLOAD_EXAMPLE_BODY,
      decoderOptions({ decodedContentLength: 0 }),
      'IncompleteBody',
    );
  });

  it('a trailer signature mismatch, or an altered, added or missing trailer, fails with SignatureDoesNotMatch', async () => {
    const signature = TRAILER_EXAMPLE.trailerSignature;
    const bodies = [
      replaceOnce(TRAILER_EXAMPLE_BODY, signature, TRAILER_EXAMPLE.seed),
      replaceOnce(TRAILER_EXAMPLE_BODY, 'sOO8/Q==', 'AAAAAA=='),
      replaceOnce(TRAILER_EXAMPLE_BODY, `x-amz-trailer-signature:${signature}\r\n`, ''),
    ];
    for (const body of bodies) await assertDecodeFails(body, trailerSigned(), 'SignatureDoesNotMatch');
    const added = replaceOnce(
      TRAILER_EXAMPLE_BODY,
      'x-amz-trailer-signature',
      'x-amz-checksum-sha256:abc=\r\nx-amz-trailer-signature',
    );
    await assertDecodeFails(
      added,
      decoderOptions({ ...TRAILER_OPTIONS, expectedTrailer: 'x-amz-checksum-crc32c, x-amz-checksum-sha256' }),
      'SignatureDoesNotMatch',
    );
  });

  it('a trailer that was not declared, declared but missing, or sent twice fails with InvalidTrailer', async () => {
    const unsigned = (expectedTrailer: string | null) =>
      decoderOptions({
        mode: { kind: 'streaming-unsigned-trailer' },
        decodedContentLength: 3,
        expectedTrailer,
      });
    const data = [Buffer.from('abc')];
    await assertDecodeFails(
      unsignedBody(data, [['x-amz-checksum-sha1', 'x']]),
      unsigned('x-amz-checksum-crc32'),
      'InvalidTrailer',
    );
    await assertDecodeFails(
      unsignedBody(data, [['x-amz-checksum-crc32', 'x']]),
      unsigned(null),
      'InvalidTrailer',
    );
    await assertDecodeFails(unsignedBody(data, []), unsigned('x-amz-checksum-crc32'), 'InvalidTrailer');
    await assertDecodeFails(
      unsignedBody(data, [
        ['x-amz-checksum-crc32', 'x'],
        ['x-amz-checksum-crc32', 'y'],
      ]),
      unsigned('x-amz-checksum-crc32'),
      'InvalidTrailer',
    );
    await assertDecodeFails(
      Buffer.from('3\r\nabc\r\n0\r\nno-colon-here\r\n\r\n'),
      unsigned('x'),
      'InvalidTrailer',
    );
    const huge: [string, string] = ['x-amz-checksum-crc32', 'x'.repeat(LIMITS.awsChunkTrailerMaxBytes)];
    await assertDecodeFails(unsignedBody(data, [huge]), unsigned('x-amz-checksum-crc32'), 'InvalidTrailer');
  });

  it('a trailer on a payload signed without trailers fails with InvalidTrailer', async () => {
    const withoutClosingLine = PAYLOAD_EXAMPLE_BODY.subarray(0, PAYLOAD_EXAMPLE_BODY.length - 2);
    const body = Buffer.concat([withoutClosingLine, Buffer.from('x-amz-checksum-crc32:NSRBwg==\r\n\r\n')]);
    await assertDecodeFails(body, signed(), 'InvalidTrailer');
  });

  it('malformed framing fails with InvalidChunkEncoding', async () => {
    const [first] = PAYLOAD_EXAMPLE.chunkSignatures as [string];
    const malformed = [
      replaceOnce(PAYLOAD_EXAMPLE_BODY, '10000;', 'zz;'),
      replaceOnce(PAYLOAD_EXAMPLE_BODY, '10000;', ';'),
      replaceOnce(PAYLOAD_EXAMPLE_BODY, '10000;', '10000 ;'),
      replaceOnce(PAYLOAD_EXAMPLE_BODY, `10000;chunk-signature=${first}`, '10000'),
      replaceOnce(PAYLOAD_EXAMPLE_BODY, 'chunk-signature=', 'chunk-signatur='),
      replaceOnce(PAYLOAD_EXAMPLE_BODY, `${first}\r\n`, `${first}\n`),
      replaceOnce(PAYLOAD_EXAMPLE_BODY, 'a\r\n400;', 'a\n\n400;'),
      Buffer.concat([PAYLOAD_EXAMPLE_BODY, Buffer.from('extra')]),
      Buffer.from(`${'1'.repeat(LIMITS.awsChunkHeaderMaxBytes + 1)}\r\n`),
      Buffer.from(`${'f'.repeat(14)};chunk-signature=${first}\r\n`),
    ];
    for (const body of malformed)
      await assertDecodeFails(body, decoderOptions({ decodedContentLength: null }), 'InvalidChunkEncoding');
  });

  it('an unsigned-trailer body that ends right after the final chunk fails with IncompleteBody', async () => {
    const options = decoderOptions({
      mode: { kind: 'streaming-unsigned-trailer' },
      decodedContentLength: 3,
      expectedTrailer: 'x-amz-checksum-crc32',
    });
    await assertDecodeFails(Buffer.from('3\r\nabc\r\n0\r\n'), options, 'IncompleteBody');
  });
});
