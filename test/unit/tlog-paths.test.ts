import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { planAppend } from '../../src/domain/audit/tlog/appender.ts';
import { encodeEntryBundle, parseEntryBundle } from '../../src/domain/audit/tlog/entry-bundle.ts';
import { TlogError, type TlogErrorCode } from '../../src/domain/audit/tlog/errors.ts';
import { hashLeaf } from '../../src/domain/audit/tlog/hashing.ts';
import { InMemoryTileHashStore } from '../../src/domain/audit/tlog/memory-tile-store.ts';
import {
  formatEntryBundlePath,
  formatTileIndex,
  formatTilePath,
  parseTilePath,
} from '../../src/domain/audit/tlog/tile-paths.ts';

function codeOf(fn: () => unknown): TlogErrorCode | 'none' {
  try {
    fn();
    return 'none';
  } catch (error) {
    assert.ok(error instanceof TlogError, `expected a TlogError, got ${String(error)}`);
    return error.code;
  }
}

describe('c2sp.org/tlog-tiles paths', () => {
  it('tile indexes are written in 3-digit groups with x on all but the last', () => {
    assert.equal(formatTileIndex(1234067), 'x001/x234/067');
    assert.equal(formatTileIndex(0), '000');
    assert.equal(formatTileIndex(5), '005');
    assert.equal(formatTileIndex(999), '999');
    assert.equal(formatTileIndex(1000), 'x001/000');
    assert.equal(formatTileIndex(1_000_000), 'x001/x000/000');
    assert.equal(formatTileIndex(Number.MAX_SAFE_INTEGER), 'x009/x007/x199/x254/x740/991');
  });

  it('hash tile and entry bundle paths carry .p/<W> only when partial', () => {
    assert.equal(formatTilePath(0, 1234067), 'tile/0/x001/x234/067');
    assert.equal(formatTilePath(2, 1234067, 256), 'tile/2/x001/x234/067');
    assert.equal(formatTilePath(1, 7, 17), 'tile/1/007.p/17');
    assert.equal(formatEntryBundlePath(273, 112), 'tile/entries/273.p/112');
    assert.equal(formatEntryBundlePath(1234067), 'tile/entries/x001/x234/067');
    assert.equal(
      codeOf(() => formatTilePath(64, 0)),
      'MalformedTilePath',
    );
    assert.equal(
      codeOf(() => formatTilePath(0, 0, 0)),
      'MalformedTilePath',
    );
    assert.equal(
      codeOf(() => formatTilePath(0, 0, 257)),
      'MalformedTilePath',
    );
    assert.equal(
      codeOf(() => formatTilePath(0, -1)),
      'MalformedTilePath',
    );
    assert.equal(
      codeOf(() => formatEntryBundlePath(2 ** 53)),
      'MalformedTilePath',
    );
  });

  it('every formatted path parses back to the same tile', () => {
    for (const index of [0, 1, 999, 1000, 1001, 1234067, 999_999_999, Number.MAX_SAFE_INTEGER]) {
      for (const width of [1, 112, 255, 256]) {
        for (const level of [0, 1, 9, 63]) {
          assert.deepEqual(parseTilePath(formatTilePath(level, index, width)), {
            kind: 'hashes',
            level,
            index,
            width,
          });
        }
        assert.deepEqual(parseTilePath(formatEntryBundlePath(index, width)), {
          kind: 'entries',
          index,
          width,
        });
      }
    }
  });

  it('a path that is not exactly canonical is MalformedTilePath', () => {
    const malformed = [
      '',
      '/tile/0/000',
      'tile',
      'tile/0',
      'tile/0/',
      'tile//000',
      'tiles/0/000',
      'tile/00/000',
      'tile/01/000',
      'tile/64/000',
      'tile/-1/000',
      'tile/+1/000',
      'tile/1e1/000',
      'tile/0/67',
      'tile/0/0067',
      'tile/0/x067',
      'tile/0/x001',
      'tile/0/067/',
      'tile/0/x000/067',
      'tile/0/x000/x001/067',
      'tile/0/X001/067',
      'tile/0/x01/067',
      'tile/0/x0001/067',
      'tile/0/001/067',
      'tile/0/x001/x234/067x',
      'tile/0/٠٦٧',
      'tile/0/0 7',
      'tile/0/067.p',
      'tile/0/067.p/',
      'tile/0/067.p/0',
      'tile/0/067.p/007',
      'tile/0/067.p/256',
      'tile/0/067.p/1000',
      'tile/0/067.p/5/6',
      'tile/0/067.p/+5',
      'tile/0/x001.p/5',
      'tile/0/.p/5',
      'tile/0/067.P/5',
      'tile/0/067.q/5',
      'tile/entries',
      'tile/entries/',
      'tile/entries/67',
      'tile/entries/067.p/256',
      'tile/entries/x000/000',
      'tile/0/x010/x000/x000/x000/x000/000', // 10^16 > 2^53
      'tile/0/x999/x999/x999/x999/x999/999',
      `tile/0/${'x001/'.repeat(20)}000`,
      'tile/0/../000',
      'tile/0/000?x=1',
    ];
    for (const path of malformed)
      assert.equal(
        codeOf(() => parseTilePath(path)),
        'MalformedTilePath',
        path,
      );
    assert.equal(
      codeOf(() => parseTilePath(undefined as unknown as string)),
      'MalformedTilePath',
    );
  });
});

