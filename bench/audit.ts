// The cost of the verifiable audit log on the data path: 4 KiB PUT and GET with auditing on (the
// default: each response waits for its record's group commit) and off, same run, same machine.
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { removeDir, startSovra } from '../test/helpers/sovra-process.ts';
import { formatTable, putScript, wrk, type WrkResult } from './harness.ts';

const CONNECTIONS = [1, 16];

async function measure(audit: 'on' | 'off', durationS: number): Promise<Map<string, WrkResult>> {
  const sovra = await startSovra({ extraArgs: ['--log-level', 'warn', '--audit-log', audit] });
  const s3 = sovra.client();
  const presigner = sovra.client({ requestChecksumCalculation: 'WHEN_REQUIRED' });
  const results = new Map<string, WrkResult>();
  try {
    await s3.send(new CreateBucketCommand({ Bucket: 'bench' }));
    await s3.send(new PutObjectCommand({ Bucket: 'bench', Key: 'small', Body: Buffer.alloc(4096, 1) }));
    const getUrl = await getSignedUrl(s3, new GetObjectCommand({ Bucket: 'bench', Key: 'small' }), {
      expiresIn: 3600,
    });
    const putUrl = await getSignedUrl(presigner, new PutObjectCommand({ Bucket: 'bench', Key: 'put' }), {
      expiresIn: 3600,
    });
    const script = putScript(join(tmpdir(), `sovra-bench-audit-${process.pid}.lua`), 4096);
    for (const connections of CONNECTIONS) {
      results.set(`PUT ${connections}`, await wrk(putUrl, { connections, durationS, script }));
      results.set(`GET ${connections}`, await wrk(getUrl, { connections, durationS }));
    }
  } finally {
    s3.destroy();
    presigner.destroy();
    await sovra.stop();
    removeDir(sovra.dataDir);
  }
  return results;
}

export async function benchAudit(durationS: number): Promise<string> {
  const off = await measure('off', durationS);
  const on = await measure('on', durationS);
  const rows: (string | number)[][] = [
    [
      '4 KiB, audit on vs off',
      'ops/s on',
      'ops/s off',
      'p50 ms on',
      'p50 ms off',
      'p99 ms on',
      'p99 ms off',
      'added p50',
    ],
  ];
  for (const name of on.keys()) {
    const a = on.get(name)!;
    const b = off.get(name)!;
    rows.push([
      name,
      a.requestsPerSecond,
      b.requestsPerSecond,
      a.p50Ms,
      b.p50Ms,
      a.p99Ms,
      b.p99Ms,
      `${(((a.p50Ms - b.p50Ms) / b.p50Ms) * 100).toFixed(0)}%`,
    ]);
  }
  return `## audit log on the data path (target: ≤ 10% added latency on a 4 KiB PUT)\n${formatTable(rows)}`;
}
