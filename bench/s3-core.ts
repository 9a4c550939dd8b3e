import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, fdatasyncSync, openSync, unlinkSync, writeSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { crc32 } from 'node:zlib';
import { createInterface } from 'node:readline';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { removeDir, startSovra, NODE } from '../test/helpers/sovra-process.ts';
import { cpuSecondsOf, formatTable, memoryOf, putScript, wrk } from './harness.ts';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

export interface BenchSettings {
  durationS: number;
  rssClients: number;
  rssObjectBytes: number;
}

/** Single-core throughput of a digest over 64 MiB in 256 KiB updates, MiB/s. */
function hashThroughput(update: (chunk: Buffer) => void, finish: () => void): number {
  const chunk = Buffer.alloc(256 * 1024, 7);
  const total = 256 * MiB;
  const started = process.hrtime.bigint();
  for (let done = 0; done < total; done += chunk.length) update(chunk);
  finish();
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return total / MiB / seconds;
}

function hashCeilings() {
  const md5 = () => {
    const h = createHash('md5');
    return hashThroughput(
      (c) => h.update(c),
      () => h.digest(),
    );
  };
  const sha256 = () => {
    const h = createHash('sha256');
    return hashThroughput(
      (c) => h.update(c),
      () => h.digest(),
    );
  };
  const crc = () => {
    let state = 0;
    return hashThroughput(
      (c) => (state = crc32(c, state)),
      () => state,
    );
  };
  // A presigned (UNSIGNED-PAYLOAD) PUT computes MD5 for the ETag and CRC32 for the frame tags.
  const putSet = () => {
    const h = createHash('md5');
    let state = 0;
    return hashThroughput(
      (c) => {
        h.update(c);
        state = crc32(c, state);
      },
      () => h.digest(),
    );
  };
  return { md5: md5(), sha256: sha256(), crc32: crc(), putSet: putSet() };
}

async function bareHttpCeiling(durationS: number): Promise<number> {
  const child = spawn(NODE, [join(import.meta.dirname, 'bare-http.ts')], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve) => {
    createInterface({ input: child.stdout }).once('line', (line) =>
      resolve((JSON.parse(line) as { port: number }).port),
    );
  });
  try {
    return (await wrk(`http://127.0.0.1:${port}/`, { connections: 64, durationS })).requestsPerSecond;
  } finally {
    child.kill('SIGTERM');
  }
}

/** Streams `bytes` of generated data to a presigned PUT URL without holding them in memory. */
function streamPut(url: string, bytes: number): Promise<number> {
  const block = Buffer.alloc(MiB, 42);
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'PUT', headers: { 'content-length': bytes } }, (res) => {
      res.resume();
      res.on('end', () =>
        res.statusCode === 200 ? resolve(bytes) : reject(new Error(`PUT ${res.statusCode}`)),
      );
    });
    req.on('error', reject);
    let sent = 0;
    Readable.from(
      (function* () {
        while (sent < bytes) {
          const n = Math.min(block.length, bytes - sent);
          sent += n;
          yield n === block.length ? block : block.subarray(0, n);
        }
      })(),
    ).pipe(req);
  });
}

function streamGet(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    request(url, (res) => {
      let received = 0;
      res.on('data', (c: Buffer) => (received += c.length));
      res.on('end', () =>
        res.statusCode === 200 ? resolve(received) : reject(new Error(`GET ${res.statusCode}`)),
      );
    })
      .on('error', reject)
      .end();
  });
}

/**
 * What the disk under the data directory takes durably: 64 MiB written in 256 KiB writes, then
 * fdatasync, as a PUT must before it answers (best of 3, MiB/s).
 */
function durableWriteCeiling(): number {
  const block = Buffer.alloc(256 * 1024, 7);
  const rates: number[] = [];
  for (let round = 0; round < 3; round++) {
    const path = join(tmpdir(), `sovra-bench-disk-${process.pid}-${round}`);
    const fd = openSync(path, 'w');
    try {
      const started = process.hrtime.bigint();
      for (let done = 0; done < 64 * MiB; done += block.length) writeSync(fd, block);
      fdatasyncSync(fd);
      rates.push(64 / (Number(process.hrtime.bigint() - started) / 1e9));
    } finally {
      closeSync(fd);
      unlinkSync(path);
    }
  }
  return Math.max(...rates);
}

async function timed(work: () => Promise<number>): Promise<number> {
  const started = process.hrtime.bigint();
  const bytes = await work();
  return bytes / MiB / (Number(process.hrtime.bigint() - started) / 1e9);
}

