import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  abortingRule,
  decodeLifecycleDocument,
  dueAfterDays,
  encodeLifecycleDocument,
  filterSelects,
  uploadScanPrefixes,
  VersionPlanner,
  versionScanPrefixes,
  type LifecycleConfiguration,
  type LifecycleFilter,
  type LifecycleRule,
  type VersionDecisions,
} from '../../src/domain/storage/lifecycle.ts';
import {
  OBJECT_RECORD_FORMAT,
  type ObjectVersion,
  type VersioningState,
} from '../../src/domain/storage/types.ts';

const at = (iso: string) => Date.parse(iso);

function rule(fields: Partial<LifecycleRule> & { id: string }): LifecycleRule {
  return {
    status: 'Enabled',
    filter: { kind: 'all' },
    expiration: null,
    noncurrentVersionExpiration: null,
    abortIncompleteMultipartUpload: null,
    transitions: [],
    noncurrentVersionTransitions: [],
    ...fields,
  };
}

let seq = 1_000_000;
function version(key: string, lastModified: string, fields: Partial<ObjectVersion> = {}): ObjectVersion {
  seq -= 1;
  const uid = `${String(seq).padStart(32, '0')}`;
  return {
    format: OBJECT_RECORD_FORMAT,
    bucket: 'b',
    key,
    versionUid: uid,
    versionId: uid,
    isLatest: false,
    isDeleteMarker: false,
    sizeBytes: 100,
    etag: 'e',
    lastModified: new Date(lastModified),
    system: {},
    userMetadata: {},
    checksum: null,
    layout: { kind: 'inline', frameSizeLog2: 18 },
    inlineData: null,
    encryption: null,
    tags: {},
    retention: null,
    legalHold: false,
    classification: null,
    ownerTenantId: 't',
    seq,
    ...fields,
  };
}

const marker = (key: string, lastModified: string, fields: Partial<ObjectVersion> = {}) =>
  version(key, lastModified, { isDeleteMarker: true, sizeBytes: 0, ...fields });

/** Feeds one key's (or several keys') versions, newest first, and gathers every decision. */
function plan(
  rules: LifecycleRule[],
  versioning: VersioningState,
  now: string,
  versions: ObjectVersion[],
  kept: (v: ObjectVersion) => boolean = () => false,
): VersionDecisions {
  const planner = new VersionPlanner({ rules }, versioning, at(now));
  const all: VersionDecisions = { actions: [], locked: [] };
  const collect = (d: VersionDecisions) => {
    for (const action of d.actions) {
      all.actions.push(action);
      if (kept(action.version)) planner.kept(action.version);
    }
    all.locked.push(...d.locked);
  };
  for (const v of versions) collect(planner.add(v));
  collect(planner.finish());
  return all;
}

const summary = (d: VersionDecisions) =>
  d.actions.map((a) => `${a.action}:${a.version.key}@${a.version.versionId}`);

describe('lifecycle timing', () => {
  it('Days count from creation and round up to the next midnight UTC (S3: created 1/15 10:30 + 3 days is 1/19 00:00)', () => {
    assert.equal(dueAfterDays(at('2014-01-15T10:30:00Z'), 3), at('2014-01-19T00:00:00Z'));
  });

  it('a sum that is already midnight UTC is not pushed a further day', () => {
    assert.equal(dueAfterDays(at('2014-01-15T00:00:00Z'), 1), at('2014-01-16T00:00:00Z'));
  });

  it('an unversioned object expires at the rounded midnight, not a moment before', () => {
    const rules = [rule({ id: 'r', expiration: { kind: 'days', days: 3 } })];
    const object = () => [version('k', '2014-01-15T10:30:00Z', { isLatest: true, versionId: 'null' })];
    assert.deepEqual(summary(plan(rules, 'Unversioned', '2014-01-18T23:59:59.999Z', object())), []);
    assert.deepEqual(
      summary(plan(rules, 'Unversioned', '2014-01-19T00:00:00Z', object())).map((s) => s.split(':')[0]),
      ['DeleteCurrentVersion'],
    );
  });

  it('an Expiration Date applies from that midnight to every matching object, whatever its age', () => {
    const rules = [rule({ id: 'r', expiration: { kind: 'date', date: new Date('2030-01-01T00:00:00Z') } })];
    const fresh = () => [version('k', '2029-12-31T23:00:00Z', { isLatest: true })];
    assert.equal(plan(rules, 'Unversioned', '2029-12-31T23:59:59Z', fresh()).actions.length, 0);
    assert.equal(plan(rules, 'Unversioned', '2030-01-01T00:00:00Z', fresh()).actions.length, 1);
  });

  it('NoncurrentDays count from when the successor was created, rounded to the next midnight UTC', () => {
    const rules = [
      rule({ id: 'r', noncurrentVersionExpiration: { noncurrentDays: 1, newerNoncurrentVersions: null } }),
    ];
    // Replaced on 2 Jan 11:30: noncurrent for one day on 3 Jan 11:30, due at 4 Jan 00:00.
    const stack = () => [
      version('k', '2020-01-02T11:30:00Z', { isLatest: true }),
      version('k', '2020-01-01T10:30:00Z'),
    ];
    assert.equal(plan(rules, 'Enabled', '2020-01-03T23:59:59Z', stack()).actions.length, 0);
    assert.deepEqual(
      plan(rules, 'Enabled', '2020-01-04T00:00:00Z', stack()).actions.map((a) => a.action),
      ['DeleteNoncurrentVersion'],
    );
  });
});

