import type { FederationAdminAction } from '../../domain/iam/federation-admin.ts';
import type { GuardrailAdminAction } from '../../domain/guardrails/guardrail-administration.ts';
import type { AdminAction } from '../../domain/iam/identity-admin.ts';
import { AdminProtocolError } from './errors.ts';

/** Every admin request path starts here: `_` cannot start a bucket name, so no bucket collides. */
export const ADMIN_PATH_PREFIX = '/_sovra/admin/';
export const OPENAPI_PATH = `${ADMIN_PATH_PREFIX}openapi.json`;

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/**
 * One operation of the admin API. The table below is the single description of the API: the
 * router matches requests against it and the OpenAPI document (openapi.ts) is generated from it,
 * so the two cannot disagree.
 */
export interface AdminRoute<Action extends string = AdminAction> {
  readonly method: HttpMethod;
  /** The path after /_sovra/admin, with `{parameter}` segments. */
  readonly path: string;
  readonly action: Action;
  readonly summary: string;
  /** The request body's schema (openapi.ts components), or null for none. */
  readonly body: string | null;
  readonly status: 200 | 201 | 204;
  /** The response body's schema, or null for 204. */
  readonly response: string | null;
  /** Takes the `marker` and `maxItems` query parameters. */
  readonly paged?: boolean;
  /** Answers with a secret access key: over TLS (or to a loopback peer) only. */
  readonly returnsSecret?: boolean;
  /** Also takes its body as plain text instead of the JSON schema (a body not starting with `{`). */
  readonly textBody?: boolean;
}

const route = <Action extends string = AdminAction>(
  method: HttpMethod,
  path: string,
  action: Action,
  summary: string,
  body: string | null,
  status: 200 | 201 | 204,
  response: string | null,
  extra: { paged?: boolean; returnsSecret?: boolean; textBody?: boolean } = {},
): AdminRoute<Action> => ({ method, path, action, summary, body, status, response, ...extra });

