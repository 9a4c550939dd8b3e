import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { KmsError } from '../../src/domain/kms/errors.ts';
import {
  customerInitiated,
  parseJustification,
  type KeyUseJustification,
  type RequesterContext,
} from '../../src/domain/kms/justification.ts';
import { checkKeyPolicy, defaultKeyPolicy, evaluateKeyUse } from '../../src/domain/kms/key-policy.ts';
import { JurisdictionError, JurisdictionMap } from '../../src/domain/residency/jurisdiction.ts';

const REQUESTER: RequesterContext = {
  principalId: 'alice',
  tenantId: 'acme',
  service: 'kms',
  sourceIp: '203.0.113.7',
  jurisdiction: 'DE',
  requestId: 'req-1',
};

function use(overrides: Partial<KeyUseJustification> = {}): KeyUseJustification {
  return { ...customerInitiated(REQUESTER, 'Decrypt'), ...overrides };
}

function policy(...statements: Record<string, unknown>[]): string {
  return JSON.stringify({ Version: '2012-10-17', Statement: statements });
}

const ALLOW_ALL = {
  Effect: 'Allow',
  Principal: { AWS: 'arn:aws:iam::acme:root' },
  Action: 'kms:*',
  Resource: '*',
};

function validationError(fn: () => unknown): KmsError {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof KmsError);
    return error;
  }
  assert.fail('expected a KmsError');
}

describe('key use justifications', () => {
  test('a request without a justification header is CUSTOMER_INITIATED_ACCESS', () => {
    const justification = parseJustification(REQUESTER, undefined, undefined, 'Encrypt');
    assert.equal(justification.reason, 'CUSTOMER_INITIATED_ACCESS');
    assert.equal(justification.approvalReference, null);
    assert.equal(justification.operation, 'Encrypt');
    assert.equal(justification.jurisdiction, 'DE');
  });

  test('a known reason and an approval reference are carried', () => {
    const justification = parseJustification(REQUESTER, 'OPERATOR_SUPPORT', 'CHG-1234', 'Decrypt');
    assert.equal(justification.reason, 'OPERATOR_SUPPORT');
    assert.equal(justification.approvalReference, 'CHG-1234');
  });

  test('OPERATOR_SUPPORT without an approval reference fails with Validation', () => {
    const error = validationError(() =>
      parseJustification(REQUESTER, 'OPERATOR_SUPPORT', undefined, 'Decrypt'),
    );
    assert.equal(error.code, 'Validation');
    assert.match(error.message, /approval reference/);
  });

  test('an unknown reason or a malformed approval reference fails with Validation', () => {
    assert.equal(
      validationError(() => parseJustification(REQUESTER, 'BECAUSE', undefined, 'Decrypt')).code,
      'Validation',
    );
    assert.equal(
      validationError(() => parseJustification(REQUESTER, 'MIGRATION', 'a b\u0000', 'Decrypt')).code,
      'Validation',
    );
    assert.equal(
      validationError(() => parseJustification(REQUESTER, 'MIGRATION', 'x'.repeat(129), 'Decrypt')).code,
      'Validation',
    );
  });
});

