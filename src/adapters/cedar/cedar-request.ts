import type { Context, EntityJson, TypeAndId } from '@cedar-policy/cedar-wasm/nodejs';
import type { SecurityLabel } from '../../domain/classification/label.ts';
import type {
  GuardrailPrincipal,
  GuardrailRequest,
  GuardrailResource,
  LabelledResourceFacts,
  PrincipalFacts,
} from '../../domain/guardrails/types.ts';
import { assertNever } from '../../platform/errors.ts';

/**
 * A guardrail request as Cedar sees it (the JSON forms of
 * https://docs.cedarpolicy.com/auth/entities-syntax.html): the principal and resource entities
 * with the attributes of sovra.cedarschema, and the RequestContext record. Only the two entities
 * of the request are supplied; tenants are referenced, never loaded, so a policy compares them
 * but reads no attribute of theirs.
 */
export interface CedarRequest {
  principal: TypeAndId;
  action: TypeAndId;
  resource: TypeAndId;
  context: Context;
  entities: EntityJson[];
}

export const NAMESPACE = 'Sovra';
export const ACTION_TYPE = `${NAMESPACE}::Action`;

export function cedarRequestOf(request: GuardrailRequest): CedarRequest {
  const principal = principalEntity(request.principal);
  const resource = resourceEntity(request.resource);
  return {
    principal: principal.uid,
    action: { type: ACTION_TYPE, id: request.action },
    resource: resource.uid,
    context: contextRecord(request),
    entities: principal.entity === null ? [resource.entity] : [principal.entity, resource.entity],
  };
}

/** The Cedar entity type of a principal kind (`Sovra::User`, …). */
export function principalType(principal: GuardrailPrincipal): string {
  switch (principal.kind) {
    case 'anonymous':
      return `${NAMESPACE}::Anonymous`;
    case 'user':
      return `${NAMESPACE}::User`;
    case 'serviceAccount':
      return `${NAMESPACE}::ServiceAccount`;
    case 'role':
      return `${NAMESPACE}::Role`;
    case 'operator':
      return `${NAMESPACE}::Operator`;
    default:
      return assertNever(principal, 'principal kind');
  }
}

/** The Cedar entity type of a resource kind (`Sovra::Object`, …). */
export function resourceType(resource: GuardrailResource): string {
  switch (resource.kind) {
    case 'tenant':
      return `${NAMESPACE}::Tenant`;
    case 'bucket':
      return `${NAMESPACE}::Bucket`;
    case 'object':
      return `${NAMESPACE}::Object`;
    case 'kmsKey':
      return `${NAMESPACE}::KmsKey`;
    default:
      return assertNever(resource, 'resource kind');
  }
}

function principalEntity(principal: GuardrailPrincipal): { uid: TypeAndId; entity: EntityJson | null } {
  const type = principalType(principal);
  switch (principal.kind) {
    case 'anonymous':
      // Anonymous has no attributes, so Cedar needs no entity record for it.
      return { uid: { type, id: 'anonymous' }, entity: null };
    case 'operator': {
      const uid = { type, id: principal.id };
      return {
        uid,
        entity: { uid, attrs: principalAttributes(principal), parents: [], tags: { ...principal.tags } },
      };
    }
    case 'user':
    case 'serviceAccount':
    case 'role': {
      const uid = { type, id: principal.id };
      const tenant = tenantUid(principal.tenantId);
      return {
        uid,
        entity: {
          uid,
          attrs: { tenant: { __entity: tenant }, ...principalAttributes(principal) },
          parents: [tenant],
          tags: { ...principal.tags },
        },
      };
    }
    default:
      return assertNever(principal, 'principal kind');
  }
}

function principalAttributes(principal: PrincipalFacts): EntityJson['attrs'] {
  return {
    clearanceRank: principal.clearance.level.rank,
    compartments: [...principal.clearance.compartments],
    nationality: principal.nationality,
    networkJurisdiction: principal.networkJurisdiction,
  };
}

function resourceEntity(resource: GuardrailResource): { uid: TypeAndId; entity: EntityJson } {
  const type = resourceType(resource);
  const tenant = tenantUid(resource.tenantId);
  switch (resource.kind) {
    case 'tenant':
      return { uid: tenant, entity: { uid: tenant, attrs: { tenant: { __entity: tenant } }, parents: [] } };
    case 'kmsKey': {
      const uid = { type, id: `${resource.tenantId}/${resource.keyId}` };
      return { uid, entity: { uid, attrs: { tenant: { __entity: tenant } }, parents: [tenant] } };
    }
    case 'bucket': {
      const uid = bucketUid(resource.bucket);
      return { uid, entity: { uid, attrs: storedDataAttributes(resource), parents: [tenant] } };
    }
    case 'object': {
      const bucket = bucketUid(resource.bucket);
      // Bucket names are unique in the platform and never contain '/', so this id is unique.
      const uid = { type, id: `${resource.bucket}/${resource.key}` };
      return { uid, entity: { uid, attrs: storedDataAttributes(resource), parents: [bucket] } };
    }
    default:
      return assertNever(resource, 'resource kind');
  }
}

function storedDataAttributes(resource: LabelledResourceFacts): EntityJson['attrs'] {
  const residency = resource.label.level.residency;
  return {
    tenant: { __entity: tenantUid(resource.tenantId) },
    classificationRank: resource.label.level.rank,
    compartments: [...resource.label.compartments],
    jurisdiction: resource.placement.jurisdiction,
    tier: resource.placement.tier,
    public: resource.public,
    ...(residency === null
      ? {}
      : { residency: { tier: residency.tier, jurisdiction: residency.jurisdiction } }),
  };
}

function contextRecord(request: GuardrailRequest): Context {
  const context = request.context;
  return {
    anonymous: request.principal.kind === 'anonymous',
    secureTransport: context.secureTransport,
    sourceIp: { __extn: { fn: 'ip', arg: context.sourceIp } },
    sourceJurisdiction: context.sourceJurisdiction,
    keyUseJustification: context.keyUseJustification,
    ...(context.approvalId === null ? {} : { approvalId: context.approvalId }),
    now: Math.floor(context.now.getTime() / 1000),
    ...(context.sourceLabel === null ? {} : { sourceLabel: labelRecord(context.sourceLabel) }),
    grantsPublicAccess: context.grantsPublicAccess,
  };
}

function labelRecord(label: SecurityLabel): Context {
  return { classificationRank: label.level.rank, compartments: [...label.compartments] };
}

function tenantUid(tenantId: string): TypeAndId {
  return { type: `${NAMESPACE}::Tenant`, id: tenantId };
}

function bucketUid(bucket: string): TypeAndId {
  return { type: `${NAMESPACE}::Bucket`, id: bucket };
}
