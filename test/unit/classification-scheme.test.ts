import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ClassificationError, type ClassificationErrorCode } from '../../src/domain/classification/errors.ts';
import {
  MAX_CLASSIFICATION_LEVELS,
  MAX_COMPARTMENTS,
  MAX_SCHEME_DOCUMENT_BYTES,
} from '../../src/domain/classification/limits.ts';
import { CLASSIFICATION_PROFILES, classificationProfile } from '../../src/domain/classification/profiles.ts';
import { ClassificationScheme, displayName } from '../../src/domain/classification/scheme.ts';

function document(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    formatVersion: 1,
    profile: 'test',
    levels: [
      { id: 'PUBLIC', names: { en: 'Public' }, rank: 0 },
      { id: 'SECRET', names: { en: 'Secret' }, rank: 10 },
    ],
    compartments: [{ id: 'NUCLEAR', names: { en: 'Nuclear' } }],
    ...overrides,
  };
}

function failsWith(code: ClassificationErrorCode, fn: () => unknown): ClassificationError {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof ClassificationError, `expected a ClassificationError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    return error;
  }
  assert.fail(`expected ${code}`);
}

function levels(count: number): Record<string, unknown>[] {
  return Array.from({ length: count }, (_, index) => ({
    id: `L${index}`,
    names: { en: `Level ${index}` },
    rank: index,
  }));
}

describe('classification schemes', () => {
  test('a valid scheme document loads with its levels lowest first', () => {
    const scheme = ClassificationScheme.parse(JSON.stringify(document()));
    assert.equal(scheme.profile, 'test');
    assert.deepEqual(
      scheme.levels.map((level) => [level.id, level.rank]),
      [
        ['PUBLIC', 0],
        ['SECRET', 10],
      ],
    );
    assert.equal(scheme.lowestLevel.id, 'PUBLIC');
    assert.equal(scheme.compartment('NUCLEAR').names.en, 'Nuclear');
  });

  test('a scheme written with toDocument loads back to the same document (format 1 golden round trip)', () => {
    const scheme = classificationProfile('malaysia');
    const again = ClassificationScheme.parse(JSON.stringify(scheme.toDocument()));
    assert.deepEqual(again.toDocument(), scheme.toDocument());
    assert.deepEqual(scheme.toDocument().levels[3], {
      id: 'CONFIDENTIAL',
      names: { en: 'Confidential', ms: 'Sulit' },
      rank: 3,
      residency: { tier: 'sovereign', jurisdiction: 'MY' },
    });
  });

  test('an unknown formatVersion is refused with UnsupportedSchemeFormat', () => {
    failsWith('UnsupportedSchemeFormat', () =>
      ClassificationScheme.fromDocument(document({ formatVersion: 2 })),
    );
    failsWith('UnsupportedSchemeFormat', () => ClassificationScheme.fromDocument({ profile: 'x' }));
  });

  test('text that is not JSON, or not an object, is InvalidClassificationScheme', () => {
    failsWith('InvalidClassificationScheme', () => ClassificationScheme.parse('{levels:'));
    failsWith('InvalidClassificationScheme', () => ClassificationScheme.parse('[]'));
    failsWith('InvalidClassificationScheme', () => ClassificationScheme.parse('null'));
  });

  test('a scheme document larger than the limit is refused before parsing', () => {
    const huge = JSON.stringify(document({ padding: 'x'.repeat(MAX_SCHEME_DOCUMENT_BYTES) }));
    const error = failsWith('InvalidClassificationScheme', () => ClassificationScheme.parse(huge));
    assert.match(error.message, /larger than/);
  });

  test('unknown fields are errors, at the top level and in levels', () => {
    failsWith('InvalidClassificationScheme', () => ClassificationScheme.fromDocument(document({ extra: 1 })));
    failsWith('InvalidClassificationScheme', () =>
      ClassificationScheme.fromDocument(
        document({ levels: [{ id: 'PUBLIC', names: { en: 'Public' }, rank: 0, colour: 'green' }] }),
      ),
    );
  });

  test('two levels with the same id are refused', () => {
    const error = failsWith('InvalidClassificationScheme', () =>
      ClassificationScheme.fromDocument(
        document({
          levels: [
            { id: 'PUBLIC', names: { en: 'Public' }, rank: 0 },
            { id: 'PUBLIC', names: { en: 'Again' }, rank: 1 },
          ],
        }),
      ),
    );
    assert.match(error.message, /used twice/);
  });

  test('two compartments with the same id are refused', () => {
    failsWith('InvalidClassificationScheme', () =>
      ClassificationScheme.fromDocument(
        document({
          compartments: [
            { id: 'CRYPTO', names: { en: 'Crypto' } },
            { id: 'CRYPTO', names: { en: 'Crypto again' } },
          ],
        }),
      ),
    );
  });

  test('ranks must be strictly increasing in listing order', () => {
    for (const ranks of [
      [0, 0],
      [0, 2, 1],
    ]) {
      failsWith('InvalidClassificationScheme', () =>
        ClassificationScheme.fromDocument(
          document({ levels: ranks.map((rank, index) => ({ id: `L${index}`, names: { en: 'x' }, rank })) }),
        ),
      );
    }
  });

  test('the lowest level must have rank 0, the public level', () => {
    const error = failsWith('InvalidClassificationScheme', () =>
      ClassificationScheme.fromDocument(
        document({ levels: [{ id: 'INTERNAL', names: { en: 'x' }, rank: 1 }] }),
      ),
    );
    assert.match(error.message, /rank 0/);
  });

  test('ranks must be integers within bounds', () => {
    for (const rank of [-1, 1.5, '1', 1001, Number.NaN]) {
      failsWith('InvalidClassificationScheme', () =>
        ClassificationScheme.fromDocument(
          document({
            levels: [
              { id: 'PUBLIC', names: { en: 'Public' }, rank: 0 },
              { id: 'HIGH', names: { en: 'High' }, rank },
            ],
          }),
        ),
      );
    }
  });

  test(`a scheme has 1 to ${MAX_CLASSIFICATION_LEVELS} levels`, () => {
    assert.equal(
      ClassificationScheme.fromDocument(document({ levels: levels(MAX_CLASSIFICATION_LEVELS) })).levels
        .length,
      MAX_CLASSIFICATION_LEVELS,
    );
    failsWith('InvalidClassificationScheme', () =>
      ClassificationScheme.fromDocument(document({ levels: levels(MAX_CLASSIFICATION_LEVELS + 1) })),
    );
    failsWith('InvalidClassificationScheme', () =>
      ClassificationScheme.fromDocument(document({ levels: [] })),
    );
  });

  test(`a scheme has at most ${MAX_COMPARTMENTS} compartments`, () => {
    const compartments = (count: number) =>
      Array.from({ length: count }, (_, index) => ({ id: `C${index}`, names: { en: `C${index}` } }));
    assert.equal(
      ClassificationScheme.fromDocument(document({ compartments: compartments(MAX_COMPARTMENTS) }))
        .compartments.length,
      MAX_COMPARTMENTS,
    );
    failsWith('InvalidClassificationScheme', () =>
      ClassificationScheme.fromDocument(document({ compartments: compartments(MAX_COMPARTMENTS + 1) })),
    );
  });

  test('level ids are upper-case ASCII so that they travel in headers and tags', () => {
    for (const id of ['secret', 'TỐI_MẬT', '', 'A B', '1ST', 'A'.repeat(33), 42]) {
      failsWith('InvalidClassificationScheme', () =>
        ClassificationScheme.fromDocument(document({ levels: [{ id, names: { en: 'x' }, rank: 0 }] })),
      );
    }
  });

  test('display names may be any Unicode text and are stored in NFC', () => {
    const decomposed = 'Tối mật'.normalize('NFD');
    const scheme = ClassificationScheme.fromDocument(
      document({
        levels: [
          { id: 'PUBLIC', names: { en: 'Public', ja: '公開' }, rank: 0 },
          { id: 'TOI_MAT', names: { vi: decomposed, 'zh-Hant': '機密' }, rank: 1 },
        ],
      }),
    );
    assert.equal(scheme.level('TOI_MAT').names.vi, 'Tối mật'.normalize('NFC'));
    assert.equal(scheme.level('PUBLIC').names.ja, '公開');
  });

  test('display names with control characters, surrounding spaces or bad language tags are refused', () => {
    for (const names of [
      { en: 'a\u0000b' },
      { en: ' Secret' },
      { en: '' },
      { english: 'Secret' },
      {},
      { en: 7 },
    ]) {
      failsWith('InvalidClassificationScheme', () =>
        ClassificationScheme.fromDocument(document({ levels: [{ id: 'PUBLIC', names, rank: 0 }] })),
      );
    }
  });

  test('a residency requirement names a tier and an ISO 3166-1 alpha-2 jurisdiction', () => {
    for (const residency of [
      { tier: 'sovereign', jurisdiction: 'my' },
      { tier: 'Sovereign', jurisdiction: 'MY' },
      { tier: 'sovereign' },
      { tier: 'sovereign', jurisdiction: 'MY', region: 'x' },
      'sovereign',
    ]) {
      failsWith('InvalidClassificationScheme', () =>
        ClassificationScheme.fromDocument(
          document({ levels: [{ id: 'PUBLIC', names: { en: 'Public' }, rank: 0, residency }] }),
        ),
      );
    }
  });

  test('an unknown level or compartment id is UnknownLevel or UnknownCompartment', () => {
    const scheme = ClassificationScheme.fromDocument(document());
    failsWith('UnknownLevel', () => scheme.level('TOP_SECRET'));
    failsWith('UnknownCompartment', () => scheme.compartment('CRYPTO'));
    assert.equal(scheme.findLevel('TOP_SECRET'), null);
  });
});

describe('shipped classification profiles', () => {
  test('every shipped profile loads and passes validation', () => {
    for (const name of CLASSIFICATION_PROFILES) {
      const scheme = classificationProfile(name);
      assert.equal(scheme.profile, name);
      assert.equal(scheme.lowestLevel.rank, 0);
    }
  });

  test('an unknown profile name is UnknownProfile', () => {
    failsWith('UnknownProfile', () => classificationProfile('atlantis'));
  });

  test('generic is PUBLIC < INTERNAL < CONFIDENTIAL < SECRET < TOP_SECRET', () => {
    assert.deepEqual(
      classificationProfile('generic').levels.map((level) => level.id),
      ['PUBLIC', 'INTERNAL', 'CONFIDENTIAL', 'SECRET', 'TOP_SECRET'],
    );
  });

  test('malaysia is public < internal < restricted < confidential, and confidential must stay on sovereign infrastructure in Malaysia', () => {
    const scheme = classificationProfile('malaysia');
    assert.deepEqual(
      scheme.levels.map((level) => level.id),
      ['PUBLIC', 'INTERNAL', 'RESTRICTED', 'CONFIDENTIAL'],
    );
    assert.deepEqual(scheme.level('CONFIDENTIAL').residency, { tier: 'sovereign', jurisdiction: 'MY' });
    assert.equal(scheme.level('RESTRICTED').residency, null);
  });

  test('vietnam names its levels Mật < Tối mật < Tuyệt mật with English glosses', () => {
    const scheme = classificationProfile('vietnam');
    assert.deepEqual(
      scheme.levels.slice(1).map((level) => [level.names.vi, level.names.en]),
      [
        ['Mật', 'Confidential'],
        ['Tối mật', 'Secret'],
        ['Tuyệt mật', 'Top secret'],
      ],
    );
  });

  test('japan names its levels 取扱注意 < 秘 < 極秘', () => {
    const scheme = classificationProfile('japan');
    assert.deepEqual(
      scheme.levels.slice(1).map((level) => level.names.ja),
      ['取扱注意', '秘', '極秘'],
    );
  });

  test('a display name falls back to English, then to any name, then to the id', () => {
    const scheme = classificationProfile('vietnam');
    assert.equal(displayName(scheme.level('TOI_MAT'), 'vi'), 'Tối mật');
    assert.equal(displayName(scheme.level('TOI_MAT'), 'fr'), 'Secret');
    assert.equal(displayName({ id: 'X', names: { ja: '秘' } }, 'fr'), '秘');
    assert.equal(displayName({ id: 'X', names: {} }, 'fr'), 'X');
  });
});
