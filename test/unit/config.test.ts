import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadServerConfig, type ConfigError } from '../../src/platform/config.ts';

describe('server configuration', () => {
  it('flags override environment, which overrides the file, which overrides defaults', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sovra-cfg-'));
    const file = join(dir, 'c.json');
    writeFileSync(file, JSON.stringify({ dataDir: '/from-file', listen: '0.0.0.0:1', region: 'vn-hanoi-1' }));
    const config = loadServerConfig({ config: file, listen: '127.0.0.1:2' }, { SOVRA_DATA_DIR: '/from-env' });
    assert.equal(config.dataDir, '/from-env');
    assert.deepEqual(config.listen, { host: '127.0.0.1', port: 2 });
    assert.equal(config.region, 'vn-hanoi-1');
    assert.equal(config.metadata.backend, 'sqlite');
  });

  it('names the bad setting in its error', () => {
    const cases: [Record<string, string>, Record<string, string>, RegExp][] = [
      [{ listen: 'localhost' }, {}, /listen/],
      [{ listen: '127.0.0.1:70000' }, {}, /listen/],
      [{}, { SOVRA_METADATA_BACKEND: 'postgres' }, /postgresUrl/],
      [{ region: 'Bad Region' }, {}, /region/],
      [{ tlsCert: '/x.pem' }, {}, /tlsKey/],
      [{ logLevel: 'loud' }, {}, /logLevel/],
    ];
    for (const [flags, env, pattern] of cases) {
      assert.throws(
        () => loadServerConfig(flags, env),
        (e: ConfigError) => e.code === 'InvalidConfig' && pattern.test(e.message),
      );
    }
  });

  it('refuses a TLS key file readable by others', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sovra-cfg-'));
    writeFileSync(join(dir, 'k.pem'), 'x', { mode: 0o644 });
    writeFileSync(join(dir, 'c.pem'), 'x');
    assert.throws(
      () => loadServerConfig({ tlsCert: join(dir, 'c.pem'), tlsKey: join(dir, 'k.pem') }, {}),
      /chmod 600/,
    );
  });
});