describe('entry bundles', () => {
  it('entries are a big-endian uint16 length followed by the bytes, and parse back', () => {
    const entries = [Buffer.from('a'), Buffer.alloc(0), Buffer.from('hello'), randomBytes(300)];
    const bundle = encodeEntryBundle(entries);
    assert.deepEqual(bundle.subarray(0, 3), Buffer.from([0x00, 0x01, 0x61]));
    assert.deepEqual(bundle.subarray(3, 5), Buffer.from([0x00, 0x00]));
    assert.deepEqual(bundle.subarray(5, 7), Buffer.from([0x00, 0x05]));
    assert.deepEqual(bundle.subarray(12, 14), Buffer.from([0x01, 0x2c]));
    assert.equal(bundle.byteLength, 4 * 2 + 1 + 0 + 5 + 300);
    assert.deepEqual(parseEntryBundle(bundle), entries);
    assert.deepEqual(parseEntryBundle(bundle, 4), entries);
  });

  it('an entry of 65,535 bytes fits; one of 65,536 is EntryTooLarge', () => {
    const largest = randomBytes(65_535);
    assert.deepEqual(parseEntryBundle(encodeEntryBundle([largest]), 1), [largest]);
    assert.equal(
      codeOf(() => encodeEntryBundle([Buffer.alloc(65_536)])),
      'EntryTooLarge',
    );
  });

  it('a full bundle holds 256 entries; more, or none, is refused', () => {
    const full = Array.from({ length: 256 }, (_, i) => Buffer.from(String(i)));
    assert.equal(parseEntryBundle(encodeEntryBundle(full), 256).length, 256);
    assert.equal(
      codeOf(() => encodeEntryBundle([...full, Buffer.from('x')])),
      'MalformedEntryBundle',
    );
    assert.equal(
      codeOf(() => encodeEntryBundle([])),
      'MalformedEntryBundle',
    );
    const tooLong = Buffer.concat([encodeEntryBundle(full), encodeEntryBundle([Buffer.from('x')])]);
    assert.equal(
      codeOf(() => parseEntryBundle(tooLong)),
      'MalformedEntryBundle',
    );
  });

  it('truncated, trailing or miscounted bundles are MalformedEntryBundle', () => {
    const bundle = encodeEntryBundle([Buffer.from('abc'), Buffer.from('de')]);
    assert.equal(
      codeOf(() => parseEntryBundle(bundle.subarray(0, bundle.byteLength - 1))),
      'MalformedEntryBundle',
    );
    assert.equal(
      codeOf(() => parseEntryBundle(Buffer.concat([bundle, Buffer.from([0x00])]))),
      'MalformedEntryBundle',
    );
    assert.equal(
      codeOf(() => parseEntryBundle(bundle, 3)),
      'MalformedEntryBundle',
    );
    assert.equal(
      codeOf(() => parseEntryBundle(bundle, 1)),
      'MalformedEntryBundle',
    );
    assert.equal(
      codeOf(() => parseEntryBundle(Buffer.alloc(0))),
      'MalformedEntryBundle',
    );
    assert.equal(
      codeOf(() => parseEntryBundle(Buffer.from([0xff, 0xff, 0x00]))),
      'MalformedEntryBundle',
    );
    assert.equal(
      codeOf(() => parseEntryBundle('abc' as unknown as Uint8Array)),
      'MalformedEntryBundle',
    );
  });

  it('entry i of a bundle hashes to hash i of the level-0 tile with the same index', async () => {
    const store = new InMemoryTileHashStore();
    const entries = Array.from({ length: 300 }, (_, i) => Buffer.from(`entry ${i}`));
    const plan = await planAppend(store, 0, entries);
    const partial = plan.tiles.find((t) => t.level === 0 && t.index === 1)!;
    const served = parseEntryBundle(encodeEntryBundle(entries.slice(256)), partial.width);
    served.forEach((entry, i) => {
      assert.ok(hashLeaf(entry).equals(Buffer.from(partial.hashes.subarray(i * 32, (i + 1) * 32))));
    });
  });
});
