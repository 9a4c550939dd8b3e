import { assertNever } from '../../platform/errors.ts';
import { AUDIT_RECORD_KINDS, type AuditRecord } from './records.ts';
import { siemError } from './siem-errors.ts';

/**
 * The audit log as OCSF events (Open Cybersecurity Schema Framework, https://schema.ocsf.io/1.5.0/)
 * for SIEMs. Each record maps to exactly one event of the class that fits it
 * (docs/reference/siem-export.md has the table):
 *
 * - API Activity (6003): S3, KMS and admin requests, key uses, operator accesses, residency
 *   decisions, and requests that authorization refused (status Failure, with the refusal in
 *   `actor.authorizations`);
 * - Authentication (3002): requests whose signature or credentials were refused;
 * - Authorize Session (3003): lockbox approvals, denials and break-glass, which assign (or refuse)
 *   an operator's just-in-time privileges;
 * - Account Change (3001): admin changes of principals and their access keys and policies;
 * - Entity Management (3004): every other admin change, the lockbox request lifecycle, seal and
 *   unseal of the root of trust, and the audit log's own keys.
 *
 * `metadata.uid` (and `metadata.sequence`) is the record's leaf index, so each event can be matched
 * with the verifiable log and its inclusion proof. Records carry nothing secret, so neither do the
 * events.
 */
export const OCSF_SCHEMA_VERSION = '1.5.0';
export const OCSF_PRODUCT = { name: 'Sovra', vendor_name: 'Sovra' } as const;

export const OCSF_CLASSES = {
  apiActivity: {
    class_uid: 6003,
    class_name: 'API Activity',
    category_uid: 6,
    category_name: 'Application Activity',
  },
  authentication: {
    class_uid: 3002,
    class_name: 'Authentication',
    category_uid: 3,
    category_name: 'Identity & Access Management',
  },
  authorizeSession: {
    class_uid: 3003,
    class_name: 'Authorize Session',
    category_uid: 3,
    category_name: 'Identity & Access Management',
  },
  accountChange: {
    class_uid: 3001,
    class_name: 'Account Change',
    category_uid: 3,
    category_name: 'Identity & Access Management',
  },
  entityManagement: {
    class_uid: 3004,
    class_name: 'Entity Management',
    category_uid: 3,
    category_name: 'Identity & Access Management',
  },
} as const;

type OcsfClass = (typeof OCSF_CLASSES)[keyof typeof OCSF_CLASSES];
export type OcsfClassUid = OcsfClass['class_uid'];

/** OCSF base event `severity_id`: 1 Informational, 2 Low, 3 Medium, 4 High, 5 Critical, 6 Fatal. */
export type OcsfSeverityId = 0 | 1 | 2 | 3 | 4 | 5 | 6 | 99;
const SEVERITY_NAMES: Record<OcsfSeverityId, string> = {
  0: 'Unknown',
  1: 'Informational',
  2: 'Low',
  3: 'Medium',
  4: 'High',
  5: 'Critical',
  6: 'Fatal',
  99: 'Other',
};

/** OCSF base event `status_id`: 1 Success, 2 Failure. */
export type OcsfStatusId = 0 | 1 | 2 | 99;

export interface OcsfAccount {
  uid: string;
  type: string;
  type_id: number;
}

export interface OcsfUser {
  uid?: string;
  name?: string;
  type?: string;
  type_id?: number;
  account?: OcsfAccount;
}

export interface OcsfAuthorization {
  decision: 'Allowed' | 'Denied';
  policy?: { name: string; uid?: string };
}

export interface OcsfActor {
  user: OcsfUser;
  app_name?: string;
  authorizations?: OcsfAuthorization[];
}

export interface OcsfNetworkEndpoint {
  ip?: string;
  svc_name?: string;
  location?: { country: string };
}

export interface OcsfApi {
  operation: string;
  service: { name: string };
  request?: { uid: string };
  response?: { code?: number; error?: string };
}

export interface OcsfResource {
  uid: string;
  type: string;
  name?: string;
  labels?: string[];
}

export interface OcsfManagedEntity {
  uid: string;
  name: string;
  type: string;
  data?: Record<string, string | number | boolean>;
}

