import { DiskBlobStore } from '../adapters/blobs/disk-blob-store.ts';
import {
  LifecycleRunner,
  type LifecycleLog,
  type LifecyclePassReport,
} from '../domain/storage/lifecycle-runner.ts';
import { MultipartUploads } from '../domain/storage/multipart-uploads.ts';
import { BucketNotifications } from '../domain/storage/notifications.ts';
import { ObjectData } from '../domain/storage/object-data.ts';
import { ObjectStore } from '../domain/storage/object-store.ts';
import type { Clock } from '../platform/clock.ts';
import type { ServerConfig } from '../platform/config.ts';
import { openMetadataStore } from './metadata.ts';

/**
 * One lifecycle pass over the configured stores, beside a running server or instead of it
 * (`sovra admin lifecycle-run`). The services are built as the server builds them, so deletions
 * take the same paths: Object Lock checks, the lifecycle record, and LifecycleExpiration events in
 * the notification outbox (delivered by the server's dispatcher). Removed blobs are queued as
 * garbage for the server's collector.
 */
export async function runLifecyclePass(
  config: ServerConfig,
  clock: Clock,
  log: LifecycleLog,
): Promise<LifecyclePassReport> {
  const metadata = openMetadataStore(config, clock);
  try {
    await metadata.migrate();
    const data = new ObjectData(new DiskBlobStore({ root: config.dataDir }));
    const events = new BucketNotifications({
      metadata,
      clock,
      region: config.region,
      destinations: config.notificationTargets,
    });
    const objects = new ObjectStore({ metadata, data, clock, region: config.region, events });
    const uploads = new MultipartUploads({ metadata, data, objects, clock });
    return await new LifecycleRunner({ metadata, objects, uploads, clock, log }).runPass();
  } finally {
    await metadata.close();
  }
}
