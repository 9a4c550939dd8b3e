import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  buildRequestContext,
  CONDITION_OPERATORS,
  evaluatePolicy,
  IDENTITY_POLICY_SIZE_LIMIT,
  parsePolicy,
  type ConditionKeyValues,
  type RequestPrincipal,
} from '../../src/domain/iam/policy/index.ts';

const alice: RequestPrincipal = {
  kind: 'iam',
  arn: 'arn:aws:iam::tenant-a:user/alice',
  tenantId: 'tenant-a',
  tags: { 'job-category': 'iamuser-admin', team: 'red' },
};

/** Whether a statement with this Condition block applies to a request with these condition keys. */
function holds(
  condition: object,
  keys: ConditionKeyValues = {},
  principal: RequestPrincipal = alice,
): boolean {
  const policy = parsePolicy(
    JSON.stringify({
      Version: '2012-10-17',
      Statement: { Effect: 'Allow', Action: '*', Resource: '*', Condition: condition },
    }),
    { kind: 'identity', sizeLimit: IDENTITY_POLICY_SIZE_LIMIT },
  );
  const context = buildRequestContext({
    principal,
    action: 's3:GetObject',
    resource: 'arn:aws:s3:::photos/cat.jpg',
    resourceTenantId: 'tenant-a',
    conditionKeys: keys,
  });
  return evaluatePolicy(policy, context).length === 1;
}

describe('condition operators: strings', () => {
  it('StringEquals is exact and case-sensitive', () => {
    assert.equal(holds({ StringEquals: { 'aws:username': 'alice' } }), true);
    assert.equal(holds({ StringEquals: { 'aws:username': 'Alice' } }), false);
    assert.equal(holds({ StringEquals: { 'aws:username': 'ali*' } }), false);
  });

  it('StringEqualsIgnoreCase ignores case', () => {
    assert.equal(holds({ StringEqualsIgnoreCase: { 'aws:username': 'ALICE' } }), true);
    assert.equal(holds({ StringNotEqualsIgnoreCase: { 'aws:username': 'ALICE' } }), false);
    assert.equal(holds({ StringNotEqualsIgnoreCase: { 'aws:username': 'bob' } }), true);
  });

  it('StringLike takes * and ? anywhere, case-sensitively', () => {
    assert.equal(
      holds({ StringLike: { 's3:prefix': 'home/*/photos/?' } }, { 's3:prefix': 'home/alice/photos/1' }),
      true,
    );
    assert.equal(
      holds({ StringLike: { 's3:prefix': 'home/*/photos/?' } }, { 's3:prefix': 'home/alice/photos/12' }),
      false,
    );
    assert.equal(holds({ StringLike: { 's3:prefix': 'Home/*' } }, { 's3:prefix': 'home/alice' }), false);
    assert.equal(holds({ StringNotLike: { 's3:prefix': 'tmp/*' } }, { 's3:prefix': 'home/alice' }), true);
    assert.equal(holds({ StringNotLike: { 's3:prefix': 'tmp/*' } }, { 's3:prefix': 'tmp/x' }), false);
  });

  it('the principal tag example: aws:PrincipalTag/job-category must be iamuser-admin', () => {
    const condition = { StringEquals: { 'aws:PrincipalTag/job-category': 'iamuser-admin' } };
    assert.equal(holds(condition), true);
    const untagged: RequestPrincipal = {
      kind: 'iam',
      arn: 'arn:aws:iam::tenant-a:user/bob',
      tenantId: 'tenant-a',
    };
    assert.equal(holds(condition, {}, untagged), false);
  });

  it('several values of one key are ORed', () => {
    const condition = { StringEquals: { 's3:x-amz-server-side-encryption': ['AES256', 'aws:kms'] } };
    assert.equal(holds(condition, { 's3:x-amz-server-side-encryption': 'aws:kms' }), true);
    assert.equal(holds(condition, { 's3:x-amz-server-side-encryption': 'none' }), false);
  });

  it('StringNotEquals with two values denies only when the key matches neither', () => {
    // A negated operator NORs its values (reference_policies_condition-logic-multiple-context-keys-or-values).
    const condition = { StringNotEquals: { 'aws:PrincipalTag/team': ['audit', 'security'] } };
    const tagged = (team: string): RequestPrincipal => ({ ...alice, tags: { team } });
    assert.equal(holds(condition, {}, tagged('audit')), false);
    assert.equal(holds(condition, {}, tagged('security')), false);
    assert.equal(holds(condition, {}, tagged('red')), true);
  });

  it('several keys under one operator are ANDed', () => {
    const condition = { StringEquals: { 'aws:username': 'alice', 's3:x-amz-acl': 'private' } };
    assert.equal(holds(condition, { 's3:x-amz-acl': 'private' }), true);
    assert.equal(holds(condition, { 's3:x-amz-acl': 'public-read' }), false);
    assert.equal(holds(condition), false);
  });

  it('several operators are ANDed', () => {
    const condition = { StringEquals: { 'aws:username': 'alice' }, Bool: { 'aws:SecureTransport': 'true' } };
    assert.equal(holds(condition, { 'aws:SecureTransport': 'true' }), true);
    assert.equal(holds(condition, { 'aws:SecureTransport': 'false' }), false);
  });
});