export interface OcsfMetadata {
  version: string;
  product: { name: string; vendor_name: string };
  /** The record's leaf index in the verifiable log, as a string (OCSF `metadata.uid` is a string). */
  uid: string;
  /** The leaf index again, as the number that orders the events unambiguously. */
  sequence: number;
  log_name: 'audit';
  /** When the log stored the record (ms); `time` is when its outcome was known. */
  logged_time?: number;
  /** The tenant whose data, metadata or keys the record concerns; absent for platform events. */
  tenant_uid?: string;
  /** The request id, shared by every record one request produced. */
  correlation_uid?: string;
}

/** What the mapping adds beyond the OCSF attributes, under `unmapped` (all non-secret). */
export interface SovraUnmapped {
  audit_kind: AuditRecord['kind'];
  action: string;
  result: AuditRecord['result'];
  classification?: string;
  source_jurisdiction?: string;
  justification?: string;
  approval_id?: string;
  principal_tenant_uid?: string;
  details?: Record<string, string | number | boolean>;
}

export interface OcsfEvent {
  class_uid: OcsfClassUid;
  class_name: string;
  category_uid: number;
  category_name: string;
  activity_id: number;
  activity_name: string;
  type_uid: number;
  type_name: string;
  time: number;
  severity_id: OcsfSeverityId;
  severity: string;
  status_id: OcsfStatusId;
  status: string;
  status_code?: string;
  status_detail?: string;
  message: string;
  metadata: OcsfMetadata;
  actor: OcsfActor;
  src_endpoint?: OcsfNetworkEndpoint;
  /** API Activity. */
  api?: OcsfApi;
  resources?: OcsfResource[];
  /** Authentication, Authorize Session, Account Change: the subject of the activity. */
  user?: OcsfUser;
  /** Authentication. */
  service?: { name: string };
  auth_protocol_id?: number;
  auth_protocol?: string;
  is_remote?: boolean;
  /** Authorize Session. */
  privileges?: string[];
  /** Entity Management. */
  entity?: OcsfManagedEntity;
  comment?: string;
  unmapped: SovraUnmapped;
}

/** Where the record sits in the log: its leaf index and when the log stored it. */
export interface RecordPlace {
  leafIndex: number;
  recordedAtMs?: number;
}

/**
 * Wire error codes that mean the request's signature or credentials were refused (Authentication)
 * rather than its permissions (an authorization denial): the S3 and KMS codes of
 * https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html and
 * https://docs.aws.amazon.com/kms/latest/APIReference/CommonErrors.html.
 */
const AUTHENTICATION_ERROR_CODES = new Set([
  'SignatureDoesNotMatch',
  'InvalidAccessKeyId',
  'InvalidClientTokenId',
  'IncompleteSignature',
  'IncompleteSignatureException',
  'InvalidSignatureException',
  'MissingAuthenticationToken',
  'MissingSecurityHeader',
  'AuthorizationHeaderMalformed',
  'AuthorizationQueryParametersError',
  'UnrecognizedClientException',
  'ExpiredToken',
  'InvalidToken',
  'RequestTimeTooSkewed',
  'RequestExpired',
]);

/**
 * The OCSF event of one audit record. Throws SiemExportError `MalformedRecord` when the record is
 * not a well-formed version-1 record (it came from storage, so it is checked like any input).
 */
export function toOcsfEvent(record: AuditRecord, place: RecordPlace): OcsfEvent {
  checkRecord(record, place);
  switch (record.kind) {
    case 'request':
    case 'key-use':
    case 'operator-access':
    case 'residency-decision':
      return apiActivity(record, place);
    case 'authorization-denied':
      return record.errorCode !== null && AUTHENTICATION_ERROR_CODES.has(record.errorCode)
        ? authentication(record, place)
        : apiActivity(record, place);
    case 'admin-change':
      return isAccountChange(actionOf(record.action))
        ? accountChange(record, place)
        : entityManagement(record, place);
    case 'access-approval':
      return isPrivilegeAssignment(actionOf(record.action))
        ? authorizeSession(record, place)
        : entityManagement(record, place);
    case 'seal':
    case 'log-key':
      return entityManagement(record, place);
    default:
      return assertNever(record.kind, 'audit record kind');
  }
}

// --- The classes -------------------------------------------------------------------------------