export const ADMIN_ROUTES: readonly AdminRoute[] = [
  route(
    'POST',
    '/tenants',
    'CreateTenant',
    'Create a tenant and its first administrator (root administrators)',
    'CreateTenantRequest',
    201,
    'CreatedTenant',
    { returnsSecret: true },
  ),
  route('GET', '/tenants', 'ListTenants', 'List tenants (root administrators)', null, 200, 'TenantList', {
    paged: true,
  }),
  route(
    'GET',
    '/tenants/{tenantId}',
    'GetTenant',
    'Read a tenant (root administrators, or its own administrators)',
    null,
    200,
    'TenantResponse',
  ),

  route(
    'POST',
    '/users',
    'CreateUser',
    'Create a user or service account',
    'CreateUserRequest',
    201,
    'UserResponse',
  ),
  route('GET', '/users', 'ListUsers', 'List users and service accounts', null, 200, 'UserList', {
    paged: true,
  }),
  route('GET', '/users/{userName}', 'GetUser', 'Read a user', null, 200, 'UserResponse'),
  route(
    'PATCH',
    '/users/{userName}',
    'UpdateUser',
    'Change a user’s description, clearance, compartments or administrator flag',
    'UpdateUserRequest',
    200,
    'UserResponse',
  ),
  route(
    'DELETE',
    '/users/{userName}',
    'DeleteUser',
    'Delete a user without keys, policies or groups',
    null,
    204,
    null,
  ),
  route(
    'POST',
    '/users/{userName}/tags',
    'TagUser',
    'Add or replace tags of a user',
    'TagRequest',
    200,
    'UserResponse',
  ),
  route(
    'DELETE',
    '/users/{userName}/tags/{tagKey}',
    'UntagUser',
    'Remove one tag of a user',
    null,
    200,
    'UserResponse',
  ),
  route(
    'GET',
    '/users/{userName}/groups',
    'ListGroupsForUser',
    'List the groups of a user',
    null,
    200,
    'GroupList',
  ),
  route(
    'POST',
    '/users/{userName}/access-keys',
    'CreateAccessKey',
    'Create an access key; its secret is shown only in this answer',
    'CreateAccessKeyRequest',
    201,
    'CreatedAccessKeyResponse',
    { returnsSecret: true },
  ),
  route(
    'GET',
    '/users/{userName}/access-keys',
    'ListAccessKeys',
    'List a user’s access keys (never their secrets)',
    null,
    200,
    'AccessKeyList',
  ),
  route(
    'PATCH',
    '/users/{userName}/access-keys/{accessKeyId}',
    'UpdateAccessKey',
    'Activate or deactivate an access key (applies at once)',
    'UpdateAccessKeyRequest',
    200,
    'AccessKeyResponse',
  ),
  route(
    'DELETE',
    '/users/{userName}/access-keys/{accessKeyId}',
    'DeleteAccessKey',
    'Delete an access key (applies at once)',
    null,
    204,
    null,
  ),
  route(
    'GET',
    '/users/{userName}/policies',
    'ListAttachedUserPolicies',
    'List the managed policies attached to a user',
    null,
    200,
    'PolicyList',
  ),
  route(
    'PUT',
    '/users/{userName}/policies/{policyName}',
    'AttachUserPolicy',
    'Attach a managed policy to a user',
    null,
    204,
    null,
  ),
  route(
    'DELETE',
    '/users/{userName}/policies/{policyName}',
    'DetachUserPolicy',
    'Detach a managed policy from a user',
    null,
    204,
    null,
  ),

  route(
    'POST',
    '/roles',
    'CreateRole',
    'Create a role with its trust policy',
    'CreateRoleRequest',
    201,
    'RoleResponse',
  ),
  route('GET', '/roles', 'ListRoles', 'List roles', null, 200, 'RoleList', { paged: true }),
  route('GET', '/roles/{roleName}', 'GetRole', 'Read a role', null, 200, 'RoleResponse'),
  route(
    'PATCH',
    '/roles/{roleName}',
    'UpdateRole',
    'Change a role’s description, clearance or compartments',
    'UpdateRoleRequest',
    200,
    'RoleResponse',
  ),
  route('DELETE', '/roles/{roleName}', 'DeleteRole', 'Delete a role without policies', null, 204, null),
  route(
    'PUT',
    '/roles/{roleName}/trust-policy',
    'UpdateAssumeRolePolicy',
    'Replace a role’s trust policy',
    'TrustPolicyRequest',
    200,
    'RoleResponse',
  ),
  route(
    'POST',
    '/roles/{roleName}/tags',
    'TagRole',
    'Add or replace tags of a role',
    'TagRequest',
    200,
    'RoleResponse',
  ),
  route(
    'DELETE',
    '/roles/{roleName}/tags/{tagKey}',
    'UntagRole',
    'Remove one tag of a role',
    null,
    200,
    'RoleResponse',
  ),
  route(
    'GET',
    '/roles/{roleName}/policies',
    'ListAttachedRolePolicies',
    'List the managed policies attached to a role',
    null,
    200,
    'PolicyList',
  ),
  route(
    'PUT',
    '/roles/{roleName}/policies/{policyName}',
    'AttachRolePolicy',
    'Attach a managed policy to a role',
    null,
    204,
    null,
  ),
  route(
    'DELETE',
    '/roles/{roleName}/policies/{policyName}',
    'DetachRolePolicy',
    'Detach a managed policy from a role',
    null,
    204,
    null,
  ),

  route(
    'POST',
    '/groups',
    'CreateGroup',
    'Create a group of users',
    'CreateGroupRequest',
    201,
    'GroupResponse',
  ),
  route('GET', '/groups', 'ListGroups', 'List groups', null, 200, 'GroupList', { paged: true }),
  route(
    'GET',
    '/groups/{groupName}',
    'GetGroup',
    'Read a group and a page of its members',
    null,
    200,
    'GroupWithMembers',
    { paged: true },
  ),
  route(
    'DELETE',
    '/groups/{groupName}',
    'DeleteGroup',
    'Delete a group without members or policies',
    null,
    204,
    null,
  ),
  route(
    'PUT',
    '/groups/{groupName}/members/{userName}',
    'AddUserToGroup',
    'Add a user to a group',
    null,
    204,
    null,
  ),
  route(
    'DELETE',
    '/groups/{groupName}/members/{userName}',
    'RemoveUserFromGroup',
    'Remove a user from a group',
    null,
    204,
    null,
  ),
  route(
    'GET',
    '/groups/{groupName}/policies',
    'ListAttachedGroupPolicies',
    'List the managed policies attached to a group',
    null,
    200,
    'PolicyList',
  ),
  route(
    'PUT',
    '/groups/{groupName}/policies/{policyName}',
    'AttachGroupPolicy',
    'Attach a managed policy to a group',
    null,
    204,
    null,
  ),
  route(
    'DELETE',
    '/groups/{groupName}/policies/{policyName}',
    'DetachGroupPolicy',
    'Detach a managed policy from a group',
    null,
    204,
    null,
  ),

  route(
    'POST',
    '/policies',
    'CreatePolicy',
    'Create a managed identity policy',
    'CreatePolicyRequest',
    201,
    'PolicyResponse',
  ),
  route(
    'GET',
    '/policies',
    'ListPolicies',
    'List managed policies (without documents)',
    null,
    200,
    'PolicyList',
    { paged: true },
  ),
  route(
    'GET',
    '/policies/{policyName}',
    'GetPolicy',
    'Read a managed policy with its document',
    null,
    200,
    'PolicyResponse',
  ),
  route(
    'PUT',
    '/policies/{policyName}',
    'UpdatePolicy',
    'Replace a managed policy’s document or description',
    'UpdatePolicyRequest',
    200,
    'PolicyResponse',
  ),
  route(
    'DELETE',
    '/policies/{policyName}',
    'DeletePolicy',
    'Delete a managed policy attached to nothing',
    null,
    204,
    null,
  ),

  route(
    'POST',
    '/explain',
    'ExplainDecision',
    'Explain the S3 decision for a principal, action, resource and context (tenant administrators)',
    'ExplainRequest',
    200,
    'Explanation',
  ),

  // Read only: buckets are made and changed through S3; here a tenant's administrators see their
  // labels beside the principals' clearances (docs/reference/classification.md).
  route(
    'GET',
    '/buckets',
    'ListBuckets',
    'List the tenant’s buckets with their labels (tenant administrators)',
    null,
    200,
    'BucketList',
    { paged: true },
  ),
  route(
    'GET',
    '/buckets/{bucketName}',
    'GetBucket',
    'Read a bucket of the tenant with its label (tenant administrators)',
    null,
    200,
    'BucketResponse',
  ),
];

