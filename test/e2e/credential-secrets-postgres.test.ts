import { credentialSecretsSuite } from './credential-secrets.suite.ts';

credentialSecretsSuite('postgres');