/** API Activity: activity Create/Read/Update/Delete by the operation's verb, Other for the rest. */
function apiActivity(record: AuditRecord, place: RecordPlace): OcsfEvent {
  const action = actionOf(record.action);
  const activity = crudActivity(action);
  const api: OcsfApi = { operation: action.operation, service: { name: action.service } };
  if (record.requestId !== null) api.request = { uid: record.requestId };
  const response = responseOf(record);
  if (response !== null) api.response = response;
  const event = base(OCSF_CLASSES.apiActivity, activity, record, place);
  const authorization = authorizationOf(record);
  if (authorization !== null) event.actor.authorizations = [authorization];
  event.src_endpoint = sourceOf(record) ?? { svc_name: serviceEndpointName(record) };
  event.api = api;
  const resources = resourcesOf(record);
  if (resources !== null) event.resources = resources;
  return event;
}

/**
 * Authentication, activity Logon: every SigV4 request authenticates anew, so a refused signature
 * or credential is a failed logon of the claimed principal (anonymous when none was resolved).
 */
function authentication(record: AuditRecord, place: RecordPlace): OcsfEvent {
  const action = actionOf(record.action);
  const event = base(OCSF_CLASSES.authentication, { id: 1, name: 'Logon' }, record, place);
  event.user = event.actor.user;
  // https://schema.ocsf.io/1.5.0/objects/authentication: 99 Other, named by the source.
  event.auth_protocol_id = 99;
  event.auth_protocol = 'AWS Signature Version 4';
  event.service = { name: action.service };
  const source = sourceOf(record);
  if (source !== null) {
    event.src_endpoint = source;
    event.is_remote = true;
  }
  return event;
}

/**
 * Authorize Session, activity Assign Privileges: a lockbox approval or break-glass assigns an
 * operator just-in-time privileges on tenant data; a denial refuses them (status Failure). The
 * operator concerned is `details.operatorId` when the record names one, else the actor.
 */
function authorizeSession(record: AuditRecord, place: RecordPlace): OcsfEvent {
  const action = actionOf(record.action);
  const denied = action.verb === 'Deny';
  const event = base(OCSF_CLASSES.authorizeSession, { id: 1, name: 'Assign Privileges' }, record, place);
  if (denied) {
    event.status_id = 2;
    event.status = 'Failure';
    event.status_detail ??= 'Denied';
  }
  const operatorId = record.details.operatorId;
  event.user =
    typeof operatorId === 'string' && operatorId !== ''
      ? { uid: operatorId, type: 'Operator', type_id: 2 }
      : event.actor.user;
  const scope = record.details.scope;
  event.privileges = [
    typeof scope === 'string' && scope !== '' ? scope : (record.resource ?? action.operation),
  ];
  const source = sourceOf(record);
  if (source !== null) event.src_endpoint = source;
  return event;
}

/** Account Change: principals (users, roles), their access keys and their policies. */
function accountChange(record: AuditRecord, place: RecordPlace): OcsfEvent {
  const action = actionOf(record.action);
  const event = base(OCSF_CLASSES.accountChange, accountChangeActivity(action), record, place);
  event.user = targetUserOf(record, action);
  const source = sourceOf(record);
  if (source !== null) event.src_endpoint = source;
  return event;
}

/** Entity Management: the entity is the resource the record names (or the action's subject). */
function entityManagement(record: AuditRecord, place: RecordPlace): OcsfEvent {
  const action = actionOf(record.action);
  const event = base(OCSF_CLASSES.entityManagement, entityActivity(record, action), record, place);
  event.entity = managedEntityOf(record, action);
  if (record.justification !== null) event.comment = record.justification;
  const source = sourceOf(record);
  if (source !== null) event.src_endpoint = source;
  return event;
}

// --- Attributes every class shares -------------------------------------------------------------

interface Activity {
  id: number;
  name: string;
}

function base(cls: OcsfClass, activity: Activity, record: AuditRecord, place: RecordPlace): OcsfEvent {
  const severityId = severityOf(record);
  const failed = record.result !== 'success';
  const metadata: OcsfMetadata = {
    version: OCSF_SCHEMA_VERSION,
    product: { ...OCSF_PRODUCT },
    uid: String(place.leafIndex),
    sequence: place.leafIndex,
    log_name: 'audit',
  };
  if (place.recordedAtMs !== undefined) metadata.logged_time = place.recordedAtMs;
  if (record.tenantId !== null) metadata.tenant_uid = record.tenantId;
  if (record.requestId !== null) metadata.correlation_uid = record.requestId;
  const event: OcsfEvent = {
    class_uid: cls.class_uid,
    class_name: cls.class_name,
    category_uid: cls.category_uid,
    category_name: cls.category_name,
    activity_id: activity.id,
    activity_name: activity.name,
    type_uid: cls.class_uid * 100 + activity.id,
    type_name: `${cls.class_name}: ${activity.name}`,
    time: record.timeMs,
    severity_id: severityId,
    severity: SEVERITY_NAMES[severityId],
    status_id: failed ? 2 : 1,
    status: failed ? 'Failure' : 'Success',
    message: messageOf(record),
    metadata,
    actor: actorOf(record),
    unmapped: unmappedOf(record),
  };
  const statusCode = record.errorCode ?? (record.status === null ? null : String(record.status));
  if (statusCode !== null) event.status_code = statusCode;
  if (record.errorCode !== null) event.status_detail = record.errorCode;
  return event;
}