/**
 * Federation (docs/reference/sts-federation.md): a tenant's OpenID Connect identity providers,
 * named in paths by their percent-encoded issuer URL, and revocation of a role's sessions. Served
 * by the federation endpoint (protocols/sts/federation-admin-endpoint.ts) under the same prefix,
 * authentication and error table.
 */
export const FEDERATION_ROUTES: readonly AdminRoute<FederationAdminAction>[] = [
  route<FederationAdminAction>(
    'POST',
    '/identity-providers',
    'CreateOpenIDConnectProvider',
    'Register an OpenID Connect identity provider with its client ids and claim mapping rules',
    'CreateIdentityProviderRequest',
    201,
    'IdentityProviderResponse',
  ),
  route<FederationAdminAction>(
    'GET',
    '/identity-providers',
    'ListOpenIDConnectProviders',
    'List the tenant’s OpenID Connect identity providers',
    null,
    200,
    'IdentityProviderList',
  ),
  route<FederationAdminAction>(
    'GET',
    '/identity-providers/{issuer}',
    'GetOpenIDConnectProvider',
    'Read an identity provider (the issuer URL percent-encoded as one path segment)',
    null,
    200,
    'IdentityProviderResponse',
  ),
  route<FederationAdminAction>(
    'DELETE',
    '/identity-providers/{issuer}',
    'DeleteOpenIDConnectProvider',
    'Delete an identity provider (sessions already issued stay until they expire or are revoked)',
    null,
    204,
    null,
  ),
  route<FederationAdminAction>(
    'POST',
    '/roles/{roleName}/revoke-sessions',
    'RevokeRoleSessions',
    'Revoke every session of the role issued until now (applies at once)',
    null,
    200,
    'RevokedSessions',
  ),
];

/**
 * The platform guardrails (docs/reference/cedar-guardrails.md): root-tenant administrators read and
 * replace the Cedar set that bounds every tenant. Served by the guardrails endpoint
 * (protocols/admin/guardrails-endpoint.ts) under the same prefix, authentication and error table.
 */
