import type { LabelledBucket } from '../../domain/iam/bucket-administration.ts';
import type { Caller } from '../../domain/iam/caller.ts';
import { providerArn, type IdentityProviderRecord } from '../../domain/iam/federation.ts';
import type { FederationAdminAction, FederationAdministration } from '../../domain/iam/federation-admin.ts';
import {
  groupArn,
  policyArn,
  principalArn,
  roleArn,
  tenantArn,
  userArn,
} from '../../domain/iam/identity-arns.ts';
import type {
  AdminAction,
  IdentityAdministration,
  IssuedAccessKey,
  Page,
  PolicyHolder,
} from '../../domain/iam/identity-admin.ts';
import type {
  AccessKeyRecord,
  GroupRecord,
  ManagedPolicyRecord,
  PrincipalRecord,
  Tenant,
} from '../../domain/iam/types.ts';
import type { DecisionExplanation } from '../../domain/iam/decision-explainer.ts';
import { s3ResourceArn } from '../../domain/iam/policy/index.ts';
import { assertNever } from '../../platform/errors.ts';
import { AdminProtocolError } from './errors.ts';
import { pageRequestOf, type RequestFields } from './request-fields.ts';

/** One parsed admin request, ready for the domain. */
export interface AdminCall {
  caller: Caller;
  /** Path parameters of the matched route. */
  params: Readonly<Record<string, string>>;
  query: URLSearchParams;
  fields: RequestFields;
  nowMs: number;
  /**
   * Filled before the domain is called, so that refusals are recorded too: the tenant whose
   * entities the request reads or changes and the ARN of the entity; the label of the data it
   * reads (GetBucket) once known.
   */
  target: { tenantId: string | null; resource: string | null; classification: string | null };
}

/**
 * Parses the request into the domain call of `action`, calls it and renders the answer (the JSON
 * body; null for 204). No rules here: the domain (IdentityAdministration) checks and decides.
 */