/**
 * Informational for what went well, Low for failures, Medium for refusals and for everything a
 * security team reviews as a matter of course (operator access, seal events, log key changes),
 * High for break-glass.
 */
function severityOf(record: AuditRecord): OcsfSeverityId {
  const action = actionOf(record.action);
  if (record.kind === 'access-approval' && action.operation.includes('BreakGlass')) return 4;
  if (record.result === 'denied') return 3;
  if (record.kind === 'operator-access' || record.kind === 'seal' || record.kind === 'log-key') return 3;
  return record.result === 'failure' ? 2 : 1;
}

/** The acting principal; anonymous when none was resolved, the platform itself for its own events. */
function actorOf(record: AuditRecord): OcsfActor {
  if (record.principalId === null) {
    if (record.kind === 'log-key') {
      return { user: { uid: 'sovra:system', name: 'system', type: 'System', type_id: 3 }, app_name: 'Sovra' };
    }
    return { user: { name: 'anonymous', type: 'Anonymous', type_id: 99 } };
  }
  const user: OcsfUser = { uid: record.principalId };
  if (record.kind === 'operator-access' || record.kind === 'seal') {
    user.type = 'Operator';
    user.type_id = 2;
  }
  const tenant = record.principalTenantId ?? record.tenantId;
  if (tenant !== null) user.account = tenantAccount(tenant);
  return { user };
}

function tenantAccount(tenantId: string): OcsfAccount {
  return { uid: tenantId, type: 'Sovra Tenant', type_id: 99 };
}

/**
 * What authorization decided, when the record is about a decision: a refusal, an operator access
 * (allowed under the approval it used), a key use or a residency decision.
 */
function authorizationOf(record: AuditRecord): OcsfAuthorization | null {
  const decision = record.result === 'denied' ? 'Denied' : 'Allowed';
  switch (record.kind) {
    case 'authorization-denied':
      return { decision: 'Denied' };
    case 'operator-access':
      return record.approvalId === null
        ? { decision }
        : { decision, policy: { name: 'Access approval', uid: record.approvalId } };
    case 'residency-decision':
      return { decision, policy: { name: 'Sovereignty firewall' } };
    case 'key-use':
      return record.result === 'denied' ? { decision, policy: { name: 'Key policy' } } : null;
    case 'request':
    case 'admin-change':
    case 'access-approval':
    case 'seal':
    case 'log-key':
      return record.result === 'denied' ? { decision } : null;
    default:
      return assertNever(record.kind, 'audit record kind');
  }
}

function sourceOf(record: AuditRecord): OcsfNetworkEndpoint | null {
  if (record.sourceIp === null || record.sourceIp === '') return null;
  const endpoint: OcsfNetworkEndpoint = { ip: record.sourceIp };
  const country = countryOf(record.sourceJurisdiction);
  if (country !== null) endpoint.location = { country };
  return endpoint;
}

/** API Activity needs a source; a call without an address came from inside the platform. */
function serviceEndpointName(record: AuditRecord): string {
  const service = record.details.service;
  return typeof service === 'string' && service !== '' ? service : 'sovra';
}

/** OCSF `location.country` is an ISO 3166-1 alpha-2 code; anything else stays in `unmapped`. */
function countryOf(jurisdiction: string | null): string | null {
  return jurisdiction !== null && /^[A-Z]{2}$/.test(jurisdiction) ? jurisdiction : null;
}

function responseOf(record: AuditRecord): OcsfApi['response'] | null {
  if (record.status === null && record.errorCode === null) return null;
  const response: NonNullable<OcsfApi['response']> = {};
  if (record.status !== null) response.code = record.status;
  if (record.errorCode !== null) response.error = record.errorCode;
  return response;
}

