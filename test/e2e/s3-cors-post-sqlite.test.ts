import { defineCorsPostSuite } from './s3-cors-post.suite.ts';

defineCorsPostSuite('sqlite', { browser: true });