describe('condition operators: missing keys', () => {
  it('a missing key makes a positive operator false and a negated one true', () => {
    assert.equal(holds({ StringEquals: { 's3:x-amz-acl': 'private' } }), false);
    assert.equal(holds({ StringNotEquals: { 's3:x-amz-acl': 'private' } }), true);
    assert.equal(holds({ StringNotLike: { 's3:prefix': 'x*' } }), true);
    assert.equal(holds({ NumericNotEquals: { 's3:max-keys': '10' } }), true);
    assert.equal(holds({ NotIpAddress: { 'aws:SourceIp': '10.0.0.0/8' } }), true);
    assert.equal(holds({ ArnNotLike: { 'aws:SourceArn': 'arn:aws:sns:*:*:topic' } }), true);
    assert.equal(holds({ DateLessThan: { 'aws:TokenIssueTime': '2030-01-01T00:00:00Z' } }), false);
    assert.equal(holds({ BinaryEquals: { 'x:blob': 'QmluYXJ5' } }), false);
    assert.equal(holds({ Bool: { 'aws:MultiFactorAuthPresent': 'false' } }), false);
  });

  it('...IfExists is true when the key is missing and tests the value when present', () => {
    // The ec2:InstanceType example of Conditions_IfExists.
    const condition = { StringLikeIfExists: { 'ec2:InstanceType': ['t1.*', 't2.*', 'm3.*'] } };
    assert.equal(holds(condition), true);
    assert.equal(holds(condition, { 'ec2:InstanceType': 't2.micro' }), true);
    assert.equal(holds(condition, { 'ec2:InstanceType': 'm5.large' }), false);
  });

  it('a negated ...IfExists operator is true when the key is missing, so a Deny still applies', () => {
    assert.equal(holds({ StringNotEqualsIfExists: { 'aws:PrincipalTag/dept': 'hr' } }), true);
    assert.equal(
      holds({ NumericLessThanIfExists: { 's3:max-keys': '10' } }, { 's3:max-keys': '100' }),
      false,
    );
  });

  it('Null true holds when the key is absent; Null false when it is present', () => {
    // The aws:TokenIssueTime example: only long-term credentials pass.
    assert.equal(holds({ Null: { 'aws:TokenIssueTime': 'true' } }), true);
    assert.equal(
      holds({ Null: { 'aws:TokenIssueTime': 'true' } }, { 'aws:TokenIssueTime': '2024-01-01T00:00:00Z' }),
      false,
    );
    assert.equal(
      holds({ Null: { 'aws:TokenIssueTime': 'false' } }, { 'aws:TokenIssueTime': '2024-01-01T00:00:00Z' }),
      true,
    );
    assert.equal(holds({ Null: { 'aws:TokenIssueTime': false } }), false);
  });

  it('an empty list of request values counts as a missing key', () => {
    assert.equal(
      holds({ Null: { 's3:RequestObjectTagKeys': 'true' } }, { 's3:RequestObjectTagKeys': [] }),
      true,
    );
    assert.equal(
      holds({ StringEquals: { 's3:RequestObjectTagKeys': 'x' } }, { 's3:RequestObjectTagKeys': [] }),
      false,
    );
  });
});

