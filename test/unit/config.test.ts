import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { readDefaultGuardrails } from '../../src/adapters/cedar/cedar-guardrails.ts';
import { SqlGuardrailSetStore } from '../../src/adapters/sql/guardrail-set-store.ts';
import { SqlMetadataStore } from '../../src/adapters/sql/metadata-store.ts';
import { SQLITE_MIGRATIONS } from '../../src/adapters/sqlite/migrations.ts';
import { SqliteDatabase } from '../../src/adapters/sqlite/sqlite-database.ts';
import { LockboxError } from '../../src/domain/lockbox/errors.ts';
import { parseOperatorAccessRules } from '../../src/domain/lockbox/rules.ts';
import { systemClock } from '../../src/platform/clock.ts';
import { ConfigError, loadServerConfig } from '../../src/platform/config.ts';
import { openClassificationScheme, openPlatformGuardrails } from '../../src/server/platform-policy.ts';

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

describe('classification profile and guardrails settings', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sovra-cfg-policy-'));
  const schemeFile = join(dir, 'agency-scheme.json');
  writeFileSync(
    schemeFile,
    JSON.stringify({
      formatVersion: 1,
      profile: 'agency',
      levels: [
        { id: 'OPEN', names: { en: 'Open' }, rank: 0 },
        { id: 'SENSITIVE', names: { en: 'Sensitive' }, rank: 1 },
      ],
      compartments: [{ id: 'AUDIT', names: { en: 'Audit' } }],
    }),
  );
  const settingOf = (error: unknown) => (error instanceof ConfigError ? error.details.setting : undefined);

  it('defaults to the generic profile and the shipped guardrails', () => {
    const config = loadServerConfig({}, {});
    assert.deepEqual(config.classification, { profile: 'generic' });
    assert.equal(config.guardrails, null);
    assert.equal(openClassificationScheme(config).profile, 'generic');
  });

  it('takes a shipped profile name from a flag, the environment or the config file', () => {
    const file = join(dir, 'c.json');
    writeFileSync(file, JSON.stringify({ classificationProfile: 'japan' }));
    assert.deepEqual(loadServerConfig({ classificationProfile: 'vietnam' }, {}).classification, {
      profile: 'vietnam',
    });
    assert.deepEqual(loadServerConfig({}, { SOVRA_CLASSIFICATION_PROFILE: 'malaysia' }).classification, {
      profile: 'malaysia',
    });
    const fromFile = loadServerConfig({ config: file }, {});
    assert.deepEqual(fromFile.classification, { profile: 'japan' });
    assert.deepEqual(
      openClassificationScheme(fromFile).levels.map((level) => level.id),
      ['UNCLASSIFIED', 'TORIATSUKAI_CHUI', 'HI', 'GOKUHI'],
    );
  });

  it("reads an operator's scheme file given as a path, and the server uses its levels and compartments", () => {
    const config = loadServerConfig({ classificationProfile: schemeFile }, {});
    assert.equal('file' in config.classification && config.classification.file, schemeFile);
    const scheme = openClassificationScheme(config);
    assert.equal(scheme.profile, 'agency');
    assert.deepEqual(
      scheme.levels.map((level) => level.id),
      ['OPEN', 'SENSITIVE'],
    );
    assert.notEqual(scheme.findCompartment('AUDIT'), null);
  });

  it('names classificationProfile for a malformed name, an unreadable file, an unknown profile or an invalid scheme', () => {
    for (const value of ['Vietnam!', join(dir, 'missing.json')]) {
      assert.throws(
        () => loadServerConfig({ classificationProfile: value }, {}),
        (error: unknown) => settingOf(error) === 'classificationProfile',
      );
    }
    assert.throws(
      () => openClassificationScheme(loadServerConfig({ classificationProfile: 'atlantis' }, {})),
      (error: unknown) =>
        settingOf(error) === 'classificationProfile' &&
        /config: classificationProfile: .*atlantis.*generic, malaysia, vietnam, japan/.test(
          (error as Error).message,
        ),
    );
    const invalid = join(dir, 'invalid-scheme.json');
    writeFileSync(invalid, JSON.stringify({ formatVersion: 1, profile: 'x', levels: [], compartments: [] }));
    assert.throws(
      () => openClassificationScheme(loadServerConfig({ classificationProfile: invalid }, {})),
      (error: unknown) =>
        settingOf(error) === 'classificationProfile' &&
        (error as Error).message.startsWith(`config: classificationProfile: ${invalid}: `) &&
        /levels/.test((error as Error).message),
    );
  });

  it("operator access rules use the platform's scheme: profile defaults to it, another profile is refused", () => {
    const vietnam = openClassificationScheme(loadServerConfig({ classificationProfile: 'vietnam' }, {}));
    const rules = {
      minClearance: 'TOI_MAT',
      nationalities: ['VN'],
      residencies: ['VN'],
      networkJurisdictions: ['VN'],
      maxDurationSeconds: 3600,
    };
    const parsed = parseOperatorAccessRules(JSON.stringify(rules), vietnam);
    assert.equal(parsed.scheme, vietnam);
    assert.equal(parsed.minClearance.id, 'TOI_MAT');
    assert.equal(
      parseOperatorAccessRules(JSON.stringify({ ...rules, profile: 'vietnam' }), vietnam).scheme,
      vietnam,
    );
    assert.throws(
      () =>
        parseOperatorAccessRules(
          JSON.stringify({ ...rules, minClearance: 'SECRET', profile: 'generic' }),
          vietnam,
        ),
      (error: unknown) =>
        error instanceof LockboxError &&
        /profile "generic" is not the platform's classification profile "vietnam"/.test(error.message),
    );
  });

  it('reads the guardrails file; an unreadable one names guardrails', () => {
    const file = join(dir, 'guardrails.cedar');
    writeFileSync(file, readDefaultGuardrails());
    assert.deepEqual(loadServerConfig({}, { SOVRA_GUARDRAILS: file }).guardrails, {
      file,
      text: readDefaultGuardrails(),
    });
    assert.throws(
      () => loadServerConfig({ guardrails: join(dir, 'missing.cedar') }, {}),
      (error: unknown) => settingOf(error) === 'guardrails',
    );
  });

  it('a guardrails file that does not validate stops the start with the validator message naming guardrails', async () => {
    const file = join(dir, 'typo.cedar');
    writeFileSync(
      file,
      '@id("baseline") permit (principal, action, resource);\n' +
        '@id("typo") forbid (principal, action == Sovra::Action::"s3:GetObject", resource)\n' +
        'when { resource.clasificationRank > 0 };\n',
    );
    const db = new SqliteDatabase(join(dir, 'metadata.sqlite'));
    const metadata = new SqlMetadataStore(db, { migrations: SQLITE_MIGRATIONS, clock: systemClock });
    await metadata.migrate();
    const log = { info: () => {}, warn: () => {}, error: () => {} };
    try {
      await assert.rejects(
        openPlatformGuardrails({
          config: loadServerConfig({ guardrails: file }, {}),
          store: new SqlGuardrailSetStore(db),
          clock: systemClock,
          log,
        }),
        (error: unknown) =>
          settingOf(error) === 'guardrails' &&
          (error as Error).message.startsWith(`config: guardrails: ${file}: Guardrails refused:`) &&
          /typo: .*clasificationRank/.test((error as Error).message),
      );
      const valid = join(dir, 'valid.cedar');
      writeFileSync(valid, readDefaultGuardrails());
      const opened = await openPlatformGuardrails({
        config: loadServerConfig({ guardrails: valid }, {}),
        store: new SqlGuardrailSetStore(db),
        clock: systemClock,
        log,
      });
      await opened.administration.stop();
      assert.equal(opened.guardrails.active.text, readDefaultGuardrails());
    } finally {
      await metadata.close();
    }
  });
});
