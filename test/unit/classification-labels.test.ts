import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ClassificationError, type ClassificationErrorCode } from '../../src/domain/classification/errors.ts';
import {
  canRead,
  canWriteInto,
  dominates,
  effectiveObjectLabel,
  highestLabel,
  joinLabels,
  lowestLabel,
  sameLabel,
  securityLabel,
} from '../../src/domain/classification/label.ts';
import {
  CLASSIFICATION_HEADER,
  CLASSIFICATION_TAG_KEY,
  COMPARTMENTS_HEADER,
  COMPARTMENTS_TAG_KEY,
  displayLabel,
  labelTagsOfHeaders,
  objectLabelToStore,
  parseCompactLabel,
  parseLabelHeaders,
  renderCompactLabel,
  renderLabelHeaders,
  storedLabel,
  storedObjectLabel,
} from '../../src/domain/classification/label-wire.ts';
import { MAX_LABEL_TEXT_CHARS } from '../../src/domain/classification/limits.ts';
import { classificationProfile } from '../../src/domain/classification/profiles.ts';
import { ClassificationScheme } from '../../src/domain/classification/scheme.ts';

const generic = classificationProfile('generic');
const scheme = ClassificationScheme.fromDocument({
  ...generic.toDocument(),
  profile: 'generic-with-compartments',
  compartments: [
    { id: 'NUCLEAR', names: { en: 'Nuclear', vi: 'Hạt nhân' } },
    { id: 'CRYPTO', names: { en: 'Crypto', vi: 'Mật mã' } },
  ],
});

const label = (level: string, ...compartments: string[]) => securityLabel(scheme, level, compartments);

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

describe('dominance', () => {
  test('a higher level with the same compartments dominates', () => {
    assert.ok(dominates(label('SECRET', 'NUCLEAR'), label('CONFIDENTIAL', 'NUCLEAR')));
    assert.ok(!dominates(label('CONFIDENTIAL', 'NUCLEAR'), label('SECRET', 'NUCLEAR')));
  });

  test('a label dominates itself', () => {
    assert.ok(dominates(label('SECRET', 'CRYPTO'), label('SECRET', 'CRYPTO')));
    assert.ok(sameLabel(label('SECRET', 'CRYPTO', 'NUCLEAR'), label('SECRET', 'NUCLEAR', 'CRYPTO')));
  });

  test('a higher level without one of the compartments does not dominate', () => {
    assert.ok(!dominates(label('TOP_SECRET'), label('CONFIDENTIAL', 'NUCLEAR')));
    assert.ok(!dominates(label('TOP_SECRET', 'CRYPTO'), label('PUBLIC', 'NUCLEAR')));
  });

  test('more compartments at the same level dominate fewer', () => {
    assert.ok(dominates(label('SECRET', 'CRYPTO', 'NUCLEAR'), label('SECRET', 'NUCLEAR')));
    assert.ok(!dominates(label('SECRET', 'NUCLEAR'), label('SECRET', 'CRYPTO', 'NUCLEAR')));
  });

  test('the lowest label is dominated by every label', () => {
    for (const level of scheme.levels) assert.ok(dominates(label(level.id), lowestLabel(scheme)));
  });

  test('labels keep their compartments sorted and without duplicates', () => {
    assert.deepEqual(label('SECRET', 'NUCLEAR', 'CRYPTO', 'NUCLEAR').compartments, ['CRYPTO', 'NUCLEAR']);
  });

  test('a label naming an unknown level or compartment is refused', () => {
    failsWith('UnknownLevel', () => label('ULTRA'));
    failsWith('UnknownCompartment', () => label('SECRET', 'SIGINT'));
  });
});

describe('no read up, no write down', () => {
  test('a SECRET clearance reads CONFIDENTIAL data (no read up allows reading down)', () => {
    assert.ok(canRead(label('SECRET'), label('CONFIDENTIAL')));
  });

  test('a CONFIDENTIAL clearance cannot read SECRET data (no read up)', () => {
    assert.ok(!canRead(label('CONFIDENTIAL'), label('SECRET')));
  });

  test('a TOP_SECRET clearance without the NUCLEAR compartment cannot read NUCLEAR data (need to know)', () => {
    assert.ok(!canRead(label('TOP_SECRET'), label('CONFIDENTIAL', 'NUCLEAR')));
    assert.ok(canRead(label('TOP_SECRET', 'NUCLEAR'), label('CONFIDENTIAL', 'NUCLEAR')));
  });

  test('SECRET data cannot be written into a CONFIDENTIAL bucket (no write down)', () => {
    assert.ok(!canWriteInto(label('SECRET'), label('CONFIDENTIAL')));
  });

  test('CONFIDENTIAL data may be written into a SECRET bucket (writing up is allowed)', () => {
    assert.ok(canWriteInto(label('CONFIDENTIAL'), label('SECRET')));
  });

  test('NUCLEAR data cannot be written into a container without the NUCLEAR compartment', () => {
    assert.ok(!canWriteInto(label('SECRET', 'NUCLEAR'), label('TOP_SECRET')));
    assert.ok(canWriteInto(label('SECRET', 'NUCLEAR'), label('TOP_SECRET', 'NUCLEAR', 'CRYPTO')));
  });
});

