/**
 * The part of the OCSF 1.5.0 schema (https://schema.ocsf.io/1.5.0/) that Sovra's events use,
 * written down so that events can be checked against it: per class its category, activities,
 * required attributes and the attributes it defines; per object its required attributes and
 * `at_least_one` constraints. `ocsfEventProblems` lists every way an event departs from it. The
 * exporter checks each event before sending (a problem is a mapping bug: logged, and the event is
 * sent anyway so that no record is lost); the tests check every record kind with it.
 */

const BASE_ATTRIBUTES = [
  'activity_id',
  'activity_name',
  'category_name',
  'category_uid',
  'class_name',
  'class_uid',
  'count',
  'duration',
  'end_time',
  'enrichments',
  'message',
  'metadata',
  'observables',
  'raw_data',
  'raw_data_size',
  'severity',
  'severity_id',
  'start_time',
  'status',
  'status_code',
  'status_detail',
  'status_id',
  'time',
  'timezone_offset',
  'type_name',
  'type_uid',
  'unmapped',
];

/** Required by the base event of every class. */
const BASE_REQUIRED = [
  'activity_id',
  'category_uid',
  'class_uid',
  'metadata',
  'severity_id',
  'time',
  'type_uid',
];

/** Attributes every IAM-category class (3001–3006) adds to the base event. */
const IAM_ATTRIBUTES = ['actor', 'http_request', 'http_response', 'src_endpoint'];

interface ClassSchema {
  name: string;
  categoryUid: number;
  categoryName: string;
  /** Activity captions by id; 99 (Other) is named by the source. */
  activities: Readonly<Record<number, string>>;
  required: readonly string[];
  attributes: readonly string[];
}

export const OCSF_CLASS_SCHEMAS: Readonly<Record<number, ClassSchema>> = {
  // https://schema.ocsf.io/1.5.0/classes/api_activity
  6003: {
    name: 'API Activity',
    categoryUid: 6,
    categoryName: 'Application Activity',
    activities: { 0: 'Unknown', 1: 'Create', 2: 'Read', 3: 'Update', 4: 'Delete' },
    required: ['actor', 'api', 'src_endpoint'],
    attributes: [
      'actor',
      'api',
      'dst_endpoint',
      'http_request',
      'http_response',
      'resources',
      'src_endpoint',
    ],
  },
  // https://schema.ocsf.io/1.5.0/classes/authentication
  3002: {
    name: 'Authentication',
    categoryUid: 3,
    categoryName: 'Identity & Access Management',
    activities: {
      0: 'Unknown',
      1: 'Logon',
      2: 'Logoff',
      3: 'Authentication Ticket',
      4: 'Service Ticket Request',
      5: 'Service Ticket Renew',
      6: 'Preauth',
    },
    required: ['user'],
    attributes: [
      ...IAM_ATTRIBUTES,
      'auth_factors',
      'auth_protocol',
      'auth_protocol_id',
      'authentication_token',
      'certificate',
      'dst_endpoint',
      'is_cleartext',
      'is_mfa',
      'is_new_logon',
      'is_remote',
      'logon_process',
      'logon_type',
      'logon_type_id',
      'service',
      'session',
      'user',
    ],
  },
  // https://schema.ocsf.io/1.5.0/classes/authorize_session
  3003: {
    name: 'Authorize Session',
    categoryUid: 3,
    categoryName: 'Identity & Access Management',
    activities: { 0: 'Unknown', 1: 'Assign Privileges', 2: 'Assign Groups' },
    required: ['user'],
    attributes: [...IAM_ATTRIBUTES, 'dst_endpoint', 'group', 'privileges', 'session', 'user'],
  },
  // https://schema.ocsf.io/1.5.0/classes/account_change
  3001: {
    name: 'Account Change',
    categoryUid: 3,
    categoryName: 'Identity & Access Management',
    activities: {
      0: 'Unknown',
      1: 'Create',
      2: 'Enable',
      3: 'Password Change',
      4: 'Password Reset',
      5: 'Disable',
      6: 'Delete',
      7: 'Attach Policy',
      8: 'Detach Policy',
      9: 'Lock',
      10: 'MFA Factor Enable',
      11: 'MFA Factor Disable',
      12: 'Unlock',
    },
    required: ['user'],
    attributes: [...IAM_ATTRIBUTES, 'policies', 'policy', 'user', 'user_result'],
  },
  // https://schema.ocsf.io/1.5.0/classes/entity_management
  3004: {
    name: 'Entity Management',
    categoryUid: 3,
    categoryName: 'Identity & Access Management',
    activities: {
      0: 'Unknown',
      1: 'Create',
      2: 'Read',
      3: 'Update',
      4: 'Delete',
      5: 'Move',
      6: 'Enroll',
      7: 'Unenroll',
      8: 'Enable',
      9: 'Disable',
      10: 'Activate',
      11: 'Deactivate',
      12: 'Suspend',
      13: 'Resume',
    },
    required: ['entity'],
    attributes: [...IAM_ATTRIBUTES, 'access_list', 'access_mask', 'comment', 'entity', 'entity_result'],
  },
};

