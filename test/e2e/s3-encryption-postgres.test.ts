import { encryptionSuite } from './s3-encryption.suite.ts';

encryptionSuite('postgres');
