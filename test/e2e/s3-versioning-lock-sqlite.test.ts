import { defineVersioningLockSuite } from './s3-versioning-lock.suite.ts';

defineVersioningLockSuite('sqlite');