describe('lifecycle filters', () => {
  const object = (key: string, fields: Partial<ObjectVersion> = {}) =>
    version(key, '2020-01-01T00:00:00Z', fields);
  const selects = (filter: LifecycleFilter, v: ObjectVersion) => filterSelects(filter, v);

  it('a prefix selects keys that start with it, byte for byte', () => {
    assert.ok(selects({ kind: 'prefix', prefix: 'logs/' }, object('logs/a')));
    assert.ok(!selects({ kind: 'prefix', prefix: 'logs/' }, object('Logs/a')));
    assert.ok(selects({ kind: 'rulePrefix', prefix: '' }, object('anything')));
    assert.ok(selects({ kind: 'all' }, object('anything')));
  });

  it('a tag selects objects with that key and exactly that value; an empty value only matches an empty value', () => {
    const filter: LifecycleFilter = { kind: 'tag', tag: { key: 'class', value: 'temp' } };
    assert.ok(selects(filter, object('k', { tags: { class: 'temp', other: 'x' } })));
    assert.ok(!selects(filter, object('k', { tags: { class: 'Temp' } })));
    assert.ok(!selects(filter, object('k', { tags: {} })));
    const keyOnly: LifecycleFilter = { kind: 'tag', tag: { key: 'class', value: '' } };
    assert.ok(selects(keyOnly, object('k', { tags: { class: '' } })));
    assert.ok(!selects(keyOnly, object('k', { tags: { class: 'temp' } })));
  });

  it('size bounds are strict: greater than and less than', () => {
    assert.ok(!selects({ kind: 'objectSizeGreaterThan', bytes: 100 }, object('k', { sizeBytes: 100 })));
    assert.ok(selects({ kind: 'objectSizeGreaterThan', bytes: 100 }, object('k', { sizeBytes: 101 })));
    assert.ok(!selects({ kind: 'objectSizeLessThan', bytes: 100 }, object('k', { sizeBytes: 100 })));
    assert.ok(selects({ kind: 'objectSizeLessThan', bytes: 100 }, object('k', { sizeBytes: 99 })));
  });

  it('And requires every predicate: prefix, all tags and the size range', () => {
    const filter: LifecycleFilter = {
      kind: 'and',
      prefix: 'tmp/',
      tags: [
        { key: 'a', value: '1' },
        { key: 'b', value: '2' },
      ],
      objectSizeGreaterThan: 10,
      objectSizeLessThan: 1000,
    };
    const tags = { a: '1', b: '2' };
    assert.ok(selects(filter, object('tmp/x', { tags, sizeBytes: 500 })));
    assert.ok(!selects(filter, object('tmp/x', { tags: { a: '1' }, sizeBytes: 500 })));
    assert.ok(!selects(filter, object('var/x', { tags, sizeBytes: 500 })));
    assert.ok(!selects(filter, object('tmp/x', { tags, sizeBytes: 5000 })));
  });

  it('delete markers are selected by key alone: filters naming tags or sizes never select them', () => {
    const m = marker('tmp/x', '2020-01-01T00:00:00Z');
    assert.ok(selects({ kind: 'prefix', prefix: 'tmp/' }, m));
    assert.ok(!selects({ kind: 'tag', tag: { key: 'a', value: '' } }, m));
    assert.ok(!selects({ kind: 'objectSizeLessThan', bytes: 10 }, m));
  });

  it('listings cover only the rules’ prefixes, without one another already covers', () => {
    const config = (filters: LifecycleFilter[]): LifecycleConfiguration => ({
      rules: filters.map((filter, i) => rule({ id: `r${i}`, filter, expiration: { kind: 'days', days: 1 } })),
    });
    assert.deepEqual(
      versionScanPrefixes(
        config([
          { kind: 'prefix', prefix: 'logs/app/' },
          { kind: 'prefix', prefix: 'logs/' },
          { kind: 'tag', tag: { key: 'a', value: 'b' } },
        ]),
      ),
      [''],
    );
    assert.deepEqual(
      versionScanPrefixes(
        config([
          { kind: 'prefix', prefix: 'logs/app/' },
          { kind: 'prefix', prefix: 'logs/' },
          { kind: 'and', prefix: 'tmp/', tags: [], objectSizeGreaterThan: 1, objectSizeLessThan: null },
        ]),
      ),
      ['logs/', 'tmp/'],
    );
    assert.deepEqual(uploadScanPrefixes(config([{ kind: 'prefix', prefix: 'x/' }])), []);
  });
});