describe('condition set operators', () => {
  const requested = (...attributes: string[]) => ({ 'dynamodb:requestedAttributes': attributes });

  it('ForAllValues: every request value must match one of the policy values', () => {
    // The DynamoDB example of the multi-value conditions page.
    const condition = {
      'ForAllValues:StringLike': { 'dynamodb:requestedAttributes': ['PostDateTime', 'Message', 'Tags'] },
    };
    assert.equal(holds(condition, requested('PostDateTime', 'Message')), true);
    assert.equal(holds(condition, requested('PostDateTime', 'UserName')), false);
    assert.equal(holds(condition, requested('ID')), false);
  });

  it('ForAllValues on a missing key is true', () => {
    assert.equal(holds({ 'ForAllValues:StringEquals': { 'aws:TagKeys': ['a', 'b'] } }), true);
    assert.equal(
      holds({ 'ForAllValues:StringEquals': { 'aws:TagKeys': ['a', 'b'] } }, { 'aws:TagKeys': [] }),
      true,
    );
  });

  it('ForAnyValue: one request value matching one policy value is enough', () => {
    const condition = {
      'ForAnyValue:StringLike': { 'dynamodb:requestedAttributes': ['ID', 'PostDateTime'] },
    };
    assert.equal(holds(condition, requested('UserName', 'Message', 'PostDateTime')), true);
    assert.equal(holds(condition, requested('UserName')), false);
  });

  it('ForAnyValue on a missing key is false', () => {
    assert.equal(holds({ 'ForAnyValue:StringEquals': { 'aws:TagKeys': 'a' } }), false);
    assert.equal(holds({ 'ForAnyValue:StringNotEquals': { 'aws:TagKeys': 'a' } }), false);
  });

  it('ForAllValues with a negated operator: no request value may match a policy value', () => {
    // The aws:TagKeys table of reference_policies_condition_examples-multi-valued-context-keys.
    const condition = { 'ForAllValues:StringNotLike': { 'aws:TagKeys': 'key1*' } };
    assert.equal(holds(condition, { 'aws:TagKeys': ['key1:legal'] }), false);
    assert.equal(holds(condition, { 'aws:TagKeys': ['key1:hr', 'key1:personnel'] }), false);
    assert.equal(holds(condition, { 'aws:TagKeys': ['key2:audit'] }), true);
    assert.equal(holds(condition), true);
  });

  it('ForAnyValue with a negated operator: some request value matches none of the policy values', () => {
    const condition = { 'ForAnyValue:StringNotEquals': { 'aws:TagKeys': ['a', 'b'] } };
    assert.equal(holds(condition, { 'aws:TagKeys': ['a', 'b'] }), false);
    assert.equal(holds(condition, { 'aws:TagKeys': ['a', 'c'] }), true);
  });

  it('a multi-valued key without a set operator matches when any value does, and a negated operator when none does', () => {
    assert.equal(holds({ StringEquals: { 'aws:TagKeys': 'b' } }, { 'aws:TagKeys': ['a', 'b'] }), true);
    assert.equal(holds({ StringNotEquals: { 'aws:TagKeys': 'b' } }, { 'aws:TagKeys': ['a', 'b'] }), false);
    assert.equal(holds({ StringNotEquals: { 'aws:TagKeys': 'c' } }, { 'aws:TagKeys': ['a', 'b'] }), true);
  });

  it('ForAllValues with IfExists on a missing key is true', () => {
    assert.equal(holds({ 'ForAllValues:StringEqualsIfExists': { 'aws:TagKeys': 'a' } }), true);
    assert.equal(holds({ 'ForAnyValue:StringEqualsIfExists': { 'aws:TagKeys': 'a' } }), true);
  });
});

describe('condition operators: numbers', () => {
  it('the s3:max-keys example: NumericLessThanEquals 10', () => {
    const condition = { NumericLessThanEquals: { 's3:max-keys': '10' } };
    assert.equal(holds(condition, { 's3:max-keys': '10' }), true);
    assert.equal(holds(condition, { 's3:max-keys': '9' }), true);
    assert.equal(holds(condition, { 's3:max-keys': '11' }), false);
  });

  it('each numeric operator compares as its name says, integers and decimals alike', () => {
    const cases: [string, string, boolean][] = [
      ['NumericEquals', '10', true],
      ['NumericEquals', '10.0', true],
      ['NumericNotEquals', '10', false],
      ['NumericNotEquals', '11', true],
      ['NumericLessThan', '9.5', true],
      ['NumericLessThan', '10', false],
      ['NumericLessThanEquals', '10', true],
      ['NumericGreaterThan', '10', false],
      ['NumericGreaterThan', '1e2', true],
      ['NumericGreaterThanEquals', '10', true],
      ['NumericGreaterThanEquals', '-3', false],
    ];
    for (const [operator, value, expected] of cases) {
      assert.equal(
        holds({ [operator]: { 's3:max-keys': 10 } }, { 's3:max-keys': value }),
        expected,
        `${operator} ${value}`,
      );
    }
  });

  it('a request value that is not a number matches no numeric value', () => {
    assert.equal(holds({ NumericEquals: { 's3:max-keys': '10' } }, { 's3:max-keys': 'ten' }), false);
  });
});