export const GUARDRAIL_ROUTES: readonly AdminRoute<GuardrailAdminAction>[] = [
  route<GuardrailAdminAction>(
    'GET',
    '/guardrails',
    'GetGuardrails',
    'Read the active platform guardrails: Cedar text, version, SHA-256, source (root administrators)',
    null,
    200,
    'GuardrailsResponse',
  ),
  route<GuardrailAdminAction>(
    'PUT',
    '/guardrails',
    'PutGuardrails',
    'Replace the platform guardrails on every gateway (root administrators); a set that does not validate is refused with InvalidGuardrails and the previous set stays active',
    'PutGuardrailsRequest',
    200,
    'GuardrailsResponse',
    { textBody: true },
  ),
];

/** Whether a path under ADMIN_PATH_PREFIX belongs to the guardrails endpoint (before any parsing). */
export function isGuardrailsAdminPath(path: string): boolean {
  const end = path.indexOf('?');
  return (end === -1 ? path : path.slice(0, end)) === `${ADMIN_PATH_PREFIX}guardrails`;
}

/** The guardrails route of a request path: MethodNotAllowed (with the allowed methods) for other methods. */
export function matchGuardrailRoute(method: string, path: string): MatchedRoute<GuardrailAdminAction> {
  const matched = matchRoute(GUARDRAIL_ROUTES, method, path);
  if (matched === null)
    throw new AdminProtocolError('NotFound', `no admin API operation at ${path.slice(0, 256)}`);
  return matched;
}

/** The federation route of a request path, or null when the path is not a federation path. */
export function matchFederationRoute(
  method: string,
  path: string,
): MatchedRoute<FederationAdminAction> | null {
  return matchRoute(FEDERATION_ROUTES, method, path);
}

/** Whether a path under ADMIN_PATH_PREFIX belongs to the federation endpoint (before any parsing). */
export function isFederationAdminPath(path: string): boolean {
  const rest = path.startsWith(ADMIN_PATH_PREFIX) ? path.slice(ADMIN_PATH_PREFIX.length) : '';
  const end = rest.indexOf('?');
  const bare = end === -1 ? rest : rest.slice(0, end);
  return (
    bare === 'identity-providers' ||
    bare.startsWith('identity-providers/') ||
    /^roles\/[^/]+\/revoke-sessions$/.test(bare)
  );
}

export interface MatchedRoute<Action extends string = AdminAction> {
  route: AdminRoute<Action>;
  /** Path parameters, percent-decoded. */
  params: Readonly<Record<string, string>>;
}

/**
 * The route of a request path (without the query) under ADMIN_PATH_PREFIX: NotFound when no path
 * matches, MethodNotAllowed (with the allowed methods) when the path exists for other methods.
 */
export function matchAdminRoute(method: string, path: string): MatchedRoute {
  const matched = matchRoute(ADMIN_ROUTES, method, path);
  if (matched === null) {
    throw new AdminProtocolError(
      'NotFound',
      `no admin API operation at ${path.slice(0, 256)}; see ${OPENAPI_PATH}`,
    );
  }
  return matched;
}

/**
 * The route of `routes` for a request path, null when no path matches; MethodNotAllowed (with
 * the allowed methods) when the path exists for other methods.
 */
function matchRoute<Action extends string>(
  routes: readonly AdminRoute<Action>[],
  method: string,
  path: string,
): MatchedRoute<Action> | null {
  const segments = splitPath(path);
  const allowed: HttpMethod[] = [];
  for (const candidate of routes) {
    const params = matchPath(candidate.path, segments);
    if (params === null) continue;
    if (candidate.method === method) return { route: candidate, params };
    allowed.push(candidate.method);
  }
  if (allowed.length > 0) {
    throw new AdminProtocolError('MethodNotAllowed', `${path} accepts ${allowed.join(', ')}`, {
      allow: allowed.join(', '),
    });
  }
  return null;
}

function splitPath(path: string): string[] {
  const rest = path.startsWith(ADMIN_PATH_PREFIX) ? path.slice(ADMIN_PATH_PREFIX.length) : '';
  return rest.split('/').map((segment) => {
    try {
      return decodeURIComponent(segment);
    } catch {
      throw new AdminProtocolError('NotFound', 'the request path is not valid percent-encoded UTF-8');
    }
  });
}

function matchPath(template: string, segments: readonly string[]): Record<string, string> | null {
  const parts = template.slice(1).split('/');
  if (parts.length !== segments.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    const segment = segments[i]!;
    if (part.startsWith('{')) {
      if (segment === '') return null;
      params[part.slice(1, -1)] = segment;
    } else if (part !== segment) {
      return null;
    }
  }
  return params;
}