const SEVERITIES: Readonly<Record<number, string>> = {
  0: 'Unknown',
  1: 'Informational',
  2: 'Low',
  3: 'Medium',
  4: 'High',
  5: 'Critical',
  6: 'Fatal',
  99: 'Other',
};
const STATUSES: Readonly<Record<number, string>> = { 0: 'Unknown', 1: 'Success', 2: 'Failure', 99: 'Other' };

/** `at_least_one` constraints of the objects (https://schema.ocsf.io/1.5.0/objects/…). */
const ACTOR_AT_LEAST_ONE = ['process', 'user', 'invoked_by', 'session', 'app_name', 'app_uid'];
const USER_AT_LEAST_ONE = ['account', 'name', 'uid'];
const NETWORK_ENDPOINT_AT_LEAST_ONE = [
  'ip',
  'uid',
  'name',
  'hostname',
  'svc_name',
  'instance_uid',
  'interface_uid',
  'interface_name',
];
const RESOURCE_AT_LEAST_ONE = ['uid', 'name'];
const MANAGED_ENTITY_AT_LEAST_ONE = [
  'uid',
  'name',
  'data',
  'device',
  'email',
  'group',
  'org',
  'policy',
  'user',
];

type Fields = Record<string, unknown>;

/** Every way the event departs from the schema above; empty when it conforms. */
export function ocsfEventProblems(event: unknown): string[] {
  const problems: string[] = [];
  if (!isObject(event)) return ['the event is not a JSON object'];
  for (const name of BASE_REQUIRED) if (event[name] === undefined) problems.push(`${name} is required`);
  const schema = OCSF_CLASS_SCHEMAS[Number(event.class_uid)];
  if (schema === undefined) return [...problems, `class_uid ${String(event.class_uid)} is not a known class`];
  checkClassification(event, schema, problems);
  for (const name of schema.required) if (event[name] === undefined) problems.push(`${name} is required`);
  const known = new Set([...BASE_ATTRIBUTES, ...schema.attributes]);
  for (const name of Object.keys(event)) {
    if (!known.has(name)) problems.push(`${name} is not an attribute of ${schema.name}`);
  }
  if (!Number.isSafeInteger(event.time) || (event.time as number) < 0) {
    problems.push('time is a timestamp in milliseconds');
  }
  checkMetadata(event.metadata, problems);
  if (event.actor !== undefined) checkActor(event.actor, 'actor', problems);
  for (const name of ['user', 'user_result'] as const) {
    if (event[name] !== undefined) checkUser(event[name], name, problems);
  }
  for (const name of ['src_endpoint', 'dst_endpoint'] as const) {
    if (event[name] !== undefined) checkEndpoint(event[name], name, problems);
  }
  if (event.api !== undefined) checkApi(event.api, problems);
  if (event.resources !== undefined) checkResources(event.resources, problems);
  if (event.entity !== undefined)
    checkAtLeastOne(event.entity, 'entity', MANAGED_ENTITY_AT_LEAST_ONE, problems);
  if (event.privileges !== undefined && !isStringArray(event.privileges)) {
    problems.push('privileges is an array of strings');
  }
  if (event.unmapped !== undefined && !isObject(event.unmapped)) problems.push('unmapped is an object');
  return problems;
}

function checkClassification(event: Fields, schema: ClassSchema, problems: string[]): void {
  const classUid = Number(event.class_uid);
  if (event.category_uid !== schema.categoryUid) {
    problems.push(`category_uid of ${schema.name} is ${schema.categoryUid}`);
  }
  if (event.class_name !== undefined && event.class_name !== schema.name) {
    problems.push(`class_name of ${classUid} is "${schema.name}"`);
  }
  if (event.category_name !== undefined && event.category_name !== schema.categoryName) {
    problems.push(`category_name of ${schema.categoryUid} is "${schema.categoryName}"`);
  }
  const activityId = event.activity_id;
  if (typeof activityId !== 'number' || (activityId !== 99 && schema.activities[activityId] === undefined)) {
    problems.push(`activity_id ${String(activityId)} is not an activity of ${schema.name}`);
  } else {
    const caption = schema.activities[activityId];
    if (caption !== undefined && event.activity_name !== undefined && event.activity_name !== caption) {
      problems.push(`activity_name of activity ${activityId} is "${caption}"`);
    }
    if (event.type_uid !== classUid * 100 + activityId) {
      problems.push('type_uid is class_uid * 100 + activity_id');
    }
  }
  checkEnum(event, 'severity_id', 'severity', SEVERITIES, problems);
  if (event.status_id !== undefined) checkEnum(event, 'status_id', 'status', STATUSES, problems);
}