export async function benchS3Core(settings: BenchSettings): Promise<string> {
  const lines: string[] = [];
  const hashes = hashCeilings();
  const disk = durableWriteCeiling();
  const bare = await bareHttpCeiling(settings.durationS);
  const sovra = await startSovra({ extraArgs: ['--log-level', 'warn'] });
  const s3 = sovra.client();
  try {
    await s3.send(new CreateBucketCommand({ Bucket: 'bench' }));
    await s3.send(new PutObjectCommand({ Bucket: 'bench', Key: 'small', Body: Buffer.alloc(4096, 1) }));
    const getUrl = await getSignedUrl(s3, new GetObjectCommand({ Bucket: 'bench', Key: 'small' }), {
      expiresIn: 3600,
    });
    // WHEN_REQUIRED: otherwise the presigner signs a CRC32 of an empty body into the URL.
    const presigner = sovra.client({ requestChecksumCalculation: 'WHEN_REQUIRED' });
    const putUrl = await getSignedUrl(
      presigner,
      new PutObjectCommand({ Bucket: 'bench', Key: 'small-put' }),
      {
        expiresIn: 3600,
      },
    );
    const script = putScript(join(tmpdir(), `sovra-bench-put-${process.pid}.lua`), 4096);
    const small: (string | number)[][] = [
      [
        '4 KiB object',
        'concurrency',
        'ops/s',
        'p50 ms',
        'p99 ms',
        'errors',
        'server CPU µs/op',
        'vs bare http',
      ],
    ];
    const pid = sovra.child.pid!;
    for (const [operation, url, putBody] of [
      ['GET', getUrl, undefined],
      ['PUT', putUrl, script],
    ] as const) {
      for (const connections of [1, 16, 64]) {
        const cpuBefore = cpuSecondsOf(pid);
        const result = await wrk(url, {
          connections,
          durationS: settings.durationS,
          ...(putBody === undefined ? {} : { script: putBody }),
        });
        // Per-operation cost explains the throughput: the client (wrk) shares the machine's cores.
        const cpuMicros =
          ((cpuSecondsOf(pid) - cpuBefore) * 1e6) / (result.requestsPerSecond * settings.durationS);
        small.push([
          operation,
          connections,
          result.requestsPerSecond,
          result.p50Ms,
          result.p99Ms,
          result.errors,
          Math.round(cpuMicros),
          `${((100 * result.requestsPerSecond) / bare).toFixed(0)}%`,
        ]);
      }
    }
    const largePutUrl = await getSignedUrl(
      presigner,
      new PutObjectCommand({ Bucket: 'bench', Key: 'large' }),
      {
        expiresIn: 3600,
      },
    );
    const largeGetUrl = await getSignedUrl(s3, new GetObjectCommand({ Bucket: 'bench', Key: 'large' }), {
      expiresIn: 3600,
    });
    const putRates: number[] = [];
    const getRates: number[] = [];
    for (let i = 0; i < 3; i++) {
      putRates.push(await timed(() => streamPut(largePutUrl, 64 * MiB)));
      getRates.push(await timed(() => streamGet(largeGetUrl)));
    }
    const best = (xs: number[]) => Math.max(...xs);
    const rssPutUrls = await Promise.all(
      Array.from({ length: settings.rssClients }, (_, i) =>
        getSignedUrl(presigner, new PutObjectCommand({ Bucket: 'bench', Key: `huge-${i}` }), {
          expiresIn: 3600,
        }),
      ),
    );
    const before = memoryOf(sovra.child.pid!);
    let peak = before.rssMiB;
    const sampler = setInterval(() => {
      peak = Math.max(peak, memoryOf(sovra.child.pid!).rssMiB);
    }, 50);
    const rssStarted = process.hrtime.bigint();
    await Promise.all(rssPutUrls.map((url) => streamPut(url, settings.rssObjectBytes)));
    clearInterval(sampler);
    const rssSeconds = Number(process.hrtime.bigint() - rssStarted) / 1e9;

    lines.push(
      '## S3 core (embedded default: SQLite + local disk, HTTP, AES-256-GCM frames under the local-key root)',
      '',
    );
    lines.push(
      formatTable([
        ['ceiling (same run)', 'value'],
        ['bare node:http 4 KiB, wrk -c64 (req/s)', bare],
        ['MD5, one core (MiB/s)', hashes.md5],
        ['SHA-256, one core (MiB/s)', hashes.sha256],
        ['CRC32, one core (MiB/s)', hashes.crc32],
        ['PUT hash set MD5+CRC32, one core (MiB/s)', hashes.putSet],
        ['durable disk write, 64 MiB + fdatasync (MiB/s)', disk],
      ]),
      '',
    );
    lines.push(formatTable(small), '');
    lines.push(
      formatTable([
        ['64 MiB object', 'best MiB/s', 'runs', 'vs PUT hash ceiling', 'vs durable disk write'],
        [
          'PUT (presigned, streamed)',
          best(putRates),
          putRates.map((r) => r.toFixed(0)).join('/'),
          `${((100 * best(putRates)) / hashes.putSet).toFixed(0)}%`,
          `${((100 * best(putRates)) / disk).toFixed(0)}%`,
        ],
        [
          'GET',
          best(getRates),
          getRates.map((r) => r.toFixed(0)).join('/'),
          `${((100 * best(getRates)) / hashes.putSet).toFixed(0)}%`,
          '',
        ],
      ]),
      '',
    );
    lines.push(
      formatTable([
        ['memory', 'MiB'],
        ['server RSS before', before.rssMiB],
        [
          `server peak RSS while ${settings.rssClients} clients each stream ${(settings.rssObjectBytes / GiB).toFixed(2)} GiB`,
          peak,
        ],
        ['aggregate MiB/s of that load', (settings.rssClients * settings.rssObjectBytes) / MiB / rssSeconds],
      ]),
      '',
    );
  } finally {
    s3.destroy();
    await sovra.stop();
    removeDir(sovra.dataDir);
  }
  return lines.join('\n');
}
