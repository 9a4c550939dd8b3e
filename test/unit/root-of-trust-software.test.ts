import { randomBytes } from 'node:crypto';
import { SoftwareRoot, type RootOfTrust } from '../../src/domain/kms/root-of-trust.ts';
import { rootOfTrustContract } from '../contract/root-of-trust.contract.ts';

rootOfTrustContract('software root (sealed-shamir)', () => {
  const opened: RootOfTrust[] = [];
  return Promise.resolve({
    openRoot: () => {
      const root = new SoftwareRoot();
      root.unsealWith(randomBytes(32));
      opened.push(root);
      return Promise.resolve(root);
    },
    sealedRoot: () => Promise.resolve(new SoftwareRoot()),
    dispose: async () => {
      for (const root of opened) await root.close();
    },
  });
});