function checkEnum(
  event: Fields,
  idName: string,
  captionName: string,
  captions: Readonly<Record<number, string>>,
  problems: string[],
): void {
  const id = event[idName];
  const caption = typeof id === 'number' ? captions[id] : undefined;
  if (caption === undefined) {
    problems.push(`${idName} ${String(id)} is not one of ${Object.keys(captions).join(', ')}`);
    return;
  }
  if (id !== 99 && event[captionName] !== undefined && event[captionName] !== caption) {
    problems.push(`${captionName} of ${idName} ${String(id)} is "${caption}"`);
  }
}

function checkMetadata(metadata: unknown, problems: string[]): void {
  if (!isObject(metadata)) {
    problems.push('metadata is an object');
    return;
  }
  if (typeof metadata.version !== 'string' || !/^\d+\.\d+\.\d+/.test(metadata.version)) {
    problems.push('metadata.version is the schema version (SemVer)');
  }
  if (!isObject(metadata.product)) problems.push('metadata.product is required');
  else if (typeof metadata.product.name !== 'string' && typeof metadata.product.uid !== 'string') {
    problems.push('metadata.product needs a name or uid');
  }
  for (const name of ['uid', 'tenant_uid', 'correlation_uid', 'log_name']) {
    if (metadata[name] !== undefined && typeof metadata[name] !== 'string') {
      problems.push(`metadata.${name} is a string`);
    }
  }
  if (metadata.sequence !== undefined && !Number.isSafeInteger(metadata.sequence)) {
    problems.push('metadata.sequence is an integer');
  }
}

function checkActor(actor: unknown, path: string, problems: string[]): void {
  if (!checkAtLeastOne(actor, path, ACTOR_AT_LEAST_ONE, problems)) return;
  const fields = actor as Fields;
  if (fields.user !== undefined) checkUser(fields.user, `${path}.user`, problems);
  if (fields.authorizations !== undefined) {
    if (!Array.isArray(fields.authorizations)) problems.push(`${path}.authorizations is an array`);
    else {
      for (const authorization of fields.authorizations) {
        if (!isObject(authorization)) problems.push(`${path}.authorizations holds objects`);
      }
    }
  }
}

function checkUser(user: unknown, path: string, problems: string[]): void {
  if (!checkAtLeastOne(user, path, USER_AT_LEAST_ONE, problems)) return;
  const fields = user as Fields;
  if (fields.account !== undefined && !isObject(fields.account))
    problems.push(`${path}.account is an object`);
}

function checkEndpoint(endpoint: unknown, path: string, problems: string[]): void {
  if (!checkAtLeastOne(endpoint, path, NETWORK_ENDPOINT_AT_LEAST_ONE, problems)) return;
  const location = (endpoint as Fields).location;
  if (location === undefined) return;
  // https://schema.ocsf.io/1.5.0/objects/location: country is the ISO 3166-1 alpha-2 code, capitalized.
  if (
    !isObject(location) ||
    (location.country !== undefined &&
      (typeof location.country !== 'string' || !/^[A-Z]{2}$/.test(location.country)))
  ) {
    problems.push(`${path}.location.country is an ISO 3166-1 alpha-2 code`);
  }
}

function checkApi(api: unknown, problems: string[]): void {
  if (!isObject(api)) {
    problems.push('api is an object');
    return;
  }
  if (typeof api.operation !== 'string' || api.operation === '') problems.push('api.operation is required');
  if (api.request !== undefined && (!isObject(api.request) || typeof api.request.uid !== 'string')) {
    problems.push('api.request.uid is required');
  }
  if (api.response !== undefined) {
    if (!isObject(api.response)) problems.push('api.response is an object');
    else if (api.response.code !== undefined && !Number.isInteger(api.response.code)) {
      problems.push('api.response.code is an integer');
    }
  }
}

function checkResources(resources: unknown, problems: string[]): void {
  if (!Array.isArray(resources)) {
    problems.push('resources is an array');
    return;
  }
  resources.forEach((resource, index) =>
    checkAtLeastOne(resource, `resources[${index}]`, RESOURCE_AT_LEAST_ONE, problems),
  );
}

function checkAtLeastOne(
  value: unknown,
  path: string,
  names: readonly string[],
  problems: string[],
): boolean {
  if (!isObject(value)) {
    problems.push(`${path} is an object`);
    return false;
  }
  if (!names.some((name) => value[name] !== undefined && value[name] !== null && value[name] !== '')) {
    problems.push(`${path} needs at least one of ${names.join(', ')}`);
  }
  return true;
}

function isObject(value: unknown): value is Fields {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isStringArray(value: unknown): boolean {
  return Array.isArray(value) && value.every((item) => typeof item === 'string');
}
