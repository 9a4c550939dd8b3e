import { createHash } from 'node:crypto';
import type { IncrementalDigest, UploadDigests } from './ports.ts';

/** MD5 on the calling thread through node:crypto: the default, and the reference. */
export const inThreadDigests: UploadDigests = {
  createMd5(): IncrementalDigest {
    const hash = createHash('md5');
    return {
      update(chunk) {
        hash.update(chunk);
        return undefined;
      },
      digest() {
        return Promise.resolve(hash.digest());
      },
      discard() {},
    };
  },
};
