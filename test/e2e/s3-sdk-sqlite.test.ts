import { defineS3Suite } from './s3-sdk.suite.ts';

defineS3Suite('sqlite');