function resourcesOf(record: AuditRecord): OcsfResource[] | null {
  if (record.resource === null || record.resource === '') return null;
  const resource: OcsfResource = { uid: record.resource, type: resourceTypeOf(record.resource) };
  const name = lastSegment(record.resource);
  if (name !== '') resource.name = name;
  if (record.classification !== null) resource.labels = [record.classification];
  return [resource];
}

function messageOf(record: AuditRecord): string {
  const who = record.principalId ?? (record.kind === 'log-key' ? 'the platform' : 'anonymous');
  const what = record.resource === null ? '' : ` on ${record.resource}`;
  const why = record.errorCode === null ? '' : ` (${record.errorCode})`;
  return `${record.action} by ${who}${what}: ${record.result}${why}`;
}

function unmappedOf(record: AuditRecord): SovraUnmapped {
  const unmapped: SovraUnmapped = { audit_kind: record.kind, action: record.action, result: record.result };
  if (record.classification !== null) unmapped.classification = record.classification;
  if (record.sourceJurisdiction !== null && countryOf(record.sourceJurisdiction) === null) {
    unmapped.source_jurisdiction = record.sourceJurisdiction;
  }
  if (record.justification !== null) unmapped.justification = record.justification;
  if (record.approvalId !== null) unmapped.approval_id = record.approvalId;
  if (record.principalTenantId !== null) unmapped.principal_tenant_uid = record.principalTenantId;
  const details: Record<string, string | number | boolean> = {};
  for (const [key, value] of Object.entries(record.details)) if (value !== null) details[key] = value;
  if (Object.keys(details).length > 0) unmapped.details = details;
  return unmapped;
}

// --- Actions and their verbs -------------------------------------------------------------------

/** `s3:GetObject` → service s3, operation GetObject, verb Get, noun Object. */
interface ParsedAction {
  service: string;
  operation: string;
  verb: string;
  noun: string;
}

function actionOf(action: string): ParsedAction {
  const colon = action.indexOf(':');
  const service = colon === -1 ? 'sovra' : action.slice(0, colon);
  const operation = colon === -1 ? action : action.slice(colon + 1);
  const verb = /^[A-Z][a-z]*/.exec(operation)?.[0] ?? operation;
  return { service: service === '' ? 'sovra' : service, operation, verb, noun: operation.slice(verb.length) };
}

const READ_VERBS = new Set(['Get', 'Head', 'List', 'Describe', 'Select', 'Read', 'Query', 'Search']);
const CREATE_VERBS = new Set([
  'Create',
  'Post',
  'Upload',
  'Copy',
  'Complete',
  'Initiate',
  'Import',
  'Restore',
]);
const UPDATE_VERBS = new Set([
  'Update',
  'Modify',
  'Set',
  'Put',
  'Enable',
  'Disable',
  'Tag',
  'Untag',
  'Rotate',
  'Cancel',
  'Attach',
  'Detach',
  'Add',
  'Replace',
  'Change',
  'Acknowledge',
]);
const DELETE_VERBS = new Set(['Delete', 'Abort', 'Remove', 'Revoke', 'Retire', 'Schedule']);

/**
 * API Activity's CRUD activity. PutObject creates an object (version), while Put on a bucket's
 * sub-resource (policy, tagging, lifecycle, ...) updates the bucket; ScheduleKeyDeletion deletes.
 * Cryptographic operations (Encrypt, Decrypt, GenerateDataKey, Sign, ...) are none of the four:
 * Other, named by the operation (OCSF: "for Other, defined by the event source").
 */
function crudActivity(action: ParsedAction): Activity {
  if (READ_VERBS.has(action.verb)) return { id: 2, name: 'Read' };
  if (CREATE_VERBS.has(action.verb) || (action.verb === 'Put' && action.noun === 'Object')) {
    return { id: 1, name: 'Create' };
  }
  if (DELETE_VERBS.has(action.verb)) return { id: 4, name: 'Delete' };
  if (UPDATE_VERBS.has(action.verb)) return { id: 3, name: 'Update' };
  return { id: 99, name: action.operation };
}

const ACCOUNT_NOUNS = /^(User|Role|AccessKey|ServiceAccount|Principal|LoginProfile|Operator)/;

