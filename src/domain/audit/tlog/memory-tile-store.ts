/**
 * The tile store port held in memory: for tests, benchmarks and tools that rebuild a tree.
 * Tiles are copied on write so that a caller's buffers (often views of a larger batch buffer)
 * are neither kept alive nor changed behind the store's back.
 */
import { assertHashTile, tileKey, type HashTile, type TileHashStore, type TileRef } from './tiles.ts';

export class InMemoryTileHashStore implements TileHashStore {
  readonly #tiles = new Map<string, HashTile>();

  readTiles(refs: readonly TileRef[]): Promise<readonly (HashTile | undefined)[]> {
    return Promise.resolve(refs.map((ref) => this.#tiles.get(tileKey(ref))));
  }

  writeTiles(tiles: readonly HashTile[]): Promise<void> {
    return new Promise((resolve) => {
      // The whole batch is validated before any of it is stored (a throw here rejects): writes
      // are all or nothing.
      tiles.forEach(assertHashTile);
      for (const tile of tiles) {
        this.#tiles.set(tileKey(tile), {
          level: tile.level,
          index: tile.index,
          width: tile.width,
          hashes: Buffer.from(tile.hashes),
        });
      }
      resolve();
    });
  }

  /** Number of tiles stored (full and partial). */
  get tileCount(): number {
    return this.#tiles.size;
  }
}