describe('object labels', () => {
  const bucket = label('CONFIDENTIAL', 'NUCLEAR');

  test('an object without a requested label inherits the bucket label', () => {
    assert.equal(effectiveObjectLabel(bucket), bucket);
    assert.equal(effectiveObjectLabel(bucket, null), bucket);
  });

  test('an object may be labelled higher than its bucket', () => {
    const object = effectiveObjectLabel(bucket, label('SECRET', 'NUCLEAR', 'CRYPTO'));
    assert.equal(object.level.id, 'SECRET');
    assert.deepEqual(object.compartments, ['CRYPTO', 'NUCLEAR']);
  });

  test('an object labelled below its bucket level is refused with LabelBelowBucket', () => {
    failsWith('LabelBelowBucket', () => effectiveObjectLabel(bucket, label('INTERNAL', 'NUCLEAR')));
  });

  test('an object that drops a bucket compartment is refused with LabelBelowBucket', () => {
    failsWith('LabelBelowBucket', () => effectiveObjectLabel(bucket, label('SECRET', 'CRYPTO')));
  });

  test('a requested level alone keeps the bucket compartments', () => {
    const requested = parseLabelHeaders(scheme, 'secret', undefined);
    assert.deepEqual(effectiveObjectLabel(bucket, requested), label('SECRET', 'NUCLEAR'));
  });

  test('requested compartments alone keep the bucket level', () => {
    const requested = parseLabelHeaders(scheme, undefined, 'NUCLEAR, CRYPTO');
    assert.deepEqual(effectiveObjectLabel(bucket, requested), label('CONFIDENTIAL', 'CRYPTO', 'NUCLEAR'));
  });

  test('the join of two labels is the higher level with the compartments of both, and dominates both', () => {
    const joined = joinLabels(label('SECRET', 'CRYPTO'), label('CONFIDENTIAL', 'NUCLEAR'));
    assert.deepEqual(joined, label('SECRET', 'CRYPTO', 'NUCLEAR'));
    assert.ok(
      dominates(joined, label('SECRET', 'CRYPTO')) && dominates(joined, label('CONFIDENTIAL', 'NUCLEAR')),
    );
    const higher = label('TOP_SECRET', 'NUCLEAR');
    assert.equal(joinLabels(higher, bucket), higher, 'a label that dominates the other is the join');
  });

  test('the highest label is the top level with every compartment and dominates every label', () => {
    assert.deepEqual(highestLabel(scheme), label('TOP_SECRET', 'CRYPTO', 'NUCLEAR'));
    assert.ok(dominates(highestLabel(scheme), label('TOP_SECRET', 'NUCLEAR', 'CRYPTO')));
  });

  test('a stored label: none is the lowest, one the scheme cannot read is the highest (fail closed)', () => {
    assert.deepEqual(storedLabel(scheme, null), lowestLabel(scheme));
    assert.deepEqual(storedLabel(scheme, 'SECRET//NUCLEAR'), label('SECRET', 'NUCLEAR'));
    assert.deepEqual(storedLabel(scheme, 'COSMIC'), highestLabel(scheme));
    assert.deepEqual(storedLabel(scheme, 'SECRET//ATOMAL'), highestLabel(scheme));
  });

  test("an object's data label is its bucket's joined with its own; none is its bucket's", () => {
    assert.deepEqual(storedObjectLabel(scheme, 'CONFIDENTIAL//NUCLEAR', null), bucket);
    assert.deepEqual(
      storedObjectLabel(scheme, 'CONFIDENTIAL//NUCLEAR', 'SECRET//CRYPTO'),
      label('SECRET', 'CRYPTO', 'NUCLEAR'),
    );
    assert.deepEqual(storedObjectLabel(scheme, null, 'INTERNAL'), label('INTERNAL'));
  });

  test("a version records no label when it has its bucket's, and the compact form otherwise", () => {
    assert.equal(objectLabelToStore(bucket, label('CONFIDENTIAL', 'NUCLEAR')), null);
    assert.equal(objectLabelToStore(bucket, label('SECRET', 'NUCLEAR')), 'SECRET//NUCLEAR');
  });
});

