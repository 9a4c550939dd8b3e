import assert from 'node:assert/strict';
import { constants, PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';
import { describe, it } from 'node:test';
import { runInNewContext } from 'node:vm';
import { openScavengePacer } from '../../src/adapters/native/scavenge-pacer.ts';

const MiB = 1024 * 1024;

/** Young-generation collections that finish while `work` runs (reported after a turn). */
async function minorCollectionsDuring(work: () => void): Promise<number> {
  let minor = 0;
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const detail = (entry as PerformanceEntry & { detail?: { kind?: number } }).detail;
      if (detail?.kind === constants.NODE_PERFORMANCE_GC_MINOR) minor += 1;
    }
  });
  observer.observe({ entryTypes: ['gc'] });
  work();
  await new Promise((resolve) => setTimeout(resolve, 50));
  observer.disconnect();
  return minor;
}

void describe('scavenge pacer', () => {
  void it('runs one young-generation collection per `everyBytes` taken, across calls', async () => {
    const pacer = openScavengePacer(4 * MiB);
    assert.equal(pacer.active, true, 'the pinned runtime hands out its collection function');
    const collections = await minorCollectionsDuring(() => {
      for (let piece = 0; piece < 10 * 64; piece++) pacer.took(64 * 1024);
    });
    // 40 MiB in 64 KiB pieces: ten collections; the test process may add one of its own.
    assert.ok(collections >= 10 && collections <= 12, `${collections} minor collections`);
  });

  void it('below its pace it collects nothing', async () => {
    const pacer = openScavengePacer(64 * MiB);
    const collections = await minorCollectionsDuring(() => {
      for (let piece = 0; piece < 100; piece++) pacer.took(64 * 1024);
    });
    assert.ok(collections <= 1, `${collections} minor collections`);
  });

  void it('leaves no gc function in the global scope or in contexts made afterwards', () => {
    openScavengePacer(MiB);
    assert.equal('gc' in globalThis, false);
    assert.equal(runInNewContext('typeof gc'), 'undefined');
  });
});