describe('network jurisdictions', () => {
  const map = new JurisdictionMap(
    { '203.0.113.0/24': 'FR', '203.0.113.128/25': 'BE', '2001:db8::/32': 'NL', '10.9.0.0/16': 'AT' },
    'DE',
  );

  test('the longest matching prefix decides', () => {
    assert.equal(map.jurisdictionOf('203.0.113.7'), 'FR');
    assert.equal(map.jurisdictionOf('203.0.113.200'), 'BE');
    assert.equal(map.jurisdictionOf('2001:db8:1::5'), 'NL');
  });

  test('loopback and private addresses belong to the home jurisdiction unless mapped', () => {
    assert.equal(map.jurisdictionOf('127.0.0.1'), 'DE');
    assert.equal(map.jurisdictionOf('::1'), 'DE');
    assert.equal(map.jurisdictionOf('::ffff:192.168.1.4'), 'DE');
    assert.equal(map.jurisdictionOf('fd00::1'), 'DE');
    assert.equal(map.jurisdictionOf('10.9.3.4'), 'AT');
  });

  test('an unmapped or unparsable address is unknown', () => {
    assert.equal(map.jurisdictionOf('198.51.100.1'), 'unknown');
    assert.equal(map.jurisdictionOf('2a00::1'), 'unknown');
    assert.equal(map.jurisdictionOf('not an address'), 'unknown');
    assert.equal(map.jurisdictionOf(''), 'unknown');
  });

  test("the operator's range wins over a default range of the same prefix; host bits are ignored", () => {
    const operator = new JurisdictionMap({ '10.0.0.0/8': 'AT', '198.51.100.77/24': 'CH' }, 'DE');
    assert.equal(operator.jurisdictionOf('10.1.2.3'), 'AT');
    assert.equal(operator.jurisdictionOf('198.51.100.1'), 'CH');
    assert.equal(operator.jurisdictionOf('192.168.0.1'), 'DE');
  });

  test('a large map answers as a scan of every range would (longest prefix first)', () => {
    let state = 7;
    const random = (below: number) => {
      state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
      return state % below;
    };
    const countries = ['FR', 'BE', 'NL', 'PL', 'CZ'];
    const ranges: Record<string, string> = {};
    for (let index = 0; index < 20_000; index += 1) {
      const prefix = [8, 12, 16, 20, 24, 28, 32][random(7)]!;
      const address = [random(256), random(256), random(256), random(256)].join('.');
      ranges[`${address}/${prefix}`] = countries[random(countries.length)]!;
    }
    const large = new JurisdictionMap(ranges, 'DE');
    const toNumber = (address: string) =>
      address.split('.').reduce((value, part) => value * 256 + Number(part), 0);
    const scanned = Object.entries(ranges)
      .map(([cidr, country]) => {
        const [address = '', length = '32'] = cidr.split('/');
        const prefix = Number(length);
        const size = 2 ** (32 - prefix);
        return { start: Math.floor(toNumber(address) / size) * size, size, prefix, country };
      })
      // Longest prefix first; among equal ones the first listed wins, as the map says.
      .sort((a, b) => b.prefix - a.prefix);
    for (let sample = 0; sample < 2_000; sample += 1) {
      // Outside the private and loopback ranges, which the map gives the home jurisdiction.
      const first = 11 + random(88);
      const address = [first, random(256), random(256), random(256)].join('.');
      const value = toNumber(address);
      const expected = scanned.find((range) => value >= range.start && value < range.start + range.size);
      const got = large.jurisdictionOf(address);
      assert.equal(got, expected?.country ?? 'unknown', address);
    }
  });

  test('a map file with a bad range or country fails with InvalidJurisdictionMap', () => {
    assert.throws(
      () => JurisdictionMap.fromJson('{"ranges": {"1.2.3.0/33": "DE"}}', 'DE'),
      JurisdictionError,
    );
    assert.throws(
      () => JurisdictionMap.fromJson('{"ranges": {"1.2.3.0/24": "Germany"}}', 'DE'),
      JurisdictionError,
    );
    assert.throws(() => JurisdictionMap.fromJson('[]', 'DE'), JurisdictionError);
    assert.equal(
      JurisdictionMap.fromJson('{"ranges": {"1.2.3.0/24": "PL"}}', 'DE').jurisdictionOf('1.2.3.4'),
      'PL',
    );
  });
});

/** The key the evaluated policies belong to. */
const KEY = {
  arn: 'arn:aws:kms:eu-central-1:acme:key/1234abcd-0000-4000-8000-000000000000',
  tenantId: 'acme',
};

/** A service's use (S3 data path, XKS, lifecycle) decided by the key policy's denies alone. */
function decide(document: string, action: string, justification: KeyUseJustification) {
  return evaluateKeyUse(document, action, justification, KEY);
}

/** A Deny statement for everyone on every resource, as key policies write them. */
function deny(statement: Record<string, unknown>): Record<string, unknown> {
  return { Effect: 'Deny', Principal: '*', Resource: '*', ...statement };
}