describe('label wire forms', () => {
  test('the headers x-sovra-classification and x-sovra-compartments parse into a requested label', () => {
    const requested = parseLabelHeaders(scheme, 'SECRET', 'NUCLEAR,CRYPTO');
    assert.equal(requested?.level?.id, 'SECRET');
    assert.deepEqual(requested?.compartments, ['CRYPTO', 'NUCLEAR']);
  });

  test('no label headers means no requested label', () => {
    assert.equal(parseLabelHeaders(scheme, undefined, undefined), null);
  });

  test('header ids are case-insensitive and list elements may have spaces and empty elements (RFC 9110 §5.6.1)', () => {
    const requested = parseLabelHeaders(scheme, '  top_secret ', ' nuclear ,, Crypto,');
    assert.equal(requested?.level?.id, 'TOP_SECRET');
    assert.deepEqual(requested?.compartments, ['CRYPTO', 'NUCLEAR']);
  });

  test('an empty compartments header asks for no compartments', () => {
    assert.deepEqual(parseLabelHeaders(scheme, undefined, '')?.compartments, []);
  });

  test('an unknown level in the header is UnknownLevel, an unknown compartment UnknownCompartment', () => {
    failsWith('UnknownLevel', () => parseLabelHeaders(scheme, 'ULTRA', undefined));
    failsWith('UnknownCompartment', () => parseLabelHeaders(scheme, 'SECRET', 'NUCLEAR,SIGINT'));
  });

  test('malformed header values are MalformedLabel', () => {
    for (const [classification, compartments] of [
      ['', undefined],
      ['SECRET//NUCLEAR', undefined],
      ['SECRET', 'NUC LEAR'],
      ['ſecret', undefined],
      ['SECRET', 'x'.repeat(MAX_LABEL_TEXT_CHARS + 1)],
    ] as const) {
      failsWith('MalformedLabel', () => parseLabelHeaders(scheme, classification, compartments));
    }
  });

  test('response headers carry the level and, when there are any, the compartments', () => {
    assert.deepEqual(renderLabelHeaders(label('SECRET')), { [CLASSIFICATION_HEADER]: 'SECRET' });
    assert.deepEqual(renderLabelHeaders(label('SECRET', 'NUCLEAR', 'CRYPTO')), {
      [CLASSIFICATION_HEADER]: 'SECRET',
      [COMPARTMENTS_HEADER]: 'CRYPTO,NUCLEAR',
    });
  });

  test('the compact form is LEVEL or LEVEL//C1/C2 and round-trips', () => {
    assert.equal(renderCompactLabel(label('SECRET')), 'SECRET');
    assert.equal(renderCompactLabel(label('SECRET', 'NUCLEAR', 'CRYPTO')), 'SECRET//CRYPTO/NUCLEAR');
    for (const original of [
      label('PUBLIC'),
      label('TOP_SECRET', 'CRYPTO'),
      label('SECRET', 'CRYPTO', 'NUCLEAR'),
    ]) {
      assert.deepEqual(parseCompactLabel(scheme, renderCompactLabel(original)), original);
    }
  });

  test('the compact form uses only characters S3 allows in tag values', () => {
    assert.match(
      renderCompactLabel(label('TOP_SECRET', 'NUCLEAR', 'CRYPTO')),
      /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u,
    );
  });

  test('malformed compact labels are MalformedLabel', () => {
    for (const text of ['', 'SECRET//', 'SECRET//NUCLEAR//CRYPTO', '//NUCLEAR', 'SECRET/NUCLEAR']) {
      failsWith('MalformedLabel', () => parseCompactLabel(scheme, text));
    }
  });

  test("the reserved tags carry the label headers' texts, sovra:compartments only with compartments", () => {
    assert.deepEqual(labelTagsOfHeaders(renderLabelHeaders(label('SECRET', 'NUCLEAR', 'CRYPTO'))), [
      { key: CLASSIFICATION_TAG_KEY, value: 'SECRET' },
      { key: COMPARTMENTS_TAG_KEY, value: 'CRYPTO,NUCLEAR' },
    ]);
    assert.deepEqual(labelTagsOfHeaders(renderLabelHeaders(label('SECRET'))), [
      { key: CLASSIFICATION_TAG_KEY, value: 'SECRET' },
    ]);
  });

  test('a label displays in the language of the scheme names', () => {
    const vietnam = ClassificationScheme.fromDocument({
      ...classificationProfile('vietnam').toDocument(),
      compartments: [{ id: 'NUCLEAR', names: { en: 'Nuclear', vi: 'Hạt nhân' } }],
    });
    const secret = securityLabel(vietnam, 'TOI_MAT', ['NUCLEAR']);
    assert.equal(displayLabel(vietnam, secret, 'vi'), 'Tối mật // Hạt nhân');
    assert.equal(displayLabel(vietnam, secret, 'en'), 'Secret // Nuclear');
    assert.equal(
      displayLabel(classificationProfile('japan'), lowestLabel(classificationProfile('japan')), 'ja'),
      '公開',
    );
  });
});
