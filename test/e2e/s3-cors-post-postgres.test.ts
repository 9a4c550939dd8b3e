import { defineCorsPostSuite } from './s3-cors-post.suite.ts';

defineCorsPostSuite('postgres', { browser: false });