describe('condition operators: dates', () => {
  const at = (time: string) => ({ 'aws:CurrentTime': time });

  it('DateGreaterThan compares with the instant written in ISO 8601', () => {
    const condition = { DateGreaterThan: { 'aws:TokenIssueTime': '2020-01-01T00:00:01Z' } };
    assert.equal(holds(condition, { 'aws:TokenIssueTime': '2020-06-01T00:00:00Z' }), true);
    assert.equal(holds(condition, { 'aws:TokenIssueTime': '2020-01-01T00:00:01Z' }), false);
  });

  it('each date operator compares as its name says', () => {
    const limit = '2024-03-01T12:00:00Z';
    const cases: [string, string, boolean][] = [
      ['DateEquals', '2024-03-01T12:00:00Z', true],
      ['DateEquals', '2024-03-01T12:00:00.001Z', false],
      ['DateNotEquals', '2024-03-01T12:00:00Z', false],
      ['DateLessThan', '2024-03-01T11:59:59Z', true],
      ['DateLessThanEquals', '2024-03-01T12:00:00Z', true],
      ['DateGreaterThan', '2024-03-01T12:00:00Z', false],
      ['DateGreaterThanEquals', '2024-03-01T12:00:00Z', true],
    ];
    for (const [operator, time, expected] of cases) {
      assert.equal(
        holds({ [operator]: { 'aws:CurrentTime': limit } }, at(time)),
        expected,
        `${operator} ${time}`,
      );
    }
  });

  it('ISO 8601 profiles, zone offsets and epoch seconds denote the same instants', () => {
    const condition = { DateEquals: { 'aws:CurrentTime': '2024-03-01T12:00:00Z' } };
    assert.equal(holds(condition, at('2024-03-01T13:00:00+01:00')), true);
    assert.equal(holds(condition, at('2024-03-01T12:00Z')), true);
    assert.equal(holds(condition, at('1709294400')), true);
    assert.equal(
      holds(
        { DateEquals: { 'aws:EpochTime': '1709294400' } },
        { 'aws:EpochTime': '2024-03-01T12:00:00.000Z' },
      ),
      true,
    );
    assert.equal(
      holds({ DateLessThan: { 'aws:CurrentTime': '2024-03-02' } }, at('2024-03-01T23:59:59Z')),
      true,
    );
    assert.equal(holds({ DateLessThan: { 'aws:CurrentTime': '2024-03' } }, at('2024-02-29T23:59:59Z')), true);
  });

  it('a request value that is not a date matches no date', () => {
    assert.equal(holds({ DateLessThan: { 'aws:CurrentTime': '2030-01-01' } }, at('yesterday')), false);
  });
});

