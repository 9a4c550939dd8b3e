import {
  ACCESS_KEYS_PER_PRINCIPAL,
  DESCRIPTION_MAX_CHARS,
  GROUP_NAME_MAX_CHARS,
  PAGE_SIZE_DEFAULT,
  PAGE_SIZE_MAX,
  POLICY_NAME_MAX_CHARS,
  PRINCIPAL_TAGS_MAX,
  ROLE_NAME_MAX_CHARS,
  TAG_KEY_MAX_CHARS,
  TAG_VALUE_MAX_CHARS,
  TENANT_ID_MAX_CHARS,
  TENANT_ID_MIN_CHARS,
  TENANT_NAME_MAX_CHARS,
  USER_NAME_MAX_CHARS,
} from '../../domain/iam/limits.ts';
import { MAX_GUARDRAIL_TEXT_BYTES } from '../../domain/guardrails/limits.ts';
import { ADMIN_ERROR_CODES } from './errors.ts';
import {
  ADMIN_PATH_PREFIX,
  ADMIN_ROUTES,
  FEDERATION_ROUTES,
  GUARDRAIL_ROUTES,
  OPENAPI_PATH,
  type AdminRoute,
} from './routes.ts';

/**
 * The OpenAPI 3.1 document of the admin API (https://spec.openapis.org/oas/v3.1.0), generated
 * from the route table so that it describes exactly what the router serves. Schemas are JSON
 * Schema 2020-12, as OpenAPI 3.1 requires.
 */
export function adminOpenApiDocument(): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of [...ADMIN_ROUTES, ...FEDERATION_ROUTES, ...GUARDRAIL_ROUTES]) {
    const path = `${ADMIN_PATH_PREFIX.slice(0, -1)}${route.path}`;
    paths[path] ??= {};
    paths[path][route.method.toLowerCase()] = operationOf(route);
  }
  paths[OPENAPI_PATH] = {
    get: {
      operationId: 'GetOpenApiDocument',
      summary: 'This document',
      tags: ['meta'],
      security: [],
      responses: { '200': { description: 'The OpenAPI document', content: { 'application/json': {} } } },
    },
  };
  return {
    openapi: '3.1.0',
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    info: {
      title: 'Sovra admin API',
      version: '1',
      description:
        'Tenants, users, service accounts, roles, groups, access keys and managed identity policies. ' +
        'Requests are signed with AWS Signature Version 4 for service "sovra" with the same access keys as S3. ' +
        'Root-tenant administrators create tenants and their first administrator; a tenant’s administrators ' +
        'manage their own tenant; any other principal only what its identity policies allow (sovra:<operationId>). ' +
        'Errors are {"code", "message", "requestId"}.',
    },
    security: [{ sigv4: [] }],
    tags: [
      'tenants',
      'users',
      'access keys',
      'roles',
      'groups',
      'policies',
      'identity-providers',
      'explain',
      'buckets',
      'guardrails',
      'meta',
    ].map((name) => ({
      name,
    })),
    paths,
    components: {
      securitySchemes: SECURITY_SCHEMES,
      schemas: { ...SCHEMAS, ...FEDERATION_SCHEMAS, ...GUARDRAIL_SCHEMAS },
      responses: RESPONSES,
    },
  };
}

function operationOf(route: AdminRoute<string>): Record<string, unknown> {
  const parameters: unknown[] = [...route.path.matchAll(/\{(\w+)\}/g)].map((match) => ({
    name: match[1],
    in: 'path',
    required: true,
    schema: { type: 'string' },
  }));
  if (route.paged === true) {
    parameters.push(
      {
        name: 'marker',
        in: 'query',
        required: false,
        description: 'The marker of the previous page’s answer',
        schema: { type: 'string' },
      },
      {
        name: 'maxItems',
        in: 'query',
        required: false,
        schema: { type: 'integer', minimum: 1, maximum: PAGE_SIZE_MAX, default: PAGE_SIZE_DEFAULT },
      },
    );
  }
  const success =
    route.response === null
      ? { description: 'Done' }
      : {
          description:
            route.returnsSecret === true ? 'Done; the secret access key is shown only here' : 'Done',
          content: { 'application/json': { schema: ref(route.response) } },
        };
  return {
    operationId: route.action,
    summary: route.summary,
    tags: [tagOf(route.path)],
    'x-sovra-action': `sovra:${route.action}`,
    ...(parameters.length > 0 ? { parameters } : {}),
    ...(route.body === null
      ? {}
      : {
          requestBody: {
            required: true,
            content: {
              'application/json': { schema: ref(route.body) },
              ...(route.textBody === true
                ? {
                    'text/plain': {
                      schema: {
                        type: 'string',
                        description:
                          'The Cedar text itself: a body whose first non-blank character is not `{` (any Content-Type)',
                      },
                    },
                  }
                : {}),
            },
          },
        }),
    responses: { [String(route.status)]: success, default: { $ref: '#/components/responses/Error' } },
  };
}

