import { DiskBlobStore } from '../adapters/blobs/disk-blob-store.ts';
import { ObjectData } from '../domain/storage/object-data.ts';
import { ObjectStore } from '../domain/storage/object-store.ts';
import type { Clock } from '../platform/clock.ts';
import type { ServerConfig } from '../platform/config.ts';
import { openMetadataStore } from './metadata.ts';

/**
 * The object store over the configured metadata and blob stores, for maintenance commands that
 * run beside (or instead of) the server. They go through the same domain rules as the S3 API, so
 * that, for instance, Object Lock refuses a locked version to an operator exactly as to a client.
 * Removed blobs are queued as garbage; the server's collector deletes the files.
 */
export async function openObjectStoreForMaintenance(
  config: ServerConfig,
  clock: Clock,
): Promise<{ objects: ObjectStore; close: () => Promise<void> }> {
  const metadata = openMetadataStore(config, clock);
  try {
    await metadata.migrate();
  } catch (error) {
    await metadata.close();
    throw error;
  }
  const data = new ObjectData(new DiskBlobStore({ root: config.dataDir }));
  const objects = new ObjectStore({ metadata, data, clock, region: config.region });
  return { objects, close: () => metadata.close() };
}
