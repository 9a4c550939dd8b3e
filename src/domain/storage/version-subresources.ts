import { storageError } from './errors.ts';
import type { MetadataTx } from './ports.ts';
import type { ObjectVersion } from './types.ts';

/**
 * The version a subresource request (?tagging, ?retention, ?legal-hold) acts on, read inside the
 * transaction that will change it, with the key locked. As for GET: without a version id the
 * latest version, and a delete marker is not an object (NoSuchKey when it is the latest,
 * MethodNotAllowed when named by id).
 */
export async function versionForSubresource(
  tx: MetadataTx,
  bucketName: string,
  key: string,
  versionId: string | null,
): Promise<ObjectVersion> {
  if ((await tx.getBucket(bucketName)) === null) {
    throw storageError('BucketNotFound', 'The specified bucket does not exist', { name: bucketName });
  }
  await tx.lockObjectKey(bucketName, key);
  if (versionId === null) {
    const latest = await tx.getLatestVersion(bucketName, key);
    if (latest === null || latest.isDeleteMarker) {
      throw storageError('ObjectNotFound', 'The specified key does not exist.', {
        key,
        ...(latest === null ? {} : { deleteMarker: true, versionId: latest.versionId }),
      });
    }
    return latest;
  }
  const version = await tx.getVersion(bucketName, key, versionId);
  if (version === null) {
    throw storageError('VersionNotFound', 'The specified version does not exist.', { key, versionId });
  }
  if (version.isDeleteMarker) {
    throw storageError(
      'DeleteMarkerNotReadable',
      'The specified method is not allowed against this resource.',
      {
        deleteMarker: true,
        versionId: version.versionId,
      },
    );
  }
  return version;
}