/** Changes (not reads) of principals, their access keys, and policies attached to them. */
function isAccountChange(action: ParsedAction): boolean {
  if (READ_VERBS.has(action.verb)) return false;
  if (/^(Attach|Detach|Put|Delete)(User|Role)Policy$/.test(action.operation)) return true;
  return ACCOUNT_NOUNS.test(action.noun) || action.operation === 'UpdateAssumeRolePolicy';
}

/** https://schema.ocsf.io/1.5.0/classes/account_change activity ids; Other names the operation. */
function accountChangeActivity(action: ParsedAction): Activity {
  if (/^(Attach|Put)(User|Role)Policy$/.test(action.operation)) return { id: 7, name: 'Attach Policy' };
  if (/^(Detach|Delete)(User|Role)Policy$/.test(action.operation)) return { id: 8, name: 'Detach Policy' };
  if (action.noun.startsWith('AccessKey')) return { id: 99, name: action.operation };
  switch (action.verb) {
    case 'Create':
      return { id: 1, name: 'Create' };
    case 'Enable':
      return { id: 2, name: 'Enable' };
    case 'Disable':
      return { id: 5, name: 'Disable' };
    case 'Delete':
      return { id: 6, name: 'Delete' };
    case 'Lock':
      return { id: 9, name: 'Lock' };
    case 'Unlock':
      return { id: 12, name: 'Unlock' };
    default:
      return { id: 99, name: action.operation };
  }
}

/** Lockbox steps that assign (or refuse) an operator's privileges: approval, denial, break-glass. */
function isPrivilegeAssignment(action: ParsedAction): boolean {
  return (
    action.verb === 'Approve' ||
    action.verb === 'Deny' ||
    action.verb === 'Grant' ||
    action.operation.includes('BreakGlass')
  );
}

/** https://schema.ocsf.io/1.5.0/classes/entity_management activity ids. */
function entityActivity(record: AuditRecord, action: ParsedAction): Activity {
  if (record.kind === 'seal') {
    // Unsealing brings the root of trust (and so every key) into service; sealing takes it out.
    if (action.verb === 'Unseal') return { id: 10, name: 'Activate' };
    if (action.verb === 'Seal') return { id: 11, name: 'Deactivate' };
    if (action.verb === 'Init' || action.verb === 'Initialize') return { id: 1, name: 'Create' };
  }
  if (record.kind === 'access-approval') {
    if (action.verb === 'Request' || action.verb === 'File') return { id: 1, name: 'Create' };
    if (action.verb === 'Revoke' || action.verb === 'Expire') return { id: 11, name: 'Deactivate' };
  }
  if (action.verb === 'Enable') return { id: 8, name: 'Enable' };
  if (action.verb === 'Disable') return { id: 9, name: 'Disable' };
  const crud = crudActivity(action);
  return crud.id === 99 && action.verb === 'Put' ? { id: 3, name: 'Update' } : crud;
}

function managedEntityOf(record: AuditRecord, action: ParsedAction): OcsfManagedEntity {
  if (record.kind === 'access-approval') {
    const uid = record.approvalId ?? record.resource ?? action.operation;
    return { uid, name: record.resource ?? uid, type: 'Access Approval' };
  }
  const uid = record.resource ?? defaultEntityUid(record, action);
  const entity: OcsfManagedEntity = {
    uid,
    name: lastSegment(uid) || uid,
    type: entityTypeOf(record, uid, action),
  };
  if (record.kind === 'log-key') {
    // The verifier key and algorithm of a log key are public by design (docs/reference/audit-log-formats.md).
    const data: Record<string, string | number | boolean> = {};
    for (const [key, value] of Object.entries(record.details)) if (value !== null) data[key] = value;
    if (Object.keys(data).length > 0) entity.data = data;
  }
  return entity;
}

function defaultEntityUid(record: AuditRecord, action: ParsedAction): string {
  if (record.kind === 'seal') return 'sovra:root-of-trust';
  return `${action.service}:${action.noun === '' ? action.operation : action.noun}`;
}

function entityTypeOf(record: AuditRecord, uid: string, action: ParsedAction): string {
  if (record.kind === 'seal') return 'Root of Trust';
  if (record.kind === 'log-key') return 'Audit Log Key';
  const type = resourceTypeOf(uid);
  return type === 'Unknown' && action.noun !== '' ? action.noun : type;
}

