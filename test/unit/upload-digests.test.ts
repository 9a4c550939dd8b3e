import { openThreadedMd5 } from '../../src/adapters/openssl/threaded-md5.ts';
import { inThreadDigests } from '../../src/domain/storage/in-thread-digests.ts';
import { uploadDigestsContract } from '../contract/upload-digests.contract.ts';

uploadDigestsContract('node:crypto, in thread', inThreadDigests);
uploadDigestsContract('OpenSSL on the thread pool (koffi)', await openThreadedMd5());