export async function performAdminAction(
  admin: IdentityAdministration,
  action: AdminAction,
  call: AdminCall,
): Promise<unknown> {
  const { caller, fields } = call;
  const tenant = caller.tenantId;
  const param = (name: string) => call.params[name] ?? '';
  const page = () => pageRequestOf(call.query);
  const at = (resource: string, tenantId = tenant) => {
    call.target.tenantId = tenantId;
    call.target.resource = resource;
  };
  switch (action) {
    // ---- tenants
    case 'CreateTenant': {
      const input = {
        id: fields.string('id'),
        name: fields.string('name'),
        adminName: fields.optionalString('adminName') ?? 'admin',
      };
      fields.done();
      at(tenantArn(input.id), input.id);
      const created = await admin.createTenant(caller, input);
      return {
        tenant: tenantView(created.tenant),
        administrator: userView(created.administrator),
        accessKey: issuedKeyView(created.accessKey, created.administrator.name, call.nowMs),
      };
    }
    case 'ListTenants':
      at(tenantArn('*'));
      return listView('tenants', await admin.listTenants(caller, page()), tenantView);
    case 'GetTenant':
      at(tenantArn(param('tenantId')), param('tenantId'));
      return { tenant: tenantView(await admin.getTenant(caller, param('tenantId'))) };

    // ---- users
    case 'CreateUser': {
      const input = {
        name: fields.string('name'),
        kind: userKindOf(fields.optionalString('kind')),
        admin: fields.optionalBoolean('admin'),
        ...principalSettings(fields),
      };
      fields.done();
      at(userArn(tenant, input.name));
      return { user: userView(await admin.createUser(caller, input)) };
    }
    case 'ListUsers':
      at(userArn(tenant, '*'));
      return listView('users', await admin.listUsers(caller, page()), userView);
    case 'GetUser':
      at(userArn(tenant, param('userName')));
      return { user: userView(await admin.getUser(caller, param('userName'))) };
    case 'UpdateUser': {
      const changes = { ...principalChanges(fields), admin: fields.optionalBoolean('admin') };
      fields.done();
      at(userArn(tenant, param('userName')));
      return { user: userView(await admin.updateUser(caller, param('userName'), changes)) };
    }
    case 'DeleteUser':
      at(userArn(tenant, param('userName')));
      await admin.deleteUser(caller, param('userName'));
      return null;
    case 'TagUser': {
      const tags = requiredTags(fields);
      at(userArn(tenant, param('userName')));
      return { user: userView(await admin.tagUser(caller, param('userName'), tags)) };
    }
    case 'UntagUser':
      at(userArn(tenant, param('userName')));
      return { user: userView(await admin.untagUser(caller, param('userName'), param('tagKey'))) };
    case 'ListGroupsForUser':
      at(userArn(tenant, param('userName')));
      return { groups: (await admin.listGroupsForUser(caller, param('userName'))).map(groupView) };

    // ---- access keys
    case 'CreateAccessKey': {
      const expiresAt = fields.optionalTime('expiresAt');
      fields.done();
      at(userArn(tenant, param('userName')));
      const issued = await admin.createAccessKey(caller, param('userName'), expiresAt);
      return { accessKey: issuedKeyView(issued, param('userName'), call.nowMs) };
    }
    case 'ListAccessKeys': {
      at(userArn(tenant, param('userName')));
      const keys = await admin.listAccessKeys(caller, param('userName'));
      return { accessKeys: keys.map((key) => accessKeyView(key, param('userName'), call.nowMs)) };
    }
    case 'UpdateAccessKey': {
      const status = fields.string('status');
      fields.done();
      if (status !== 'Active' && status !== 'Inactive')
        throw invalid('status: must be "Active" or "Inactive"');
      at(userArn(tenant, param('userName')));
      const key = await admin.updateAccessKey(caller, param('userName'), param('accessKeyId'), status);
      return { accessKey: accessKeyView(key, param('userName'), call.nowMs) };
    }
    case 'DeleteAccessKey':
      at(userArn(tenant, param('userName')));
      await admin.deleteAccessKey(caller, param('userName'), param('accessKeyId'));
      return null;

    // ---- roles
    case 'CreateRole': {
      const input = {
        name: fields.string('name'),
        trustPolicy: fields.policyDocument('trustPolicy'),
        ...principalSettings(fields),
      };
      fields.done();
      at(roleArn(tenant, input.name));
      return { role: roleView(await admin.createRole(caller, input)) };
    }
    case 'ListRoles':
      at(roleArn(tenant, '*'));
      return listView('roles', await admin.listRoles(caller, page()), roleView);
    case 'GetRole':
      at(roleArn(tenant, param('roleName')));
      return { role: roleView(await admin.getRole(caller, param('roleName'))) };
    case 'UpdateRole': {
      const changes = principalChanges(fields);
      fields.done();
      at(roleArn(tenant, param('roleName')));
      return { role: roleView(await admin.updateRole(caller, param('roleName'), changes)) };
    }
    case 'UpdateAssumeRolePolicy': {
      const trustPolicy = fields.policyDocument('trustPolicy');
      fields.done();
      at(roleArn(tenant, param('roleName')));
      return { role: roleView(await admin.updateAssumeRolePolicy(caller, param('roleName'), trustPolicy)) };
    }
    case 'DeleteRole':
      at(roleArn(tenant, param('roleName')));
      await admin.deleteRole(caller, param('roleName'));
      return null;
    case 'TagRole': {
      const tags = requiredTags(fields);
      at(roleArn(tenant, param('roleName')));
      return { role: roleView(await admin.tagRole(caller, param('roleName'), tags)) };
    }
    case 'UntagRole':
      at(roleArn(tenant, param('roleName')));
      return { role: roleView(await admin.untagRole(caller, param('roleName'), param('tagKey'))) };

    // ---- groups
    case 'CreateGroup': {
      const name = fields.string('name');
      fields.done();
      at(groupArn(tenant, name));
      return { group: groupView(await admin.createGroup(caller, name)) };
    }
    case 'ListGroups':
      at(groupArn(tenant, '*'));
      return listView('groups', await admin.listGroups(caller, page()), groupView);
    case 'GetGroup': {
      at(groupArn(tenant, param('groupName')));
      const { group, members } = await admin.getGroup(caller, param('groupName'), page());
      return { group: groupView(group), ...listView('users', members, userView) };
    }
    case 'DeleteGroup':
      at(groupArn(tenant, param('groupName')));
      await admin.deleteGroup(caller, param('groupName'));
      return null;
    case 'AddUserToGroup':
      at(groupArn(tenant, param('groupName')));
      await admin.addUserToGroup(caller, param('groupName'), param('userName'));
      return null;
    case 'RemoveUserFromGroup':
      at(groupArn(tenant, param('groupName')));
      await admin.removeUserFromGroup(caller, param('groupName'), param('userName'));
      return null;

    // ---- managed policies
    case 'CreatePolicy': {
      const input = {
        name: fields.string('name'),
        description: fields.optionalString('description'),
        document: fields.policyDocument('document'),
      };
      fields.done();
      at(policyArn(tenant, input.name));
      return { policy: policyView(await admin.createPolicy(caller, input), true, 0) };
    }
    case 'ListPolicies':
      at(policyArn(tenant, '*'));
      return listView('policies', await admin.listPolicies(caller, page()), (p) => policyView(p, false));
    case 'GetPolicy': {
      at(policyArn(tenant, param('policyName')));
      const { policy, attachmentCount } = await admin.getPolicy(caller, param('policyName'));
      return { policy: policyView(policy, true, attachmentCount) };
    }
    case 'UpdatePolicy': {
      const changes = {
        description: fields.optionalString('description'),
        document: fields.optionalPolicyDocument('document'),
      };
      fields.done();
      at(policyArn(tenant, param('policyName')));
      return { policy: policyView(await admin.updatePolicy(caller, param('policyName'), changes), true) };
    }
    case 'DeletePolicy':
      at(policyArn(tenant, param('policyName')));
      await admin.deletePolicy(caller, param('policyName'));
      return null;

    // ---- attachments
    case 'AttachUserPolicy':
    case 'AttachRolePolicy':
    case 'AttachGroupPolicy': {
      const holder = holderOf(action, call.params);
      at(holderArn(tenant, holder));
      await admin.attachPolicy(caller, holder, param('policyName'));
      return null;
    }
    case 'DetachUserPolicy':
    case 'DetachRolePolicy':
    case 'DetachGroupPolicy': {
      const holder = holderOf(action, call.params);
      at(holderArn(tenant, holder));
      await admin.detachPolicy(caller, holder, param('policyName'));
      return null;
    }
    case 'ListAttachedUserPolicies':
    case 'ListAttachedRolePolicies':
    case 'ListAttachedGroupPolicies': {
      const holder = holderOf(action, call.params);
      at(holderArn(tenant, holder));
      return {
        policies: (await admin.listAttachedPolicies(caller, holder)).map((p) => policyView(p, false)),
      };
    }

    // ---- explanations
    case 'ExplainDecision': {
      const request = {
        principal: fields.string('principal'),
        action: fields.string('action'),
        bucket: fields.optionalString('bucket'),
        key: fields.optionalString('key'),
        sourceIp: fields.optionalString('sourceIp'),
        secureTransport: fields.optionalBoolean('secureTransport'),
      };
      fields.done();
      at(tenantArn(tenant));
      return { explanation: explanationView(await admin.explainDecision(caller, request)) };
    }

    // ---- buckets (read only)
    case 'ListBuckets':
      at(s3ResourceArn(null, null));
      return listView('buckets', await admin.listBuckets(caller, page()), bucketView);
    case 'GetBucket': {
      at(s3ResourceArn(param('bucketName'), null));
      const bucket = await admin.getBucket(caller, param('bucketName'));
      // The record of a bucket read carries its label, as the S3 records of its data do.
      call.target.classification = bucket.label;
      return { bucket: bucketView(bucket) };
    }
    default:
      return assertNever(action, 'admin action');
  }
}