/** The principal an Account Change is about: the resource it names (a user or role ARN). */
function targetUserOf(record: AuditRecord, action: ParsedAction): OcsfUser {
  const user: OcsfUser = {};
  if (record.resource !== null && record.resource !== '') {
    user.uid = record.resource;
    const name = lastSegment(record.resource);
    if (name !== '') user.name = name;
  }
  const kind = /^(User|Role|ServiceAccount|Operator)/.exec(action.noun)?.[1];
  if (kind !== undefined) user.type = kind;
  if (record.tenantId !== null) user.account = tenantAccount(record.tenantId);
  if (user.uid === undefined && user.account === undefined) user.name = 'unknown';
  return user;
}

/**
 * A resource type in the CloudFormation style SIEMs already know from CloudTrail
 * (`AWS::S3::Bucket`, `AWS::S3::Object`, `AWS::IAM::User`, `AWS::KMS::Key`), and `Sovra::…` for
 * Sovra's own names (`sovra:kms-key/…` → `Sovra::KmsKey`).
 */
function resourceTypeOf(resource: string): string {
  const arn = /^arn:[^:]*:([a-z0-9-]+):[^:]*:[^:]*:(.*)$/.exec(resource);
  if (arn !== null) {
    const service = arn[1]!;
    const rest = arn[2]!;
    if (service === 's3') return rest.includes('/') ? 'AWS::S3::Object' : 'AWS::S3::Bucket';
    const kind = /^([a-z-]+)[/:]/.exec(rest)?.[1] ?? (rest === 'root' ? 'account' : null);
    const serviceName = service === 'iam' || service === 'kms' ? service.toUpperCase() : pascal(service);
    return kind === null ? `AWS::${serviceName}` : `AWS::${serviceName}::${pascal(kind)}`;
  }
  const sovra = /^sovra:([a-z][a-z0-9-]*)/.exec(resource);
  if (sovra !== null) return `Sovra::${pascal(sovra[1]!)}`;
  return 'Unknown';
}

function pascal(text: string): string {
  return text
    .split('-')
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('');
}

function lastSegment(resource: string): string {
  const slash = resource.lastIndexOf('/');
  if (slash !== -1) return resource.slice(slash + 1);
  const colon = resource.lastIndexOf(':');
  return colon === -1 ? resource : resource.slice(colon + 1);
}

// --- Input checks ------------------------------------------------------------------------------

const NULLABLE_STRINGS = [
  'tenantId',
  'principalId',
  'principalTenantId',
  'resource',
  'classification',
  'sourceIp',
  'sourceJurisdiction',
  'errorCode',
  'justification',
  'approvalId',
  'requestId',
] as const;

/** Stored records are input like any other: a wrong type is a MalformedRecord, never a TypeError. */
function checkRecord(record: AuditRecord, place: RecordPlace): void {
  const fail = (message: string) =>
    siemError('MalformedRecord', `audit record ${place.leafIndex}: ${message}`, { index: place.leafIndex });
  if (!Number.isSafeInteger(place.leafIndex) || place.leafIndex < 0) {
    throw siemError('MalformedRecord', 'a leaf index is a non-negative integer');
  }
  const fields = record as unknown as Record<string, unknown>;
  if (!(AUDIT_RECORD_KINDS as readonly unknown[]).includes(fields.kind)) throw fail('unknown kind');
  if (!Number.isSafeInteger(fields.timeMs) || (fields.timeMs as number) < 0)
    throw fail('timeMs is not a time');
  if (typeof fields.action !== 'string' || fields.action === '') throw fail('action is not a name');
  if (fields.result !== 'success' && fields.result !== 'failure' && fields.result !== 'denied') {
    throw fail('result is not success, failure or denied');
  }
  const status = fields.status;
  if (
    status !== null &&
    !(Number.isInteger(status) && (status as number) >= 100 && (status as number) <= 599)
  ) {
    throw fail('status is not an HTTP status');
  }
  for (const name of NULLABLE_STRINGS) {
    if (fields[name] !== null && typeof fields[name] !== 'string') throw fail(`${name} is not a string`);
  }
  const details = fields.details;
  if (typeof details !== 'object' || details === null || Array.isArray(details)) {
    throw fail('details is not an object');
  }
  for (const value of Object.values(details)) {
    if (value !== null && !['string', 'number', 'boolean'].includes(typeof value)) {
      throw fail('details holds a value that is not a string, number or boolean');
    }
  }
}
