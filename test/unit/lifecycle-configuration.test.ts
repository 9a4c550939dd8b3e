import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { LifecycleConfiguration } from '../../src/domain/storage/lifecycle.ts';
import type { SovraError } from '../../src/platform/errors.ts';
import { parseLifecycleConfiguration } from '../../src/protocols/s3/handlers/lifecycle.ts';
import { parseXmlBody } from '../../src/protocols/s3/xml.ts';
import { loadServerConfig } from '../../src/platform/config.ts';

const parse = (rules: string): LifecycleConfiguration =>
  parseLifecycleConfiguration(
    parseXmlBody(
      `<?xml version="1.0" encoding="UTF-8"?>\n<LifecycleConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${rules}</LifecycleConfiguration>`,
      'LifecycleConfiguration',
    ),
  );

function failure(rules: string): string {
  try {
    parse(rules);
  } catch (error) {
    return (error as SovraError).code;
  }
  return 'accepted';
}

const rule = (body: string, id = 'r') => `<Rule><ID>${id}</ID><Status>Enabled</Status>${body}</Rule>`;
const expireDays = '<Expiration><Days>30</Days></Expiration>';

describe('PutBucketLifecycleConfiguration XML', () => {
  it('parses every filter form and action S3 defines', () => {
    const config = parse(
      `
      <Rule>
        <ID>everything</ID>
        <Filter>
          <And>
            <Prefix>logs/</Prefix>
            <Tag><Key>class</Key><Value>temp</Value></Tag>
            <Tag><Key>team</Key><Value>ops</Value></Tag>
            <ObjectSizeGreaterThan>1024</ObjectSizeGreaterThan>
            <ObjectSizeLessThan>1048576</ObjectSizeLessThan>
          </And>
        </Filter>
        <Status>Disabled</Status>
        <Transition><Days>30</Days><StorageClass>STANDARD_IA</StorageClass></Transition>
        <Transition><Days>90</Days><StorageClass>GLACIER</StorageClass></Transition>
        <Expiration><Days>365</Days></Expiration>
        <NoncurrentVersionTransition><NoncurrentDays>10</NoncurrentDays><StorageClass>GLACIER</StorageClass></NoncurrentVersionTransition>
        <NoncurrentVersionExpiration><NoncurrentDays>40</NoncurrentDays><NewerNoncurrentVersions>3</NewerNoncurrentVersions></NoncurrentVersionExpiration>
      </Rule>
      ${rule('<Filter><Tag><Key>k</Key><Value>v</Value></Tag></Filter><Expiration><Date>2031-01-01T00:00:00.000Z</Date></Expiration>', 'date')}
      ${rule('<Filter></Filter><Expiration><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration>', 'markers')}
      ${rule('<Filter><Prefix>up/</Prefix></Filter><AbortIncompleteMultipartUpload><DaysAfterInitiation>7</DaysAfterInitiation></AbortIncompleteMultipartUpload>', 'mpu')}
      ${rule('<Prefix>old-style/</Prefix>' + expireDays, 'legacy')}
      ${rule('<Filter><ObjectSizeGreaterThan>0</ObjectSizeGreaterThan></Filter>' + expireDays, 'big')}
      ${rule('<Filter><ObjectSizeLessThan>10</ObjectSizeLessThan></Filter>' + expireDays, 'small')}
    `,
    );
    const [everything, date, markers, mpu, legacy, big, small] = config.rules;
    assert.deepEqual(everything, {
      id: 'everything',
      status: 'Disabled',
      filter: {
        kind: 'and',
        prefix: 'logs/',
        tags: [
          { key: 'class', value: 'temp' },
          { key: 'team', value: 'ops' },
        ],
        objectSizeGreaterThan: 1024,
        objectSizeLessThan: 1048576,
      },
      expiration: { kind: 'days', days: 365 },
      noncurrentVersionExpiration: { noncurrentDays: 40, newerNoncurrentVersions: 3 },
      abortIncompleteMultipartUpload: null,
      transitions: [
        { when: { kind: 'days', days: 30 }, storageClass: 'STANDARD_IA' },
        { when: { kind: 'days', days: 90 }, storageClass: 'GLACIER' },
      ],
      noncurrentVersionTransitions: [
        { noncurrentDays: 10, newerNoncurrentVersions: null, storageClass: 'GLACIER' },
      ],
    });
    assert.deepEqual(date?.filter, { kind: 'tag', tag: { key: 'k', value: 'v' } });
    assert.deepEqual(date?.expiration, { kind: 'date', date: new Date('2031-01-01T00:00:00Z') });
    assert.deepEqual(markers?.filter, { kind: 'all' });
    assert.deepEqual(markers?.expiration, { kind: 'expiredObjectDeleteMarker', enabled: true });
    assert.deepEqual(mpu?.abortIncompleteMultipartUpload, { daysAfterInitiation: 7 });
    assert.deepEqual(legacy?.filter, { kind: 'rulePrefix', prefix: 'old-style/' });
    assert.deepEqual(big?.filter, { kind: 'objectSizeGreaterThan', bytes: 0 });
    assert.deepEqual(small?.filter, { kind: 'objectSizeLessThan', bytes: 10 });
  });

  it('a rule without an ID is given one', () => {
    const [only] = parse(`<Rule><Status>Enabled</Status><Filter/>${expireDays}</Rule>`).rules;
    assert.match(only?.id ?? '', /^[0-9a-f]{40}$/);
  });

  it('structural mistakes are MalformedXML', () => {
    const cases = {
      'no rules': '',
      'unknown status':
        '<Rule><ID>r</ID><Status>On</Status><Filter/><Expiration><Days>1</Days></Expiration></Rule>',
      'neither Filter nor Prefix': rule(expireDays),
      'both Filter and Prefix': rule(`<Prefix>a</Prefix><Filter/>${expireDays}`),
      'two filter predicates': rule(
        `<Filter><Prefix>a</Prefix><ObjectSizeLessThan>5</ObjectSizeLessThan></Filter>${expireDays}`,
      ),
      'two tags outside And': rule(
        `<Filter><Tag><Key>a</Key><Value>1</Value></Tag><Tag><Key>b</Key><Value>2</Value></Tag></Filter>${expireDays}`,
      ),
      'an empty And': rule(`<Filter><And></And></Filter>${expireDays}`),
      'Days and Date together': rule(
        '<Filter/><Expiration><Days>1</Days><Date>2030-01-01T00:00:00Z</Date></Expiration>',
      ),
      'ExpiredObjectDeleteMarker with Days': rule(
        '<Filter/><Expiration><Days>1</Days><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration>',
      ),
      'an empty Expiration': rule('<Filter/><Expiration></Expiration>'),
      'Days that is not a number': rule('<Filter/><Expiration><Days>soon</Days></Expiration>'),
      'a Date that is not a date': rule('<Filter/><Expiration><Date>tomorrow</Date></Expiration>'),
      'an unknown element': rule(`<Filter/>${expireDays}<Colour>blue</Colour>`),
      'an unknown storage class': rule(
        '<Filter/><Transition><Days>1</Days><StorageClass>TAPE</StorageClass></Transition>',
      ),
      'NoncurrentVersionExpiration without NoncurrentDays': rule(
        '<Filter/><NoncurrentVersionExpiration><NewerNoncurrentVersions>1</NewerNoncurrentVersions></NoncurrentVersionExpiration>',
      ),
      'a repeated Status': `<Rule><ID>r</ID><Status>Enabled</Status><Status>Enabled</Status><Filter/>${expireDays}</Rule>`,
      'more than 1,000 rules': Array.from({ length: 1001 }, (_, i) =>
        rule(`<Filter/>${expireDays}`, `r${i}`),
      ).join(''),
    };
    for (const [what, rules] of Object.entries(cases)) assert.equal(failure(rules), 'MalformedXML', what);
  });

  it('out-of-range values are InvalidArgument', () => {
    const cases = {
      'an ID over 255 characters': rule(`<Filter/>${expireDays}`, 'x'.repeat(256)),
      'Days of 0': rule('<Filter/><Expiration><Days>0</Days></Expiration>'),
      'negative Days': rule('<Filter/><Expiration><Days>-1</Days></Expiration>'),
      'a Date not at midnight UTC': rule(
        '<Filter/><Expiration><Date>2030-01-01T10:00:00Z</Date></Expiration>',
      ),
      'NoncurrentDays of 0': rule(
        '<Filter/><NoncurrentVersionExpiration><NoncurrentDays>0</NoncurrentDays></NoncurrentVersionExpiration>',
      ),
      'NewerNoncurrentVersions over 100': rule(
        '<Filter/><NoncurrentVersionExpiration><NoncurrentDays>1</NoncurrentDays><NewerNoncurrentVersions>101</NewerNoncurrentVersions></NoncurrentVersionExpiration>',
      ),
      'DaysAfterInitiation of 0': rule(
        '<Filter/><AbortIncompleteMultipartUpload><DaysAfterInitiation>0</DaysAfterInitiation></AbortIncompleteMultipartUpload>',
      ),
      'a size range that selects nothing': rule(
        `<Filter><And><ObjectSizeGreaterThan>10</ObjectSizeGreaterThan><ObjectSizeLessThan>10</ObjectSizeLessThan></And></Filter>${expireDays}`,
      ),
      'STANDARD_IA sooner than 30 days': rule(
        '<Filter/><Transition><Days>5</Days><StorageClass>STANDARD_IA</StorageClass></Transition>',
      ),
      'Expiration not after the Transition': rule(
        '<Filter/><Transition><Days>40</Days><StorageClass>GLACIER</StorageClass></Transition><Expiration><Days>40</Days></Expiration>',
      ),
    };
    for (const [what, rules] of Object.entries(cases)) assert.equal(failure(rules), 'InvalidArgument', what);
    assert.equal(
      failure(rule(`<Filter/>${expireDays}`, 'same') + rule(`<Filter/>${expireDays}`, 'same')),
      'InvalidArgument',
    );
  });

  it('combinations S3 refuses are InvalidRequest', () => {
    const abort =
      '<AbortIncompleteMultipartUpload><DaysAfterInitiation>1</DaysAfterInitiation></AbortIncompleteMultipartUpload>';
    const cases = {
      'a rule without any action': rule('<Filter/>'),
      'AbortIncompleteMultipartUpload with a tag filter': rule(
        `<Filter><Tag><Key>a</Key><Value>b</Value></Tag></Filter>${abort}`,
      ),
      'AbortIncompleteMultipartUpload with a size filter': rule(
        `<Filter><ObjectSizeLessThan>9</ObjectSizeLessThan></Filter>${abort}`,
      ),
      'ExpiredObjectDeleteMarker with a tag filter': rule(
        '<Filter><And><Prefix>a</Prefix><Tag><Key>a</Key><Value>b</Value></Tag></And></Filter><Expiration><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration>',
      ),
      'duplicate tag keys in And': rule(
        `<Filter><And><Tag><Key>a</Key><Value>1</Value></Tag><Tag><Key>a</Key><Value>2</Value></Tag></And></Filter>${expireDays}`,
      ),
      'Days and Date mixed across actions': rule(
        '<Filter/><Transition><Date>2030-01-01T00:00:00Z</Date><StorageClass>GLACIER</StorageClass></Transition><Expiration><Days>400</Days></Expiration>',
      ),
    };
    for (const [what, rules] of Object.entries(cases)) assert.equal(failure(rules), 'InvalidRequest', what);
  });

  it('a tag key over 128 characters is InvalidTag', () => {
    assert.equal(
      failure(rule(`<Filter><Tag><Key>${'k'.repeat(129)}</Key><Value>v</Value></Tag></Filter>${expireDays}`)),
      'InvalidTag',
    );
  });
});

describe('lifecycle server setting', () => {
  const load = (lifecycleIntervalMs?: string) =>
    loadServerConfig(lifecycleIntervalMs === undefined ? {} : { lifecycleIntervalMs }, {});

  it('passes run hourly by default; 0 turns the background passes off', () => {
    assert.equal(load().lifecycleIntervalMs, 3_600_000);
    assert.equal(load('0').lifecycleIntervalMs, 0);
    assert.equal(loadServerConfig({}, { SOVRA_LIFECYCLE_INTERVAL_MS: '60000' }).lifecycleIntervalMs, 60_000);
  });

  it('an interval under a second, over a day or not a whole number is InvalidConfig', () => {
    for (const bad of ['999', '86400001', '1.5', '-1', 'hourly']) {
      assert.throws(
        () => load(bad),
        (error: unknown) => (error as SovraError).code === 'InvalidConfig',
        bad,
      );
    }
  });
});