function principalSettings(fields: RequestFields) {
  return {
    description: fields.optionalString('description'),
    tags: fields.optionalStringMap('tags'),
    clearance: fields.nullableString('clearance'),
    compartments: fields.optionalStringArray('compartments'),
  };
}

function principalChanges(fields: RequestFields) {
  return {
    description: fields.optionalString('description'),
    clearance: fields.nullableString('clearance'),
    compartments: fields.optionalStringArray('compartments'),
  };
}

function userKindOf(kind: string | undefined): 'user' | 'service' {
  if (kind === undefined || kind === 'user') return 'user';
  if (kind === 'service') return 'service';
  throw invalid('kind: must be "user" or "service"');
}

function requiredTags(fields: RequestFields): Record<string, string> {
  const tags = fields.optionalStringMap('tags');
  fields.done();
  if (tags === undefined) throw invalid('tags: an object of tag keys and values is required');
  return tags;
}

function holderOf(action: AdminAction, params: Readonly<Record<string, string>>): PolicyHolder {
  if (action.includes('Group')) return { namespace: 'group', name: params.groupName ?? '' };
  if (action.includes('Role')) return { namespace: 'role', name: params.roleName ?? '' };
  return { namespace: 'user', name: params.userName ?? '' };
}

function holderArn(tenantId: string, holder: PolicyHolder): string {
  switch (holder.namespace) {
    case 'user':
      return userArn(tenantId, holder.name);
    case 'role':
      return roleArn(tenantId, holder.name);
    case 'group':
      return groupArn(tenantId, holder.name);
    default:
      return assertNever(holder.namespace, 'policy holder');
  }
}