describe('key policy evaluation (the IAM policy engine, denies of service uses)', () => {
  test('the default key policy grants every use', () => {
    assert.deepEqual(decide(defaultKeyPolicy('acme'), 'kms:Decrypt', use()), { granted: true });
  });

  test('a Deny on a justification reason denies that reason only, and says why', () => {
    const document = policy(ALLOW_ALL, {
      Sid: 'NoOperatorAccess',
      Effect: 'Deny',
      Principal: '*',
      Action: 'kms:Decrypt',
      Resource: '*',
      Condition: { StringEquals: { 'sovra:JustificationReason': ['OPERATOR_SUPPORT', 'MIGRATION'] } },
    });
    checkKeyPolicy(document);
    const denied = decide(
      document,
      'kms:Decrypt',
      use({ reason: 'OPERATOR_SUPPORT', approvalReference: 'T-1' }),
    );
    assert.equal(denied.granted, false);
    assert.match(denied.granted ? '' : denied.denialReason, /OPERATOR_SUPPORT.*NoOperatorAccess/);
    assert.equal(decide(document, 'kms:Decrypt', use()).granted, true);
    assert.equal(decide(document, 'kms:Encrypt', use({ reason: 'MIGRATION' })).granted, true);
  });

  test('StringNotEquals on the reason denies every other reason', () => {
    const document = policy(
      deny({
        Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        Condition: { StringNotEquals: { 'sovra:JustificationReason': 'CUSTOMER_INITIATED_ACCESS' } },
      }),
    );
    assert.equal(decide(document, 'kms:Decrypt', use()).granted, true);
    assert.equal(
      decide(document, 'kms:GenerateDataKeyWithoutPlaintext', use({ reason: 'BACKUP' })).granted,
      false,
    );
  });

  test('a Deny by principal matches aws:PrincipalArn, sovra:PrincipalId and the Principal element', () => {
    const byArn = policy(
      deny({
        Action: 'kms:*',
        Condition: { StringLike: { 'aws:PrincipalArn': 'arn:aws:iam::acme:user/mallory*' } },
      }),
    );
    assert.equal(decide(byArn, 'kms:Encrypt', use({ principalId: 'mallory-2' })).granted, false);
    assert.equal(decide(byArn, 'kms:Encrypt', use()).granted, true);
    const byId = policy(
      deny({ Action: 'kms:*', Condition: { StringEquals: { 'sovra:PrincipalId': 'alice' } } }),
    );
    assert.equal(decide(byId, 'kms:Encrypt', use()).granted, false);
    const byPrincipal = policy(deny({ Principal: { AWS: 'arn:aws:iam::acme:user/alice' }, Action: 'kms:*' }));
    assert.equal(decide(byPrincipal, 'kms:Encrypt', use()).granted, false);
    assert.equal(decide(byPrincipal, 'kms:Encrypt', use({ principalId: 'bob' })).granted, true);
  });

  test('a Deny by jurisdiction denies requesters outside the allowed countries', () => {
    const document = policy(
      ALLOW_ALL,
      deny({
        Action: 'kms:*',
        Condition: { StringNotEquals: { 'sovra:RequestJurisdiction': ['DE', 'FR'] } },
      }),
    );
    assert.equal(decide(document, 'kms:Decrypt', use({ jurisdiction: 'FR' })).granted, true);
    const denied = decide(document, 'kms:Decrypt', use({ jurisdiction: 'US' }));
    assert.equal(denied.granted, false);
    assert.match(denied.granted ? '' : denied.denialReason, /jurisdiction US/);
    assert.equal(decide(document, 'kms:Decrypt', use({ jurisdiction: 'unknown' })).granted, false);
  });

  test('an explicit Deny wins over an Allow of the same use', () => {
    const document = policy(
      ALLOW_ALL,
      { Effect: 'Allow', Action: 'kms:Decrypt', Principal: '*', Resource: '*' },
      deny({ Action: 'kms:Decrypt' }),
    );
    assert.equal(decide(document, 'kms:Decrypt', use()).granted, false);
  });

  test('all conditions of a Deny must hold for it to apply', () => {
    const document = policy(
      deny({
        Action: 'kms:Decrypt',
        Condition: {
          StringEquals: { 'sovra:JustificationReason': 'BACKUP' },
          StringNotEquals: { 'sovra:RequestJurisdiction': 'DE' },
        },
      }),
    );
    assert.equal(
      decide(document, 'kms:Decrypt', use({ reason: 'BACKUP', jurisdiction: 'DE' })).granted,
      true,
    );
    assert.equal(
      decide(document, 'kms:Decrypt', use({ reason: 'BACKUP', jurisdiction: 'US' })).granted,
      false,
    );
  });

  test('the whole IAM policy language applies: NotAction, IpAddress on aws:SourceIp, the key ARN as Resource', () => {
    const document = policy(
      ALLOW_ALL,
      deny({ Sid: 'OnlyDecrypt', NotAction: 'kms:Decrypt' }),
      deny({
        Sid: 'NotFromThere',
        Action: 'kms:Decrypt',
        Condition: { IpAddress: { 'aws:SourceIp': '203.0.113.0/24' } },
      }),
      deny({ Sid: 'OtherKey', Action: 'kms:Decrypt', Resource: 'arn:aws:kms:*:acme:key/another' }),
    );
    checkKeyPolicy(document);
    assert.equal(decide(document, 'kms:Encrypt', use({ sourceIp: '192.0.2.1' })).granted, false);
    const fromThere = decide(document, 'kms:Decrypt', use());
    assert.match(fromThere.granted ? '' : fromThere.denialReason, /NotFromThere/);
    assert.equal(decide(document, 'kms:Decrypt', use({ sourceIp: '::ffff:192.0.2.1' })).granted, true);
  });

  test('a policy the IAM policy language does not accept is refused with MalformedPolicyDocument when stored', () => {
    for (const statement of [
      { Effect: 'Deny', Action: 'kms:*', Resource: '*' },
      { Effect: 'Deny', Principal: '*', Resource: '*' },
      { Effect: 'Deny', Principal: '*', Action: 'kms:*' },
      { Principal: '*', Action: 'kms:*', Resource: '*' },
      deny({ Action: 'kms:*', Condition: { StringEqualz: { 'sovra:Service': 's3' } } }),
      deny({ Action: 'kms:*', Principal: { AWS: 'arn:aws:iam::acme:user/mallory*' } }),
    ]) {
      assert.throws(
        () => checkKeyPolicy(policy(statement)),
        (error: unknown) =>
          error instanceof KmsError &&
          error.code === 'MalformedPolicyDocument' &&
          /Statement/.test(error.message),
        JSON.stringify(statement),
      );
    }
  });
});
