import { request } from 'node:http';
import { Readable } from 'node:stream';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { removeDir, startSovra, type SovraProcess } from '../test/helpers/sovra-process.ts';
import { formatTable } from './harness.ts';

const MiB = 1024 * 1024;

/**
 * Encryption at rest: 64 MiB PUT and GET throughput of a server that encrypts (the default
 * local-key root, the same software root as sealed-shamir once unsealed; objects under SSE-S3
 * data keys, AES-256-GCM frames) against a `--root-of-trust
 * none` control storing plaintext CRC frames, in the same run (target: encryption costs ≤ 15%).
 * Then ranged GET latency on one large encrypted object (`largeBytes`, BENCH_SSE_LARGE_MIB).
 */
export async function benchEncryption(largeBytes: number, rangeRequests: number): Promise<string> {
  const encrypted = await startSovra({ extraArgs: ['--root-of-trust', 'local-key'] });
  const plain = await startSovra({ extraArgs: ['--root-of-trust', 'none'] });
  try {
    const rows: (string | number)[][] = [
      [
        '64 MiB object',
        `PUT MiB/s (median of ${THROUGHPUT_ROUNDS})`,
        `GET MiB/s (median of ${THROUGHPUT_ROUNDS})`,
        'vs control',
      ],
    ];
    const [control, sse] = (await alternatedThroughput(plain, encrypted)) as [Throughput, Throughput];
    rows.push(['plaintext CRC frames (--root-of-trust none), control', control.put, control.get, '100%']);
    rows.push([
      'AES-256-GCM frames (SSE-S3)',
      sse.put,
      sse.get,
      `PUT ${((100 * sse.put) / control.put).toFixed(0)}%, GET ${((100 * sse.get) / control.get).toFixed(0)}%`,
    ]);
    const ranges = await rangeLatency(encrypted, largeBytes, rangeRequests);
    const latency: (string | number)[][] = [
      [
        `ranged GET of a ${Math.round(largeBytes / MiB)} MiB encrypted object`,
        'requests',
        'p50 ms',
        'p99 ms',
      ],
      ...ranges.map((r) => [r.label, rangeRequests, r.p50Ms, r.p99Ms]),
    ];
    return `${formatTable(rows)}\n\n${formatTable(latency)}`;
  } finally {
    for (const server of [encrypted, plain]) {
      await server.stop();
      removeDir(server.dataDir);
    }
  }
}

/** Rounds of each measurement; they alternate between the servers so drift hits both alike. */
const THROUGHPUT_ROUNDS = 7;

interface Throughput {
  put: number;
  get: number;
}

async function alternatedThroughput(...servers: SovraProcess[]): Promise<Throughput[]> {
  const targets = [];
  for (const server of servers) {
    const s3 = server.client();
    await s3.send(new CreateBucketCommand({ Bucket: 'bench' }));
    const putUrl = await getSignedUrl(s3, new PutObjectCommand({ Bucket: 'bench', Key: 'o64' }), {
      expiresIn: 3600,
    });
    const getUrl = await getSignedUrl(s3, new GetObjectCommand({ Bucket: 'bench', Key: 'o64' }), {
      expiresIn: 3600,
    });
    s3.destroy();
    targets.push({ putUrl, getUrl, puts: [] as number[], gets: [] as number[] });
  }
  for (let round = 0; round < THROUGHPUT_ROUNDS; round++) {
    for (const target of targets) target.puts.push(await timed(() => streamPut(target.putUrl, 64 * MiB)));
    for (const target of targets) target.gets.push(await timed(() => streamGet(target.getUrl, null)));
  }
  return targets.map((target) => ({ put: median(target.puts), get: median(target.gets) }));
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return Math.round(sorted[Math.floor(sorted.length / 2)]!);
}

async function rangeLatency(
  server: SovraProcess,
  largeBytes: number,
  requests: number,
): Promise<{ label: string; p50Ms: number; p99Ms: number }[]> {
  const s3 = server.client();
  try {
    const putUrl = await getSignedUrl(s3, new PutObjectCommand({ Bucket: 'bench', Key: 'large' }), {
      expiresIn: 3600,
    });
    const getUrl = await getSignedUrl(s3, new GetObjectCommand({ Bucket: 'bench', Key: 'large' }), {
      expiresIn: 3600,
    });
    await streamPut(putUrl, largeBytes);
    const results = [];
    for (const [label, length] of [
      ['4 KiB at a random offset', 4096],
      ['1 MiB at a random offset', MiB],
    ] as const) {
      const latencies: number[] = [];
      for (let i = 0; i < requests; i++) {
        const start = Math.floor(Math.random() * (largeBytes - length));
        const started = performance.now();
        await streamGet(getUrl, `bytes=${start}-${start + length - 1}`);
        latencies.push(performance.now() - started);
      }
      latencies.sort((a, b) => a - b);
      const at = (q: number) =>
        Math.round(latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]! * 100) / 100;
      results.push({ label, p50Ms: at(0.5), p99Ms: at(0.99) });
    }
    return results;
  } finally {
    s3.destroy();
  }
}

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

function streamGet(url: string, range: string | null): Promise<number> {
  return new Promise((resolve, reject) => {
    request(url, { headers: range === null ? {} : { range } }, (res) => {
      let received = 0;
      res.on('data', (c: Buffer) => (received += c.length));
      res.on('end', () =>
        res.statusCode === 200 || res.statusCode === 206
          ? resolve(received)
          : reject(new Error(`GET ${res.statusCode}`)),
      );
    })
      .on('error', reject)
      .end();
  });
}

async function timed(work: () => Promise<number>): Promise<number> {
  const started = process.hrtime.bigint();
  const bytes = await work();
  return bytes / MiB / (Number(process.hrtime.bigint() - started) / 1e9);
}