describe('condition operators: Bool, Binary, IP address, ARN', () => {
  it('Bool compares true and false without regard to case', () => {
    assert.equal(
      holds({ Bool: { 'aws:SecureTransport': 'false' } }, { 'aws:SecureTransport': 'false' }),
      true,
    );
    assert.equal(
      holds({ Bool: { 'aws:SecureTransport': 'False' } }, { 'aws:SecureTransport': 'false' }),
      true,
    );
    assert.equal(holds({ Bool: { 'aws:SecureTransport': true } }, { 'aws:SecureTransport': 'false' }), false);
  });

  it('BinaryEquals compares bytes with the base64 value', () => {
    const condition = { BinaryEquals: { 'x:blob': 'QmluYXJ5VmFsdWVJbkJhc2U2NA==' } };
    assert.equal(holds(condition, { 'x:blob': Buffer.from('BinaryValueInBase64').toString('base64') }), true);
    assert.equal(holds(condition, { 'x:blob': Buffer.from('Other').toString('base64') }), false);
    assert.equal(holds(condition, { 'x:blob': 'not base64!' }), false);
  });

  it('IpAddress takes IPv4 and IPv6 blocks; an address alone is /32', () => {
    const condition = {
      IpAddress: { 'aws:SourceIp': ['203.0.113.0/24', '2001:DB8:1234:5678::/64', '198.51.100.7'] },
    };
    assert.equal(holds(condition, { 'aws:SourceIp': '203.0.113.200' }), true);
    assert.equal(holds(condition, { 'aws:SourceIp': '203.0.114.1' }), false);
    assert.equal(holds(condition, { 'aws:SourceIp': '2001:db8:1234:5678::abcd' }), true);
    assert.equal(holds(condition, { 'aws:SourceIp': '2001:db8:1234:5679::1' }), false);
    assert.equal(holds(condition, { 'aws:SourceIp': '198.51.100.7' }), true);
    assert.equal(holds(condition, { 'aws:SourceIp': '198.51.100.8' }), false);
    assert.equal(holds(condition, { 'aws:SourceIp': 'not-an-ip' }), false);
  });

  it('IpAddress and NotIpAddress together carve an exception out of a range (54.240.143.0/24 but not .188)', () => {
    const condition = {
      IpAddress: { 'aws:SourceIp': '54.240.143.0/24' },
      NotIpAddress: { 'aws:SourceIp': '54.240.143.188/32' },
    };
    assert.equal(holds(condition, { 'aws:SourceIp': '54.240.143.1' }), true);
    assert.equal(holds(condition, { 'aws:SourceIp': '54.240.143.188' }), false);
    assert.equal(holds(condition, { 'aws:SourceIp': '54.240.144.1' }), false);
  });

  it('an IPv4-mapped IPv6 address matches its IPv4 block', () => {
    assert.equal(
      holds({ IpAddress: { 'aws:SourceIp': '10.0.0.0/8' } }, { 'aws:SourceIp': '::ffff:10.1.2.3' }),
      true,
    );
  });

  it('ArnEquals and ArnLike behave identically, segment by segment', () => {
    for (const operator of ['ArnEquals', 'ArnLike']) {
      const condition = { [operator]: { 'aws:SourceArn': 'arn:aws:sns:*:123456789012:TOPIC-*' } };
      assert.equal(
        holds(condition, { 'aws:SourceArn': 'arn:aws:sns:eu-west-1:123456789012:TOPIC-1' }),
        true,
        operator,
      );
      assert.equal(
        holds(condition, { 'aws:SourceArn': 'arn:aws:sns:eu-west-1:999999999999:TOPIC-1' }),
        false,
        operator,
      );
    }
    assert.equal(
      holds(
        { ArnNotEquals: { 'aws:SourceArn': 'arn:aws:sns:*:1:t' } },
        { 'aws:SourceArn': 'arn:aws:sns:x:1:t' },
      ),
      false,
    );
    assert.equal(
      holds(
        { ArnNotLike: { 'aws:SourceArn': 'arn:aws:sns:*:1:t' } },
        { 'aws:SourceArn': 'arn:aws:sns:x:2:t' },
      ),
      true,
    );
  });

  it('StringLike matches across colons where ArnLike does not (the finance/* example)', () => {
    const pattern = 'arn:aws:someservice:*:111122223333:finance/*';
    const value = {
      'aws:SourceArn':
        'arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt',
    };
    assert.equal(holds({ StringLike: { 'aws:SourceArn': pattern } }, value), true);
    assert.equal(holds({ ArnLike: { 'aws:SourceArn': pattern } }, value), false);
  });

  it('ArnLike on a value that is no ARN matches nothing', () => {
    assert.equal(
      holds({ ArnLike: { 'aws:SourceArn': 'arn:aws:sns:*:1:t' } }, { 'aws:SourceArn': 'sns-topic' }),
      false,
    );
  });

  it('a policy variable works in ARN and Bool values', () => {
    assert.equal(
      holds({ ArnEquals: { 'aws:PrincipalArn': 'arn:aws:iam::tenant-a:user/${aws:username}' } }),
      true,
    );
    assert.equal(holds({ Bool: { 'x:flag': '${aws:PrincipalTag/flag}' } }, { 'x:flag': 'true' }), false);
    const flagged = { ...alice, tags: { flag: 'TRUE' } } as RequestPrincipal;
    assert.equal(
      holds({ Bool: { 'x:flag': '${aws:PrincipalTag/flag}' } }, { 'x:flag': 'true' }, flagged),
      true,
    );
  });

  it('every operator of the AWS list is known, with its IfExists variant (but Null)', () => {
    assert.equal(CONDITION_OPERATORS.length, 27);
    for (const operator of CONDITION_OPERATORS) {
      const value = operator.startsWith('Numeric')
        ? '1'
        : operator.startsWith('Date')
          ? '2024-01-01'
          : operator.includes('Ip')
            ? '10.0.0.0/8'
            : operator === 'Bool' || operator === 'Null'
              ? 'true'
              : operator === 'BinaryEquals'
                ? 'QQ=='
                : 'x';
      holds({ [operator]: { 'x:key': value } });
      if (operator !== 'Null') holds({ [`ForAnyValue:${operator}IfExists`]: { 'x:key': value } });
    }
  });
});
