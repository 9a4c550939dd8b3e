import { openOpenSslFrameCiphers } from '../../src/adapters/openssl/frame-cipher.ts';
import { nodeFrameCiphers } from '../../src/domain/storage/node-frame-cipher.ts';
import { frameCipherContract } from '../contract/frame-cipher.contract.ts';

frameCipherContract('node:crypto', nodeFrameCiphers);
frameCipherContract('OpenSSL in place (koffi)', await openOpenSslFrameCiphers());
