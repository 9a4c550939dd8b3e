import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { it } from 'node:test';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { startHeapTrimmer } from '../../src/adapters/native/heap-trimmer.ts';

function rssMiB(): number {
  const status = readFileSync('/proc/self/status', 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024;
}

void it('gives freed malloc memory back to the system (glibc)', async () => {
  v8.setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  // 64 KiB buffers come from malloc's arenas (below its mmap threshold), as socket reads do.
  const held: Buffer[] = Array.from({ length: 1600 }, () => Buffer.allocUnsafeSlow(64 * 1024).fill(1));
  assert.equal(held.length, 1600);
  held.length = 0;
  gc();
  await new Promise((resolve) => setTimeout(resolve, 300));
  const before = rssMiB();
  const trimmer = await startHeapTrimmer(10);
  try {
    assert.equal(trimmer.active, true, 'this system has glibc malloc_trim');
    await new Promise((resolve) => setTimeout(resolve, 100));
    const after = rssMiB();
    assert.ok(
      before - after > 20,
      `RSS ${before.toFixed(0)} → ${after.toFixed(0)} MiB after 100 MiB were freed`,
    );
  } finally {
    trimmer.stop();
  }
});