function invalid(message: string): AdminProtocolError {
  return new AdminProtocolError('ValidationError', message);
}

// ---- views: the JSON shapes of the OpenAPI document's schemas ---------------------------------------

function listView<T>(name: string, page: Page<T>, view: (item: T) => unknown) {
  return { [name]: page.items.map(view), isTruncated: page.isTruncated, marker: page.marker };
}

function tenantView(tenant: Tenant) {
  return {
    id: tenant.id,
    name: tenant.name,
    arn: tenantArn(tenant.id),
    createdAt: tenant.createdAt.toISOString(),
  };
}

function principalView(principal: PrincipalRecord) {
  return {
    id: principal.id,
    name: principal.name,
    arn: principalArn(principal),
    description: principal.description,
    tags: principal.tags,
    clearance: principal.clearance,
    compartments: principal.compartments,
    createdAt: principal.createdAt.toISOString(),
  };
}

function userView(user: PrincipalRecord) {
  return { ...principalView(user), kind: user.kind, admin: user.isTenantAdmin };
}

function roleView(role: PrincipalRecord) {
  return {
    ...principalView(role),
    trustPolicy: role.trustPolicy === null ? null : documentView(role.trustPolicy),
  };
}

function groupView(group: GroupRecord) {
  return {
    id: group.id,
    name: group.name,
    arn: groupArn(group.tenantId, group.name),
    createdAt: group.createdAt.toISOString(),
  };
}

function accessKeyView(key: AccessKeyRecord, userName: string, nowMs: number) {
  return {
    accessKeyId: key.accessKeyId,
    userName,
    status: key.status,
    createdAt: key.createdAt.toISOString(),
    expiresAt: key.expiresAt === null ? null : key.expiresAt.toISOString(),
    expired: key.expiresAt !== null && key.expiresAt.getTime() <= nowMs,
  };
}

function issuedKeyView(issued: IssuedAccessKey, userName: string, nowMs: number) {
  return { ...accessKeyView(issued.key, userName, nowMs), secretAccessKey: issued.secretAccessKey };
}

function policyView(policy: ManagedPolicyRecord, withDocument: boolean, attachmentCount?: number) {
  return {
    id: policy.id,
    name: policy.name,
    arn: policyArn(policy.tenantId, policy.name),
    description: policy.description,
    createdAt: policy.createdAt.toISOString(),
    updatedAt: policy.updatedAt.toISOString(),
    ...(attachmentCount === undefined ? {} : { attachmentCount }),
    ...(withDocument ? { document: documentView(policy.document) } : {}),
  };
}

/** The label as users' clearances are shown: a level id and compartment ids of the same scheme. */
function bucketView({ bucket, label, level, compartments }: LabelledBucket) {
  return {
    name: bucket.name,
    arn: s3ResourceArn(bucket.name, null),
    tenant: bucket.tenantId,
    region: bucket.region,
    createdAt: bucket.createdAt.toISOString(),
    classification: level,
    compartments,
    label,
    versioning: bucket.versioning,
    objectLockEnabled: bucket.objectLockEnabled,
  };
}

