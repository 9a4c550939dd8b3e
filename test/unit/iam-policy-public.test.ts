import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  BUCKET_POLICY_SIZE_LIMIT,
  isPublicPolicy,
  parsePolicy,
  parsePolicyDocument,
} from '../../src/domain/iam/policy/index.ts';

const isPublic = (statements: object | object[], version = '2012-10-17') =>
  isPublicPolicy(
    parsePolicy(JSON.stringify({ Version: version, Statement: statements }), {
      kind: 'resource',
      sizeLimit: BUCKET_POLICY_SIZE_LIMIT,
    }),
  );

const put = { Resource: '*', Action: 's3:PutObject', Effect: 'Allow' };

describe('the meaning of public (GetBucketPolicyStatus)', () => {
  it('the guide’s public examples are public', () => {
    assert.equal(isPublic({ ...put, Principal: { Federated: 'graph.facebook.com' } }), true);
    assert.equal(isPublic({ ...put, Principal: '*' }), true);
    assert.equal(
      isPublic({ ...put, Principal: '*', Condition: { StringLike: { 'aws:SourceVpc': 'vpc-*' } } }),
      true,
    );
  });

  it('fixing aws:SourceVpc to one value makes the last example non-public', () => {
    assert.equal(
      isPublic({ ...put, Principal: '*', Condition: { StringEquals: { 'aws:SourceVpc': 'vpc-91237329' } } }),
      false,
    );
  });

  it('{"AWS": "*"} is as public as "*"', () => {
    assert.equal(isPublic({ ...put, Principal: { AWS: '*' } }), true);
    assert.equal(isPublic({ ...put, Principal: { AWS: ['tenant-b', '*'] } }), true);
  });

  it('grants to fixed accounts, users, roles and services are not public', () => {
    assert.equal(
      isPublic({
        ...put,
        Principal: { AWS: ['tenant-b', 'arn:aws:iam::tenant-c:user/x', 'arn:aws:iam::tenant-c:role/r'] },
      }),
      false,
    );
    assert.equal(isPublic({ ...put, Principal: { Service: 'logging.s3.amazonaws.com' } }), false);
  });

  it('Deny statements never make a policy public', () => {
    assert.equal(isPublic({ ...put, Effect: 'Deny', Principal: '*' }), false);
  });

  it('one public statement makes the whole policy public', () => {
    assert.equal(
      isPublic([
        { ...put, Principal: { AWS: 'tenant-b' } },
        { ...put, Principal: '*' },
      ]),
      true,
    );
  });

  it('NotPrincipal with Allow is public', () => {
    assert.equal(isPublic({ ...put, NotPrincipal: { AWS: 'tenant-b' } }), true);
  });

  it('aws:SourceIp to a block of /8 or narrower is not public; a broader block is', () => {
    const sourceIp = (cidrs: string | string[]) =>
      isPublic({ ...put, Principal: '*', Condition: { IpAddress: { 'aws:SourceIp': cidrs } } });
    assert.equal(sourceIp('203.0.113.0/24'), false);
    assert.equal(sourceIp('10.0.0.0/8'), false);
    assert.equal(sourceIp('192.0.2.7'), false);
    assert.equal(sourceIp('0.0.0.0/1'), true);
    assert.equal(sourceIp(['203.0.113.0/24', '0.0.0.0/0']), true);
    assert.equal(sourceIp('2001:db8::/32'), false);
    assert.equal(sourceIp('2001:db8::/31'), true);
  });

  it('NotIpAddress does not pin the requester', () => {
    assert.equal(
      isPublic({ ...put, Principal: '*', Condition: { NotIpAddress: { 'aws:SourceIp': '10.0.0.0/8' } } }),
      true,
    );
  });

  it('each pinning key with a fixed value makes a grant to everyone non-public', () => {
    const keys: [string, string, string][] = [
      ['ArnEquals', 'aws:SourceArn', 'arn:aws:sns:eu-west-1:123:topic'],
      ['StringEquals', 'aws:SourceVpce', 'vpce-1a2b3c4d'],
      ['StringEquals', 'aws:SourceOwner', '123456789012'],
      ['StringEquals', 'aws:SourceAccount', '123456789012'],
      ['StringEquals', 's3:x-amz-server-side-encryption-aws-kms-key-id', 'arn:aws:kms:eu-west-1:123:key/abc'],
      ['StringEquals', 'aws:userid', 'AIDAEXAMPLE'],
      ['StringEquals', 's3:DataAccessPointAccount', '123456789012'],
      ['StringEquals', 'aws:PrincipalOrgID', 'o-abc123'],
      ['StringEquals', 'aws:PrincipalAccount', 'tenant-b'],
      ['ArnLike', 'aws:PrincipalArn', 'arn:aws:iam::tenant-b:role/reader'],
    ];
    for (const [operator, key, value] of keys) {
      assert.equal(
        isPublic({ ...put, Principal: '*', Condition: { [operator]: { [key]: value } } }),
        false,
        key,
      );
      assert.equal(
        isPublic({ ...put, Principal: '*', Condition: { StringLike: { [key]: `${value}*` } } }),
        true,
        `${key} with a wildcard`,
      );
    }
  });

  it('aws:userid in the pattern "AROLEID:*" is public', () => {
    assert.equal(
      isPublic({ ...put, Principal: '*', Condition: { StringLike: { 'aws:userid': 'AROAEXAMPLE:*' } } }),
      true,
    );
  });

  it('a policy variable in the pinning value is public under 2012-10-17 and literal under 2008-10-17', () => {
    const statement = {
      ...put,
      Principal: '*',
      Condition: { StringEquals: { 'aws:SourceAccount': '${aws:PrincipalTag/acct}' } },
    };
    assert.equal(isPublic(statement), true);
    assert.equal(isPublic(statement, '2008-10-17'), false);
  });

  it('an access point ARN may wildcard the access point name if its account is fixed', () => {
    const arn = (value: string) =>
      isPublic({ ...put, Principal: '*', Condition: { StringLike: { 's3:DataAccessPointArn': value } } });
    assert.equal(arn('arn:aws:s3:us-west-2:123456789012:accesspoint/*'), false);
    assert.equal(arn('arn:aws:s3:us-west-2:*:accesspoint/*'), true);
    assert.equal(arn('arn:aws:s3:us-west-2::accesspoint/*'), true);
  });

  it('IfExists, ForAllValues and negated operators do not pin the requester', () => {
    for (const operator of ['StringEqualsIfExists', 'ForAllValues:StringEquals', 'StringNotEquals']) {
      assert.equal(
        isPublic({ ...put, Principal: '*', Condition: { [operator]: { 'aws:SourceVpc': 'vpc-1' } } }),
        true,
        operator,
      );
    }
    assert.equal(
      isPublic({
        ...put,
        Principal: '*',
        Condition: { 'ForAnyValue:StringEquals': { 'aws:SourceVpc': 'vpc-1' } },
      }),
      false,
    );
  });

  it('a condition on another key leaves a grant to everyone public', () => {
    assert.equal(
      isPublic({ ...put, Principal: '*', Condition: { Bool: { 'aws:SecureTransport': 'true' } } }),
      true,
    );
  });

  it('a parsed document can be checked without compiling it', () => {
    const document = parsePolicyDocument(JSON.stringify({ Statement: { ...put, Principal: '*' } }), {
      kind: 'resource',
      sizeLimit: BUCKET_POLICY_SIZE_LIMIT,
    });
    assert.equal(isPublicPolicy(document), true);
  });
});
