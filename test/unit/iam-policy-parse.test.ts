import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  BUCKET_POLICY_SIZE_LIMIT,
  IDENTITY_POLICY_SIZE_LIMIT,
  parsePolicyDocument,
  PolicyError,
  POLICY_TEXT_MAX_CHARS,
  type PolicyKind,
} from '../../src/domain/iam/policy/index.ts';

const parseIdentity = (policy: unknown) =>
  parsePolicyDocument(typeof policy === 'string' ? policy : JSON.stringify(policy), {
    kind: 'identity',
    sizeLimit: IDENTITY_POLICY_SIZE_LIMIT,
  });
const parseResource = (policy: unknown) =>
  parsePolicyDocument(typeof policy === 'string' ? policy : JSON.stringify(policy), {
    kind: 'resource',
    sizeLimit: BUCKET_POLICY_SIZE_LIMIT,
  });

/** The error a parse raises: its code and message. */
function failure(policy: unknown, kind: PolicyKind = 'identity'): { code: string; message: string } {
  try {
    if (kind === 'identity') parseIdentity(policy);
    else parseResource(policy);
  } catch (error) {
    assert.ok(error instanceof PolicyError, `expected a PolicyError, got ${String(error)}`);
    return { code: error.code, message: error.message };
  }
  assert.fail('the policy was accepted');
}

