import { isIP } from 'node:net';
import type { SecurityLabel } from '../classification/label.ts';
import { MAX_CLASSIFICATION_RANK, MAX_COMPARTMENTS } from '../classification/limits.ts';
import { JUSTIFICATION_REASONS } from '../kms/justification.ts';
import { UNKNOWN_JURISDICTION } from '../residency/jurisdiction.ts';
import { assertNever } from '../../platform/errors.ts';
import { guardrailError } from './errors.ts';
import { MAX_GUARDRAIL_STRING_CHARS, MAX_PRINCIPAL_TAGS } from './limits.ts';
import type { GuardrailContext, GuardrailPrincipal, GuardrailRequest, GuardrailResource } from './types.ts';

/**
 * Checks the values of a guardrail request before any policy engine sees them. Source
 * addresses, approval ids and tags come from requests and are hostile; a value the engine would
 * choke on must fail here with InvalidGuardrailRequest rather than as an evaluation error.
 */
export function checkGuardrailRequest(request: GuardrailRequest): void {
  checkString(request.action, 'action');
  checkPrincipal(request.principal);
  checkResource(request.resource);
  checkContext(request.context);
}

function checkPrincipal(principal: GuardrailPrincipal): void {
  switch (principal.kind) {
    case 'anonymous':
      return;
    case 'user':
    case 'serviceAccount':
    case 'role':
      checkString(principal.tenantId, 'principal.tenantId');
      break;
    case 'operator':
      break;
    default:
      assertNever(principal, 'principal kind');
  }
  checkString(principal.id, 'principal.id');
  checkLabel(principal.clearance, 'principal.clearance');
  checkJurisdiction(principal.nationality, 'principal.nationality');
  checkJurisdiction(principal.networkJurisdiction, 'principal.networkJurisdiction');
  const tags = Object.entries(principal.tags);
  if (tags.length > MAX_PRINCIPAL_TAGS) invalid(`principal.tags: at most ${MAX_PRINCIPAL_TAGS} tags`);
  for (const [key, value] of tags) {
    checkString(key, 'principal tag key');
    checkString(value, `principal tag ${key}`, true);
  }
}

function checkResource(resource: GuardrailResource): void {
  checkString(resource.tenantId, 'resource.tenantId');
  switch (resource.kind) {
    case 'tenant':
      return;
    case 'kmsKey':
      checkString(resource.keyId, 'resource.keyId');
      return;
    case 'object':
      checkString(resource.key, 'resource.key');
      break;
    case 'bucket':
      break;
    default:
      assertNever(resource, 'resource kind');
  }
  checkString(resource.bucket, 'resource.bucket');
  checkLabel(resource.label, 'resource.label');
  checkJurisdiction(resource.placement.jurisdiction, 'resource.placement.jurisdiction');
  if (!/^[a-z][a-z0-9-]{0,31}$/.test(resource.placement.tier)) {
    invalid('resource.placement.tier must be a tier name such as "sovereign"');
  }
  checkBoolean(resource.public, 'resource.public');
}

function checkContext(context: GuardrailContext): void {
  checkBoolean(context.secureTransport, 'context.secureTransport');
  checkBoolean(context.grantsPublicAccess, 'context.grantsPublicAccess');
  // The policy engine's ip() accepts only plain IPv4 and IPv6 text.
  if (typeof context.sourceIp !== 'string' || isIP(context.sourceIp) === 0) {
    invalid('context.sourceIp must be an IPv4 or IPv6 address');
  }
  checkJurisdiction(context.sourceJurisdiction, 'context.sourceJurisdiction');
  if (!JUSTIFICATION_REASONS.includes(context.keyUseJustification)) {
    invalid(`context.keyUseJustification must be one of ${JUSTIFICATION_REASONS.join(', ')}`);
  }
  if (context.approvalId !== null) checkString(context.approvalId, 'context.approvalId');
  if (!(context.now instanceof Date) || !Number.isFinite(context.now.getTime())) {
    invalid('context.now must be a valid date');
  }
  if (context.sourceLabel !== null) checkLabel(context.sourceLabel, 'context.sourceLabel');
}

function checkLabel(label: SecurityLabel, where: string): void {
  const rank = label.level.rank;
  if (!Number.isInteger(rank) || rank < 0 || rank > MAX_CLASSIFICATION_RANK) {
    invalid(`${where}: the level rank must be an integer from 0 to ${MAX_CLASSIFICATION_RANK}`);
  }
  if (label.compartments.length > MAX_COMPARTMENTS) {
    invalid(`${where}: at most ${MAX_COMPARTMENTS} compartments`);
  }
  for (const compartment of label.compartments) checkString(compartment, `${where} compartment`);
}

function checkJurisdiction(value: string, where: string): void {
  if (typeof value !== 'string' || (!/^[A-Z]{2}$/.test(value) && value !== UNKNOWN_JURISDICTION)) {
    invalid(`${where} must be an ISO 3166-1 alpha-2 code or '${UNKNOWN_JURISDICTION}'`);
  }
}

function checkString(value: string, where: string, emptyAllowed = false): void {
  if (
    typeof value !== 'string' ||
    (!emptyAllowed && value.length === 0) ||
    value.length > MAX_GUARDRAIL_STRING_CHARS
  ) {
    invalid(
      `${where} must be a string of ${emptyAllowed ? 0 : 1} to ${MAX_GUARDRAIL_STRING_CHARS} characters`,
    );
  }
}

function checkBoolean(value: boolean, where: string): void {
  if (typeof value !== 'boolean') invalid(`${where} must be true or false`);
}

function invalid(message: string): never {
  throw guardrailError('InvalidGuardrailRequest', message);
}
