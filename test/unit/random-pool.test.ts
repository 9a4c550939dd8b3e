import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fillPublicRandom, publicRandomBytes } from '../../src/platform/random-pool.ts';

void describe('public random pool', () => {
  it('hands out fresh bytes of the asked length, never the same twice, across pool refills', () => {
    const seen = new Set<string>();
    // 10,000 × 16 bytes spans three 64 KiB draws.
    for (let i = 0; i < 10_000; i++) {
      const bytes = publicRandomBytes(16);
      assert.equal(bytes.length, 16);
      const hex = bytes.toString('hex');
      assert.ok(!seen.has(hex), 'a value came out twice');
      seen.add(hex);
    }
  });

  it('returns copies: changing one changes no later value', () => {
    const first = publicRandomBytes(32);
    first.fill(0);
    const next = publicRandomBytes(32);
    assert.notDeepEqual(next, Buffer.alloc(32));
  });

  it('fills a view in place, and serves requests larger than the pool', () => {
    const target = Buffer.alloc(64);
    const view = target.subarray(8, 20);
    assert.equal(fillPublicRandom(view), view);
    assert.deepEqual(target.subarray(0, 8), Buffer.alloc(8));
    assert.deepEqual(target.subarray(20), Buffer.alloc(44));
    assert.notDeepEqual(view, Buffer.alloc(12));
    const large = publicRandomBytes(200 * 1024);
    assert.equal(large.length, 200 * 1024);
    // A uniform draw of this size has every byte value.
    assert.equal(new Set(large).size, 256);
  });
});