const allow = { Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::photos/*' };
const publicAllow = { ...allow, Principal: '*' };

describe('policy documents: structure', () => {
  it('a single statement object and a list of statements read the same', () => {
    const single = parseIdentity({ Version: '2012-10-17', Statement: allow });
    const list = parseIdentity({ Version: '2012-10-17', Statement: [allow] });
    assert.deepEqual(single.statements[0]?.action, list.statements[0]?.action);
    assert.equal(single.statements[0]?.path, 'Statement');
    assert.equal(list.statements[0]?.path, 'Statement[0]');
  });

  it('lists and single strings normalize to arrays', () => {
    const document = parseIdentity({
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Deny', NotAction: ['s3:Get*', 's3:List*'], NotResource: 'arn:aws:s3:::public/*' },
      ],
    });
    const statement = document.statements[0]!;
    assert.deepEqual(statement.action, { negated: true, values: ['s3:Get*', 's3:List*'] });
    assert.deepEqual(statement.resource, { negated: true, values: ['arn:aws:s3:::public/*'] });
    assert.equal(statement.effect, 'Deny');
    assert.equal(statement.principal, null);
  });

  it('a missing Version means 2008-10-17', () => {
    assert.equal(parseIdentity({ Statement: allow }).version, '2008-10-17');
    assert.equal(parseIdentity({ Version: '2008-10-17', Statement: allow }).version, '2008-10-17');
  });

  it('Id and Sid are kept', () => {
    const document = parseResource({
      Id: 'PolicyForPhotos',
      Statement: [{ ...publicAllow, Sid: 'Public read' }],
    });
    assert.equal(document.id, 'PolicyForPhotos');
    assert.equal(document.statements[0]?.sid, 'Public read');
  });

  it('principals of every type are read into one map', () => {
    const document = parseResource({
      Version: '2012-10-17',
      Statement: {
        ...allow,
        Principal: {
          AWS: ['123456789012', 'arn:aws:iam::tenant-a:user/alice', 'arn:aws:sts::tenant-a:assumed-role/r/s'],
          Service: 'logging.s3.amazonaws.com',
          Federated: 'cognito-identity.amazonaws.com',
          CanonicalUser: '79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be',
        },
      },
    });
    const principal = document.statements[0]!.principal!;
    assert.equal(principal.negated, false);
    assert.equal(principal.value.kind, 'listed');
    if (principal.value.kind === 'listed') {
      assert.equal(principal.value.map.AWS.length, 3);
      assert.deepEqual(principal.value.map.Service, ['logging.s3.amazonaws.com']);
    }
  });

  it('condition values may be strings, numbers and Booleans, kept as written', () => {
    const document = parseIdentity(
      '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*",' +
        '"Condition":{"NumericLessThanEquals":{"s3:max-keys":10.50},"Bool":{"aws:SecureTransport":true}}}}',
    );
    const conditions = document.statements[0]!.conditions;
    assert.deepEqual(
      conditions.map((condition) => [condition.operatorName, condition.key, condition.values]),
      [
        ['NumericLessThanEquals', 's3:max-keys', ['10.50']],
        ['Bool', 'aws:SecureTransport', ['true']],
      ],
    );
  });

  it('set qualifiers and IfExists are split from the operator', () => {
    const document = parseIdentity({
      Version: '2012-10-17',
      Statement: { ...allow, Condition: { 'ForAllValues:StringLikeIfExists': { 'aws:TagKeys': 'team-*' } } },
    });
    assert.deepEqual(document.statements[0]!.conditions[0]!.operator, {
      base: 'StringLike',
      qualifier: 'ForAllValues',
      ifExists: true,
    });
  });

  it('an empty string is a valid condition value (the s3:prefix of the bucket root)', () => {
    const document = parseIdentity({
      Version: '2012-10-17',
      Statement: { ...allow, Condition: { StringLike: { 's3:prefix': ['', 'home/'] } } },
    });
    assert.deepEqual(document.statements[0]!.conditions[0]!.values, ['', 'home/']);
  });
});

describe('malformed policies name the path of the problem', () => {
  const cases: [string, unknown, RegExp, PolicyKind?][] = [
    [
      'an unknown condition operator',
      { Statement: [allow, allow, { ...allow, Condition: { StringEqualz: { 'aws:username': 'x' } } }] },
      /^Statement\[2\]\.Condition\.StringEqualz: unknown condition operator "StringEqualz"$/,
    ],
    ['an unknown top-level element', { Statment: [allow] }, /^Statment: unknown policy element "Statment"$/],
    [
      'an unknown statement element',
      { Statement: [{ ...allow, Efect: 'Allow' }] },
      /^Statement\[0\]\.Efect: unknown statement element "Efect"$/,
    ],
    [
      'a missing Effect',
      { Statement: [{ Action: 's3:*', Resource: '*' }] },
      /^Statement\[0\]\.Effect: the statement has no Effect$/,
    ],
    [
      'an Effect in the wrong case',
      { Statement: [{ ...allow, Effect: 'allow' }] },
      /^Statement\[0\]\.Effect: must be "Allow" or "Deny"$/,
    ],
    [
      'both Action and NotAction',
      { Statement: [{ ...allow, NotAction: 's3:PutObject' }] },
      /^Statement\[0\]\.NotAction: a statement may have Action or NotAction, not both$/,
    ],
    [
      'a missing Action',
      { Statement: [{ Effect: 'Allow', Resource: '*' }] },
      /^Statement\[0\]\.Action: the statement has no Action or NotAction$/,
    ],
    [
      'a missing Resource',
      { Statement: [{ Effect: 'Allow', Action: 's3:*' }] },
      /^Statement\[0\]\.Resource: the statement has no Resource or NotResource$/,
    ],
    [
      'both Resource and NotResource',
      { Statement: [{ ...allow, NotResource: '*' }] },
      /^Statement\[0\]\.NotResource: /,
    ],
    [
      'a Resource that is not an ARN',
      { Statement: [{ ...allow, Resource: ['arn:aws:s3:::ok', 'photos/*'] }] },
      /^Statement\[0\]\.Resource\[1\]: "photos\/\*" is not "\*" or an ARN/,
    ],
    [
      'an ARN without a resource part',
      { Statement: [{ ...allow, Resource: 'arn:aws:s3:::' }] },
      /^Statement\[0\]\.Resource: /,
    ],
    [
      'an action without a service',
      { Statement: [{ ...allow, Action: 'GetObject' }] },
      /^Statement\[0\]\.Action: "GetObject" is not an action/,
    ],
    [
      'an empty action list',
      { Statement: [{ ...allow, Action: [] }] },
      /^Statement\[0\]\.Action: must not be an empty list$/,
    ],
    [
      'an empty action',
      { Statement: [{ ...allow, Action: ['s3:GetObject', ''] }] },
      /^Statement\[0\]\.Action\[1\]: must not be empty$/,
    ],
    ['an empty statement list', { Statement: [] }, /^Statement: must hold at least one statement$/],
    ['a missing Statement', { Version: '2012-10-17' }, /^Statement: the policy has no Statement$/],
    ['an unknown Version', { Version: '2012-10-18', Statement: allow }, /^Version: /],
    [
      'a duplicate Sid',
      {
        Statement: [
          { ...allow, Sid: 'A' },
          { ...allow, Sid: 'B' },
          { ...allow, Sid: 'A' },
        ],
      },
      /^Statement\[2\]\.Sid: duplicate Sid "A" \(also Statement\[0\]\)$/,
    ],
    [
      'a Sid with spaces in an identity policy',
      { Statement: [{ ...allow, Sid: 'Read photos' }] },
      /^Statement\[0\]\.Sid: /,
    ],
    [
      'a Principal in an identity policy',
      { Statement: [publicAllow] },
      /^Statement\[0\]\.Principal: an identity policy must not name a Principal$/,
    ],
    [
      'a NotPrincipal in an identity policy',
      { Statement: [{ ...allow, NotPrincipal: { AWS: '123' } }] },
      /^Statement\[0\]\.NotPrincipal: /,
    ],
    [
      'a resource policy statement without a Principal',
      { Statement: [allow] },
      /^Statement\[0\]\.Principal: a resource policy statement must name a Principal or NotPrincipal$/,
      'resource',
    ],
    [
      'both Principal and NotPrincipal',
      { Statement: [{ ...publicAllow, NotPrincipal: { AWS: '123' } }] },
      /^Statement\[0\]\.NotPrincipal: /,
      'resource',
    ],
    [
      'a partial wildcard in an AWS principal',
      { Statement: [{ ...allow, Principal: { AWS: ['123', 'arn:aws:iam::123:user/*'] } }] },
      /^Statement\[0\]\.Principal\.AWS\[1\]: "arn:aws:iam::123:user\/\*" is not/,
      'resource',
    ],
    [
      'a group as a principal',
      { Statement: [{ ...allow, Principal: { AWS: 'arn:aws:iam::123:group/admins' } }] },
      /^Statement\[0\]\.Principal\.AWS: /,
      'resource',
    ],
    [
      'an unknown principal type',
      { Statement: [{ ...allow, Principal: { Users: 'alice' } }] },
      /^Statement\[0\]\.Principal\.Users: unknown principal type "Users"/,
      'resource',
    ],
    [
      'a Principal string other than *',
      { Statement: [{ ...allow, Principal: 'alice' }] },
      /^Statement\[0\]\.Principal: must be "\*" or an object/,
      'resource',
    ],
    [
      'an empty Principal map',
      { Statement: [{ ...allow, Principal: {} }] },
      /^Statement\[0\]\.Principal: must name at least one principal$/,
      'resource',
    ],
    [
      'an empty condition value list',
      { Statement: [{ ...allow, Condition: { StringEquals: { 'aws:username': [] } } }] },
      /^Statement\[0\]\.Condition\.StringEquals\.aws:username: must hold at least one value$/,
    ],
    [
      'an empty operator block',
      { Statement: [{ ...allow, Condition: { StringEquals: {} } }] },
      /^Statement\[0\]\.Condition\.StringEquals: names no condition key$/,
    ],
    [
      'a null condition value',
      { Statement: [{ ...allow, Condition: { StringEquals: { 'aws:username': null } } }] },
      /^Statement\[0\]\.Condition\.StringEquals\.aws:username: a condition value must be/,
    ],
    [
      'a condition key without a prefix',
      { Statement: [{ ...allow, Condition: { StringEquals: { username: 'x' } } }] },
      /^Statement\[0\]\.Condition\.StringEquals\.username: /,
    ],
    [
      'NullIfExists',
      { Statement: [{ ...allow, Condition: { NullIfExists: { 'aws:TokenIssueTime': 'true' } } }] },
      /unknown condition operator "NullIfExists"/,
    ],
    [
      'a numeric value that is no number',
      { Statement: [{ ...allow, Condition: { NumericLessThan: { 's3:max-keys': ['10', 'ten'] } } }] },
      /^Statement\[0\]\.Condition\.NumericLessThan\.s3:max-keys\[1\]: "ten" is not a number$/,
    ],
    [
      'a date that is no date',
      {
        Statement: [{ ...allow, Condition: { DateLessThan: { 'aws:CurrentTime': '2024-02-30T00:00:00Z' } } }],
      },
      /is not an ISO 8601 date/,
    ],
    [
      'an address that is no CIDR',
      { Statement: [{ ...allow, Condition: { IpAddress: { 'aws:SourceIp': '10.0.0.0/33' } } }] },
      /"10\.0\.0\.0\/33" is not an IPv4 or IPv6 address or CIDR block/,
    ],
    [
      'a Bool value that is not true or false',
      { Statement: [{ ...allow, Condition: { Bool: { 'aws:SecureTransport': 'yes' } } }] },
      /"yes" is not true or false/,
    ],
    [
      'a Null value that is not true or false',
      { Statement: [{ ...allow, Condition: { Null: { 'aws:TokenIssueTime': 'maybe' } } }] },
      /"maybe" is not true or false/,
    ],
    [
      'a binary value that is not base64',
      { Statement: [{ ...allow, Condition: { BinaryEquals: { 'x:key': 'not base64!' } } }] },
      /is not base64/,
    ],
    ['a policy that is not an object', [allow], /^the policy must be a JSON object$/],
    [
      'a statement that is not an object',
      { Statement: ['Allow'] },
      /^Statement\[0\]: a statement must be a JSON object$/,
    ],
  ];
  for (const [what, policy, message, kind] of cases) {
    it(`${what} is MalformedPolicy`, () => {
      const error = failure(policy, kind);
      assert.equal(error.code, 'MalformedPolicy');
      assert.match(error.message, message);
    });
  }
});

describe('policy JSON is read strictly', () => {
  it('bad JSON reports its line, column and position', () => {
    const error = failure('{\n  "Statement": [\n    {"Effect": "Allow",}\n  ]\n}');
    assert.equal(error.code, 'MalformedPolicy');
    assert.match(
      error.message,
      /^invalid JSON at line 3, column 24 \(position 42\): expected a double-quoted key$/,
    );
  });

  it('a key repeated in one object is refused, as the grammar demands', () => {
    const error = failure('{"Statement":{"Effect":"Deny","Action":"s3:*","Resource":"*","Effect":"Allow"}}');
    assert.equal(error.message, 'Statement: duplicate key "Effect"');
  });

  it('text after the document is refused', () => {
    assert.match(
      failure(`${JSON.stringify({ Statement: allow })} x`).message,
      /unexpected text after the JSON value/,
    );
  });

  it('deeply nested JSON is refused before it can exhaust the stack', () => {
    const deep = `{"Statement":${'['.repeat(100_000)}`;
    assert.match(failure(deep).message, /nested deeper than/);
  });

  it('unpaired surrogates and control characters in strings are refused', () => {
    assert.match(failure('{"Id":"\\ud800","Statement":[]}').message, /unpaired surrogate/);
    assert.match(failure('{"Id":"a\u0001b","Statement":[]}').message, /control character/);
  });

  it('escapes in strings are decoded', () => {
    const document = parseResource(
      '{"Statement":{"Sid":"caf\\u00e9 \\"quoted\\"","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b\\/*"}}',
    );
    assert.equal(document.statements[0]?.sid, 'café "quoted"');
    assert.deepEqual(document.statements[0]?.resource.values, ['arn:aws:s3:::b/*']);
  });

  it('keys named like Object.prototype members are plain unknown elements', () => {
    assert.match(
      failure('{"__proto__":{"Statement":[]},"Statement":[]}').message,
      /^__proto__: unknown policy element/,
    );
  });
});

describe('policy size limits', () => {
  const withPadding = (statement: object, sid: string) =>
    JSON.stringify({ Statement: [{ ...statement, Sid: sid }] });

  it('an identity policy may hold 6,144 characters, whitespace between tokens not counted', () => {
    const base = withPadding(allow, '');
    const exact = withPadding(allow, 'a'.repeat(6144 - base.length));
    assert.equal(exact.length, 6144);
    parseIdentity(exact);
    const spaced = JSON.stringify(JSON.parse(exact), null, 8);
    assert.ok(spaced.length > 6144);
    parseIdentity(spaced);
    const error = failure(withPadding(allow, 'a'.repeat(6145 - base.length)));
    assert.equal(error.code, 'PolicyTooLarge');
  });

  it('whitespace inside strings counts', () => {
    const base = withPadding(publicAllow, '');
    const sid = ' '.repeat(20 * 1024 - base.length + 1);
    assert.equal(failure(withPadding(publicAllow, sid), 'resource').code, 'PolicyTooLarge');
  });

  it('a bucket policy may hold 20 KiB of UTF-8', () => {
    const base = withPadding(publicAllow, '');
    // é is two bytes: the limit is in bytes, not characters.
    const fits = 'é'.repeat(Math.floor((20 * 1024 - base.length) / 2));
    parseResource(withPadding(publicAllow, fits));
    assert.equal(failure(withPadding(publicAllow, `${fits}éé`), 'resource').code, 'PolicyTooLarge');
  });

  it('the limit is a parameter', () => {
    const text = JSON.stringify({ Statement: allow });
    assert.throws(
      () => parsePolicyDocument(text, { kind: 'identity', sizeLimit: { maxSize: 10, unit: 'characters' } }),
      (error: unknown) => error instanceof PolicyError && error.code === 'PolicyTooLarge',
    );
  });

  it('raw text beyond the parser bound is refused before it is read', () => {
    const huge = `{"Statement":${' '.repeat(POLICY_TEXT_MAX_CHARS)}${JSON.stringify(allow)}}`;
    assert.equal(failure(huge).code, 'PolicyTooLarge');
  });
});
