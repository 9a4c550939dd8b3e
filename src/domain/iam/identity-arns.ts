import type { Principal } from './types.ts';

/**
 * ARNs of identity entities, in AWS's shape with the tenant id where AWS has the account id
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html#identifiers-arns),
 * so that policies written for AWS name Sovra's entities the same way. Service accounts are users.
 */
export function tenantArn(tenantId: string): string {
  return `arn:aws:iam::${tenantId}:root`;
}

export function userArn(tenantId: string, name: string): string {
  return `arn:aws:iam::${tenantId}:user/${name}`;
}

export function roleArn(tenantId: string, name: string): string {
  return `arn:aws:iam::${tenantId}:role/${name}`;
}

export function groupArn(tenantId: string, name: string): string {
  return `arn:aws:iam::${tenantId}:group/${name}`;
}

export function policyArn(tenantId: string, name: string): string {
  return `arn:aws:iam::${tenantId}:policy/${name}`;
}

/** The ARN a principal is known by in policies (aws:PrincipalArn). */
export function principalArn(principal: Pick<Principal, 'tenantId' | 'kind' | 'name'>): string {
  return principal.kind === 'role'
    ? roleArn(principal.tenantId, principal.name)
    : userArn(principal.tenantId, principal.name);
}