describe('lifecycle decisions on versions', () => {
  it('Expiration in a versioning-enabled bucket adds a delete marker and removes nothing', () => {
    const rules = [rule({ id: 'expire', expiration: { kind: 'days', days: 1 } })];
    const stack = [
      version('k', '2020-01-01T00:00:00Z', { isLatest: true }),
      version('k', '2019-01-01T00:00:00Z'),
    ];
    const decided = plan(rules, 'Enabled', '2020-06-01T00:00:00Z', stack);
    assert.deepEqual(
      decided.actions.map((a) => [a.action, a.ruleId, a.version.versionId]),
      [['AddDeleteMarker', 'expire', stack[0]!.versionId]],
    );
  });

  it('Expiration does nothing when the current version is already a delete marker with versions behind it', () => {
    const rules = [rule({ id: 'expire', expiration: { kind: 'days', days: 1 } })];
    const stack = [
      marker('k', '2020-01-01T00:00:00Z', { isLatest: true }),
      version('k', '2019-01-01T00:00:00Z'),
    ];
    assert.deepEqual(plan(rules, 'Enabled', '2021-01-01T00:00:00Z', stack).actions, []);
  });

  it('ExpiredObjectDeleteMarker removes a delete marker that is the only version left, and only that', () => {
    const rules = [rule({ id: 'eodm', expiration: { kind: 'expiredObjectDeleteMarker', enabled: true } })];
    const alone = marker('alone', '2020-01-01T00:00:00Z', { isLatest: true });
    const backed = marker('backed', '2020-01-01T00:00:00Z', { isLatest: true });
    const decided = plan(rules, 'Enabled', '2020-01-01T00:00:01Z', [
      alone,
      backed,
      version('backed', '2019-01-01T00:00:00Z'),
    ]);
    assert.deepEqual(summary(decided), [`DeleteExpiredDeleteMarker:alone@${alone.versionId}`]);
  });

  it('ExpiredObjectDeleteMarker false takes no action', () => {
    const rules = [rule({ id: 'off', expiration: { kind: 'expiredObjectDeleteMarker', enabled: false } })];
    assert.deepEqual(
      plan(rules, 'Enabled', '2030-01-01T00:00:00Z', [
        marker('k', '2020-01-01T00:00:00Z', { isLatest: true }),
      ]).actions,
      [],
    );
  });

  it('a marker whose noncurrent versions this pass removes is itself removed at the end of its key', () => {
    const rules = [
      rule({
        id: 'both',
        filter: { kind: 'prefix', prefix: '' },
        noncurrentVersionExpiration: { noncurrentDays: 1, newerNoncurrentVersions: null },
      }),
      rule({ id: 'eodm', expiration: { kind: 'expiredObjectDeleteMarker', enabled: true } }),
    ];
    const stack = [
      marker('k', '2020-01-02T00:00:00Z', { isLatest: true }),
      version('k', '2020-01-01T00:00:00Z'),
    ];
    const decided = plan(rules, 'Enabled', '2020-02-01T00:00:00Z', stack);
    assert.deepEqual(
      decided.actions.map((a) => [a.action, a.ruleId]),
      [
        ['DeleteNoncurrentVersion', 'both'],
        ['DeleteExpiredDeleteMarker', 'eodm'],
      ],
    );
  });

  it('a marker stays when a planned removal of a version behind it did not happen', () => {
    const rules = [
      rule({ id: 'nc', noncurrentVersionExpiration: { noncurrentDays: 1, newerNoncurrentVersions: null } }),
      rule({ id: 'eodm', expiration: { kind: 'expiredObjectDeleteMarker', enabled: true } }),
    ];
    const stack = [
      marker('k', '2020-01-02T00:00:00Z', { isLatest: true }),
      version('k', '2020-01-01T00:00:00Z'),
    ];
    const decided = plan(rules, 'Enabled', '2020-02-01T00:00:00Z', stack, (v) => !v.isDeleteMarker);
    assert.deepEqual(
      decided.actions.map((a) => a.action),
      ['DeleteNoncurrentVersion'],
    );
  });

  it('Expiration Days removes an expired object delete marker once the marker is old enough', () => {
    const rules = [rule({ id: 'days', expiration: { kind: 'days', days: 10 } })];
    const m = () => [marker('k', '2020-01-01T12:00:00Z', { isLatest: true })];
    assert.deepEqual(plan(rules, 'Enabled', '2020-01-11T23:00:00Z', m()).actions, []);
    assert.deepEqual(
      plan(rules, 'Enabled', '2020-01-12T00:00:00Z', m()).actions.map((a) => a.action),
      ['DeleteExpiredDeleteMarker'],
    );
  });

  it('NewerNoncurrentVersions keeps that many newest noncurrent versions and removes older ones that are due', () => {
    const rules = [
      rule({ id: 'keep2', noncurrentVersionExpiration: { noncurrentDays: 5, newerNoncurrentVersions: 2 } }),
    ];
    const stack = [
      version('k', '2020-03-01T00:00:00Z', { isLatest: true }),
      version('k', '2020-02-01T00:00:00Z', { versionId: 'n1' }),
      version('k', '2020-01-03T00:00:00Z', { versionId: 'n2' }),
      version('k', '2020-01-02T00:00:00Z', { versionId: 'n3' }),
      version('k', '2020-01-01T00:00:00Z', { versionId: 'n4' }),
    ];
    const decided = plan(rules, 'Enabled', '2020-06-01T00:00:00Z', stack);
    assert.deepEqual(
      decided.actions.map((a) => a.version.versionId),
      ['n3', 'n4'],
    );
  });

  it('NewerNoncurrentVersions removes nothing that has not been noncurrent for NoncurrentDays', () => {
    const rules = [
      rule({ id: 'keep1', noncurrentVersionExpiration: { noncurrentDays: 30, newerNoncurrentVersions: 1 } }),
    ];
    const stack = [
      version('k', '2020-03-01T00:00:00Z', { isLatest: true }),
      version('k', '2020-02-28T00:00:00Z', { versionId: 'n1' }),
      version('k', '2020-02-27T00:00:00Z', { versionId: 'n2' }), // noncurrent since 28 Feb: not yet 30 days
      version('k', '2020-01-01T00:00:00Z', { versionId: 'n3' }), // noncurrent since 27 Feb: not yet 30 days
    ];
    assert.deepEqual(plan(rules, 'Enabled', '2020-03-20T00:00:00Z', stack).actions, []);
    assert.deepEqual(
      plan(rules, 'Enabled', '2020-03-30T00:00:00Z', stack).actions.map((a) => a.version.versionId),
      ['n2', 'n3'],
    );
  });

  it('noncurrent delete markers are noncurrent versions: they expire and count toward NewerNoncurrentVersions', () => {
    const rules = [
      rule({ id: 'nc', noncurrentVersionExpiration: { noncurrentDays: 1, newerNoncurrentVersions: 1 } }),
    ];
    const stack = [
      version('k', '2020-03-01T00:00:00Z', { isLatest: true }),
      marker('k', '2020-02-01T00:00:00Z', { versionId: 'dm' }),
      version('k', '2020-01-01T00:00:00Z', { versionId: 'old' }),
    ];
    assert.deepEqual(
      plan(rules, 'Enabled', '2020-06-01T00:00:00Z', stack).actions.map((a) => a.version.versionId),
      ['old'],
    );
  });

  it('a disabled rule does nothing', () => {
    const rules = [
      rule({
        id: 'off',
        status: 'Disabled',
        expiration: { kind: 'days', days: 1 },
        noncurrentVersionExpiration: { noncurrentDays: 1, newerNoncurrentVersions: null },
      }),
    ];
    const stack = [
      version('k', '2020-01-02T00:00:00Z', { isLatest: true }),
      version('k', '2020-01-01T00:00:00Z'),
    ];
    assert.deepEqual(plan(rules, 'Enabled', '2030-01-01T00:00:00Z', stack), { actions: [], locked: [] });
  });

  it('a locked noncurrent version is reported, never planned for removal, and keeps its delete marker', () => {
    const rules = [
      rule({ id: 'nc', noncurrentVersionExpiration: { noncurrentDays: 1, newerNoncurrentVersions: null } }),
      rule({ id: 'eodm', expiration: { kind: 'expiredObjectDeleteMarker', enabled: true } }),
    ];
    const held = version('k', '2020-01-01T00:00:00Z', { legalHold: true });
    const retained = version('k', '2019-12-01T00:00:00Z', {
      retention: { mode: 'GOVERNANCE', retainUntil: new Date('2031-01-01T00:00:00Z') },
    });
    const stack = [marker('k', '2020-01-02T00:00:00Z', { isLatest: true }), held, retained];
    const decided = plan(rules, 'Enabled', '2030-01-01T00:00:00Z', stack);
    assert.deepEqual(decided.actions, []);
    assert.deepEqual(
      decided.locked.map((l) => l.version),
      [held, retained],
    );
  });

  it('a rule that filters on tags applies to the version’s own tags', () => {
    const rules = [
      rule({
        id: 'temp',
        filter: { kind: 'tag', tag: { key: 'class', value: 'temp' } },
        expiration: { kind: 'days', days: 1 },
      }),
    ];
    const decided = plan(rules, 'Unversioned', '2030-01-01T00:00:00Z', [
      version('a', '2020-01-01T00:00:00Z', { isLatest: true, tags: { class: 'temp' } }),
      version('b', '2020-01-01T00:00:00Z', { isLatest: true, tags: { class: 'keep' } }),
    ]);
    assert.deepEqual(
      decided.actions.map((a) => a.version.key),
      ['a'],
    );
  });
});