/** The explanation as the Explanation schema has it: every layer, every statement. */
function explanationView(explanation: DecisionExplanation) {
  return {
    decision: explanation.decision,
    deniedBy: explanation.denial,
    principal: { ...explanation.principal, arn: explanation.principalArn },
    action: explanation.action,
    resource: explanation.resourceArn,
    iam: {
      effect: explanation.iam.effect,
      ownerOverride: explanation.iam.ownerOverride,
      reason: explanation.iam.reason,
      statements: explanation.iam.statements.map((statement) => ({
        source: statement.source,
        statementIndex: statement.statementIndex,
        sid: statement.sid,
        effect: statement.effect,
        matched: statement.matched,
        mismatch: statement.mismatch,
      })),
    },
    guardrails: {
      decision: explanation.guardrails.decision,
      determiningPolicies: explanation.guardrails.determiningPolicies,
      errors: explanation.guardrails.errors.map((error) => ({
        policyId: error.policyId,
        message: error.message,
      })),
    },
    classification: explanation.classification,
  };
}

/** Stored documents were validated as JSON when written; they are answered as JSON values. */
function documentView(text: string): unknown {
  return JSON.parse(text);
}

// ---- federation (identity providers, role sessions) --------------------------------------------

/** One parsed federation request: the JSON body as an object (rules are nested documents). */
export interface FederationCall {
  caller: Caller;
  params: Readonly<Record<string, string>>;
  body: Readonly<Record<string, unknown>>;
  target: { tenantId: string | null; resource: string | null };
}

const PROVIDER_MEMBERS = new Set(['issuer', 'audiences', 'rules', 'clearanceClaim', 'compartmentsClaim']);

/** Parses a federation request into its domain call (FederationAdministration) and renders the answer. */
export async function performFederationAction(
  federation: FederationAdministration,
  action: FederationAdminAction,
  call: FederationCall,
): Promise<unknown> {
  const { caller, body } = call;
  const tenant = caller.tenantId;
  const at = (resource: string) => {
    call.target.tenantId = tenant;
    call.target.resource = resource;
  };
  const issuer = () => call.params.issuer ?? '';
  switch (action) {
    case 'CreateOpenIDConnectProvider': {
      for (const name of Object.keys(body)) {
        if (!PROVIDER_MEMBERS.has(name)) {
          throw new AdminProtocolError('ValidationError', `unknown member "${name.slice(0, 64)}"`);
        }
      }
      at(providerArn(tenant, typeof body.issuer === 'string' ? body.issuer : ''));
      const provider = await federation.createIdentityProvider(caller, {
        issuer: body.issuer,
        audiences: body.audiences,
        rules: body.rules,
        clearanceClaim: body.clearanceClaim,
        compartmentsClaim: body.compartmentsClaim,
      });
      return { identityProvider: identityProviderView(provider) };
    }
    case 'ListOpenIDConnectProviders':
      noBody(body);
      at(providerArn(tenant, '*'));
      return {
        identityProviders: (await federation.listIdentityProviders(caller)).map(identityProviderView),
      };
    case 'GetOpenIDConnectProvider':
      noBody(body);
      at(providerArn(tenant, issuer()));
      return {
        identityProvider: identityProviderView(await federation.getIdentityProvider(caller, issuer())),
      };
    case 'DeleteOpenIDConnectProvider':
      noBody(body);
      at(providerArn(tenant, issuer()));
      await federation.deleteIdentityProvider(caller, issuer());
      return null;
    case 'RevokeRoleSessions': {
      noBody(body);
      const roleName = call.params.roleName ?? '';
      at(roleArn(tenant, roleName));
      const revoked = await federation.revokeRoleSessions(caller, roleName);
      return { revokedSessions: revoked.revokedSessions, revokedAt: revoked.revokedAt.toISOString() };
    }
    default:
      return assertNever(action, 'federation action');
  }
}

function noBody(body: Readonly<Record<string, unknown>>): void {
  const [first] = Object.keys(body);
  if (first !== undefined)
    throw new AdminProtocolError('ValidationError', `unknown member "${first.slice(0, 64)}"`);
}

function identityProviderView(provider: IdentityProviderRecord) {
  return {
    arn: providerArn(provider.tenantId, provider.issuer),
    issuer: provider.issuer,
    audiences: provider.audiences,
    rules: provider.mapping.rules,
    clearanceClaim: provider.mapping.clearanceClaim,
    compartmentsClaim: provider.mapping.compartmentsClaim,
    createdAt: provider.createdAt.toISOString(),
  };
}