function tagOf(path: string): string {
  if (path.includes('access-keys')) return 'access keys';
  return path.split('/')[1] ?? 'meta';
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const text = (maxLength: number, extra: Record<string, unknown> = {}) => ({
  type: 'string',
  minLength: 1,
  maxLength,
  ...extra,
});
const ENTITY_NAME = '^[A-Za-z0-9+=,.@_-]+$';
const time = { type: 'string', format: 'date-time' };
const tags = {
  type: 'object',
  maxProperties: PRINCIPAL_TAGS_MAX,
  propertyNames: { maxLength: TAG_KEY_MAX_CHARS },
  additionalProperties: { type: 'string', maxLength: TAG_VALUE_MAX_CHARS },
};
const document = {
  oneOf: [{ type: 'object' }, { type: 'string' }],
  description: 'An AWS IAM policy document, as a JSON object or its text',
};
const principalSettings = {
  description: { type: 'string', maxLength: DESCRIPTION_MAX_CHARS },
  tags,
  clearance: { type: ['string', 'null'], description: 'A classification level id, e.g. CONFIDENTIAL' },
  compartments: { type: 'array', items: { type: 'string' } },
};
const principal = {
  id: { type: 'string' },
  name: { type: 'string' },
  arn: { type: 'string' },
  description: { type: 'string' },
  tags,
  clearance: { type: ['string', 'null'] },
  compartments: { type: 'array', items: { type: 'string' } },
  createdAt: time,
};
const listOf = (name: string, item: string) => ({
  type: 'object',
  required: [name, 'isTruncated', 'marker'],
  properties: {
    [name]: { type: 'array', items: ref(item) },
    isTruncated: { type: 'boolean' },
    marker: { type: ['string', 'null'], description: 'Pass as `marker` for the next page' },
  },
});
/** Lists of a tenant's entities are paged; a principal's own (groups, attached policies) are not. */
const pagedWhenListed = (name: string, item: string) => ({
  type: 'object',
  required: [name],
  properties: { ...listOf(name, item).properties },
});
const wrap = (name: string, item: string) => ({
  type: 'object',
  required: [name],
  properties: { [name]: ref(item) },
});
const object = (properties: Record<string, unknown>, required: string[] = []) => ({
  type: 'object',
  additionalProperties: false,
  required,
  properties,
});

const SCHEMAS: Record<string, unknown> = {
  Error: object(
    {
      code: { type: 'string', enum: ADMIN_ERROR_CODES.map((e) => e.code) },
      message: { type: 'string' },
      requestId: { type: 'string' },
    },
    ['code', 'message', 'requestId'],
  ),
  Tenant: object({
    id: { type: 'string' },
    name: { type: 'string' },
    arn: { type: 'string' },
    createdAt: time,
  }),
  User: object({
    ...principal,
    kind: { type: 'string', enum: ['user', 'service'] },
    admin: { type: 'boolean', description: 'A tenant administrator' },
  }),
  Role: object({ ...principal, trustPolicy: { type: 'object' } }),
  Group: object({
    id: { type: 'string' },
    name: { type: 'string' },
    arn: { type: 'string' },
    createdAt: time,
  }),
  AccessKey: object({
    accessKeyId: { type: 'string' },
    userName: { type: 'string' },
    status: { type: 'string', enum: ['Active', 'Inactive'] },
    createdAt: time,
    expiresAt: { type: ['string', 'null'], format: 'date-time' },
    expired: { type: 'boolean' },
  }),
  CreatedAccessKey: {
    allOf: [
      ref('AccessKey'),
      { type: 'object', required: ['secretAccessKey'], properties: { secretAccessKey: { type: 'string' } } },
    ],
  },
  Policy: object({
    id: { type: 'string' },
    name: { type: 'string' },
    arn: { type: 'string' },
    description: { type: 'string' },
    createdAt: time,
    updatedAt: time,
    attachmentCount: { type: 'integer' },
    document: { type: 'object' },
  }),
  CreateTenantRequest: object(
    {
      id: text(TENANT_ID_MAX_CHARS, { minLength: TENANT_ID_MIN_CHARS, pattern: '^[a-z][a-z0-9-]*[a-z0-9]$' }),
      name: text(TENANT_NAME_MAX_CHARS),
      adminName: text(USER_NAME_MAX_CHARS, { pattern: ENTITY_NAME, default: 'admin' }),
    },
    ['id', 'name'],
  ),
  CreatedTenant: object(
    { tenant: ref('Tenant'), administrator: ref('User'), accessKey: ref('CreatedAccessKey') },
    ['tenant', 'administrator', 'accessKey'],
  ),
  CreateUserRequest: object(
    {
      name: text(USER_NAME_MAX_CHARS, { pattern: ENTITY_NAME }),
      kind: { type: 'string', enum: ['user', 'service'], default: 'user' },
      admin: { type: 'boolean', default: false },
      ...principalSettings,
    },
    ['name'],
  ),
  UpdateUserRequest: object({
    description: principalSettings.description,
    clearance: principalSettings.clearance,
    compartments: principalSettings.compartments,
    admin: { type: 'boolean' },
  }),
  TagRequest: object({ tags }, ['tags']),
  CreateRoleRequest: object(
    {
      name: text(ROLE_NAME_MAX_CHARS, { pattern: ENTITY_NAME }),
      trustPolicy: document,
      ...principalSettings,
    },
    ['name', 'trustPolicy'],
  ),
  UpdateRoleRequest: object({
    description: principalSettings.description,
    clearance: principalSettings.clearance,
    compartments: principalSettings.compartments,
  }),
  TrustPolicyRequest: object({ trustPolicy: document }, ['trustPolicy']),
  CreateGroupRequest: object({ name: text(GROUP_NAME_MAX_CHARS, { pattern: ENTITY_NAME }) }, ['name']),
  CreateAccessKeyRequest: object({
    expiresAt: {
      type: ['string', 'null'],
      format: 'date-time',
      description: `When the key stops working; at most ${ACCESS_KEYS_PER_PRINCIPAL} keys exist per user`,
    },
  }),
  UpdateAccessKeyRequest: object({ status: { type: 'string', enum: ['Active', 'Inactive'] } }, ['status']),
  CreatePolicyRequest: object(
    {
      name: text(POLICY_NAME_MAX_CHARS, { pattern: ENTITY_NAME }),
      description: principalSettings.description,
      document,
    },
    ['name', 'document'],
  ),
  UpdatePolicyRequest: object({ description: principalSettings.description, document }),
  ExplainRequest: object(
    {
      principal: text(512, {
        description: 'A user, service account or role of your tenant: its name or ARN',
      }),
      action: text(161, { description: 'A policy action, e.g. s3:GetObject' }),
      bucket: text(63, { description: 'A bucket of your tenant; absent for tenant-wide actions' }),
      key: text(1024, { description: 'An object key in the bucket' }),
      sourceIp: { type: 'string', description: 'aws:SourceIp; default 0.0.0.0' },
      secureTransport: { type: 'boolean', default: true, description: 'aws:SecureTransport' },
    },
    ['principal', 'action'],
  ),
  Explanation: wrap('explanation', 'DecisionExplanation'),
  DecisionExplanation: object({
    decision: { type: 'string', enum: ['allow', 'deny'] },
    deniedBy: {
      type: ['object', 'null'],
      description:
        'The layer that decided a denial: iam (the denying statements), guardrails (their @ids) or classification (the rule)',
      properties: {
        source: { type: 'string', enum: ['iam', 'guardrails', 'classification', 'lockbox'] },
        policies: { type: 'array', items: { type: 'string' } },
        message: {
          type: 'string',
          description:
            'The refusal as AWS words it ("User: … is not authorized to perform: …"), naming the layer',
        },
      },
    },
    principal: {
      type: 'object',
      properties: {
        name: { type: 'string' },
        kind: { type: 'string', enum: ['user', 'service', 'role'] },
        arn: { type: ['string', 'null'] },
        clearance: { type: ['string', 'null'] },
        compartments: { type: 'array', items: { type: 'string' } },
      },
    },
    action: { type: 'string' },
    resource: { type: 'string' },
    iam: {
      type: 'object',
      properties: {
        effect: { type: 'string', enum: ['Allow', 'ExplicitDeny', 'ImplicitDeny'] },
        ownerOverride: { type: 'boolean' },
        reason: { type: 'string' },
        statements: {
          type: 'array',
          description: 'Every statement of every identity policy and of the bucket policy, matched or not',
          items: {
            type: 'object',
            properties: {
              source: { type: 'string' },
              statementIndex: { type: 'integer' },
              sid: { type: ['string', 'null'] },
              effect: { type: 'string', enum: ['Allow', 'Deny'] },
              matched: { type: 'boolean' },
              mismatch: { type: ['string', 'null'], description: 'The first element that did not match' },
            },
          },
        },
      },
    },
    guardrails: {
      type: 'object',
      properties: {
        decision: { type: 'string', enum: ['allow', 'deny'] },
        determiningPolicies: {
          type: 'array',
          items: {
            type: 'object',
            properties: { id: { type: 'string' }, text: { type: ['string', 'null'] } },
          },
        },
        errors: {
          type: 'array',
          items: {
            type: 'object',
            properties: { policyId: { type: ['string', 'null'] }, message: { type: 'string' } },
          },
        },
      },
    },
    classification: {
      type: 'object',
      properties: {
        rule: {
          type: ['string', 'null'],
          enum: ['no-read-up', 'no-write-down', 'no-label-above-clearance', null],
        },
        allowed: { type: 'boolean' },
        clearance: { type: 'string' },
        resourceLabel: { type: ['string', 'null'] },
        sourceLabel: { type: ['string', 'null'] },
        reason: { type: 'string' },
      },
    },
  }),
  Bucket: object({
    name: { type: 'string' },
    arn: { type: 'string' },
    tenant: { type: 'string' },
    region: { type: 'string' },
    createdAt: time,
    classification: {
      type: 'string',
      description: 'The label’s classification level id, as a user’s clearance names one, e.g. CONFIDENTIAL',
    },
    compartments: { type: 'array', items: { type: 'string' } },
    label: {
      type: 'string',
      description: 'The label as recorded, in the compact form LEVEL//COMPARTMENT/…; audit records carry it',
    },
    versioning: { type: 'string', enum: ['Unversioned', 'Enabled', 'Suspended'] },
    objectLockEnabled: { type: 'boolean' },
  }),
  TenantResponse: wrap('tenant', 'Tenant'),
  UserResponse: wrap('user', 'User'),
  RoleResponse: wrap('role', 'Role'),
  GroupResponse: wrap('group', 'Group'),
  PolicyResponse: wrap('policy', 'Policy'),
  AccessKeyResponse: wrap('accessKey', 'AccessKey'),
  CreatedAccessKeyResponse: wrap('accessKey', 'CreatedAccessKey'),
  TenantList: listOf('tenants', 'Tenant'),
  UserList: listOf('users', 'User'),
  RoleList: listOf('roles', 'Role'),
  BucketList: listOf('buckets', 'Bucket'),
  BucketResponse: wrap('bucket', 'Bucket'),
  GroupList: pagedWhenListed('groups', 'Group'),
  GroupWithMembers: {
    allOf: [
      listOf('users', 'User'),
      { type: 'object', required: ['group'], properties: { group: ref('Group') } },
    ],
  },
  PolicyList: pagedWhenListed('policies', 'Policy'),
  AccessKeyList: { type: 'object', properties: { accessKeys: { type: 'array', items: ref('AccessKey') } } },
};

const RESPONSES = {
  Error: {
    description: `An error; codes and statuses: ${ADMIN_ERROR_CODES.map((e) => `${e.code} ${e.status}`).join(', ')}`,
    content: { 'application/json': { schema: ref('Error') } },
  },
};

const SECURITY_SCHEMES = {
  sigv4: {
    type: 'apiKey',
    in: 'header',
    name: 'Authorization',
    description:
      'AWS Signature Version 4 (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html), ' +
      'service "sovra", the server’s region, x-amz-content-sha256 the SHA-256 of the body. Presigned URLs are refused.',
  },
};

/** Federation's schemas (docs/reference/sts-federation.md). */
const FEDERATION_SCHEMAS = {
  ClaimRule: {
    type: 'object',
    required: ['claim', 'equals', 'roles'],
    additionalProperties: false,
    properties: {
      claim: { type: 'string', description: 'The claim; dots read nested claims' },
      equals: { type: 'string', description: 'A string claim equal to it, or an array claim containing it' },
      roles: { type: 'array', minItems: 1, items: { type: 'string', pattern: ENTITY_NAME } },
    },
  },
  CreateIdentityProviderRequest: {
    type: 'object',
    required: ['issuer', 'audiences'],
    additionalProperties: false,
    properties: {
      issuer: { type: 'string', format: 'uri', description: 'https, or http on a loopback host' },
      audiences: { type: 'array', minItems: 1, items: { type: 'string' } },
      rules: { type: 'array', items: ref('ClaimRule') },
      clearanceClaim: { type: ['string', 'null'] },
      compartmentsClaim: { type: ['string', 'null'] },
    },
  },
  IdentityProvider: {
    type: 'object',
    properties: {
      arn: { type: 'string' },
      issuer: { type: 'string' },
      audiences: { type: 'array', items: { type: 'string' } },
      rules: { type: 'array', items: ref('ClaimRule') },
      clearanceClaim: { type: ['string', 'null'] },
      compartmentsClaim: { type: ['string', 'null'] },
      createdAt: time,
    },
  },
  IdentityProviderResponse: wrap('identityProvider', 'IdentityProvider'),
  IdentityProviderList: {
    type: 'object',
    properties: { identityProviders: { type: 'array', items: ref('IdentityProvider') } },
  },
  RevokedSessions: {
    type: 'object',
    properties: { revokedSessions: { type: 'integer' }, revokedAt: time },
  },
};

/** The platform guardrails' schemas (docs/reference/cedar-guardrails.md). */
const GUARDRAIL_SCHEMAS = {
  PutGuardrailsRequest: object(
    {
      policies: {
        type: 'string',
        description: `Cedar policies, each with a unique @id, validated against the Sovra schema (at most ${MAX_GUARDRAIL_TEXT_BYTES} bytes)`,
      },
    },
    ['policies'],
  ),
  Guardrails: object(
    {
      policies: { type: 'string', description: 'The active Cedar text' },
      sha256: { type: 'string', pattern: '^[0-9a-f]{64}$', description: 'SHA-256 of the UTF-8 text' },
      version: {
        type: ['integer', 'null'],
        description: 'The stored version (source api); null for the default and file sets',
      },
      source: { type: 'string', enum: ['default', 'file', 'api'] },
      replacedAt: { type: ['string', 'null'], format: 'date-time' },
      replacedBy: {
        oneOf: [
          { type: 'null' },
          object({ principalId: { type: 'string' }, tenantId: { type: 'string' } }, [
            'principalId',
            'tenantId',
          ]),
        ],
      },
      policyIds: { type: 'array', items: { type: 'string' } },
      refusedStoredSet: {
        description:
          'A newer stored set this gateway did not activate because it does not compile; the active set stayed',
        oneOf: [
          { type: 'null' },
          object({ version: { type: 'integer' }, message: { type: 'string' } }, ['version', 'message']),
        ],
      },
    },
    ['policies', 'sha256', 'version', 'source', 'replacedAt', 'replacedBy', 'policyIds', 'refusedStoredSet'],
  ),
  GuardrailsResponse: wrap('guardrails', 'Guardrails'),
};