describe('lifecycle decisions on multipart uploads', () => {
  const config: LifecycleConfiguration = {
    rules: [
      rule({
        id: 'abort',
        filter: { kind: 'prefix', prefix: 'up/' },
        abortIncompleteMultipartUpload: { daysAfterInitiation: 7 },
      }),
    ],
  };

  it('an upload is aborted DaysAfterInitiation after it began, rounded to the next midnight UTC', () => {
    const upload = { key: 'up/file', initiatedAt: new Date('2020-01-01T08:00:00Z') };
    assert.equal(abortingRule(config, upload, at('2020-01-08T23:59:59Z')), null);
    assert.equal(abortingRule(config, upload, at('2020-01-09T00:00:00Z'))?.id, 'abort');
  });

  it('an upload outside the rule’s prefix is never aborted', () => {
    assert.equal(
      abortingRule(config, { key: 'other/file', initiatedAt: new Date(0) }, at('2030-01-01T00:00:00Z')),
      null,
    );
  });

  it('a disabled abort rule aborts nothing', () => {
    const disabled: LifecycleConfiguration = {
      rules: config.rules.map((r) => ({ ...r, status: 'Disabled' as const })),
    };
    assert.equal(
      abortingRule(disabled, { key: 'up/x', initiatedAt: new Date(0) }, at('2030-01-01T00:00:00Z')),
      null,
    );
  });
});

describe('lifecycle document', () => {
  it('a stored configuration reads back equal, dates included', () => {
    const config: LifecycleConfiguration = {
      rules: [
        rule({
          id: 'all',
          filter: {
            kind: 'and',
            prefix: 'p/',
            tags: [{ key: 'a', value: 'b' }],
            objectSizeGreaterThan: 1,
            objectSizeLessThan: 9,
          },
          expiration: { kind: 'date', date: new Date('2031-01-01T00:00:00Z') },
          transitions: [
            { when: { kind: 'date', date: new Date('2030-01-01T00:00:00Z') }, storageClass: 'GLACIER' },
          ],
          noncurrentVersionTransitions: [
            { noncurrentDays: 3, newerNoncurrentVersions: null, storageClass: 'GLACIER' },
          ],
          noncurrentVersionExpiration: { noncurrentDays: 4, newerNoncurrentVersions: 2 },
        }),
      ],
    };
    assert.deepEqual(decodeLifecycleDocument(encodeLifecycleDocument(config)), config);
  });

  it('a document of an unknown format is refused', () => {
    assert.throws(() => decodeLifecycleDocument('{"format":99,"rules":[]}'), /unknown format/);
  });
});
