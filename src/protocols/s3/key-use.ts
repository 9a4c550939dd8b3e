/**
 * Why an S3 request uses KMS keys (domain/kms/justification.ts): the data path says who asked,
 * through which service and from which network jurisdiction, and for what reason, in every data
 * key it generates or unwraps, so that a tenant's key policy decides on the real requester and
 * the key-use record names it.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Caller } from '../../domain/iam/caller.ts';
import {
  CLIENT_CLAIMABLE_REASONS,
  clientClaimableReason,
  DEFAULT_JUSTIFICATION_REASON,
  JUSTIFICATION_HEADER,
  type JustificationReason,
  type RequestJustification,
} from '../../domain/kms/justification.ts';
import { ACCESS_APPROVAL_HEADER } from '../../domain/lockbox/operator-access-gate.ts';
import { UNKNOWN_JURISDICTION, type JurisdictionMap } from '../../domain/residency/jurisdiction.ts';
import { s3Error } from './errors.ts';
import { header } from './object-headers.ts';

/**
 * The justification of a request's key uses. A request that names an operator access approval
 * reaches a handler only when the lockbox gate let it through, so its uses are OPERATOR_SUPPORT
 * under that approval; any other request's are the reason its x-sovra-justification header (or
 * POST form field, read as a header) states, one a client may claim, by default
 * CUSTOMER_INITIATED_ACCESS. A reason a client may not claim, or another reason than
 * OPERATOR_SUPPORT beside an approval, is InvalidArgument.
 */
export function requestJustification(
  headers: IncomingHttpHeaders,
  caller: Caller,
  jurisdictions: JurisdictionMap | undefined,
): RequestJustification {
  const stated = header(headers, JUSTIFICATION_HEADER)?.trim();
  const approvalId = caller.operatorApproval?.approvalId ?? null;
  return {
    principalId: caller.principalId,
    tenantId: caller.tenantId,
    service: 's3',
    reason: approvalId === null ? claimedReason(stated) : operatorReason(stated),
    approvalReference: approvalId,
    sourceIp: caller.sourceIp,
    jurisdiction: jurisdictions?.jurisdictionOf(caller.sourceIp) ?? UNKNOWN_JURISDICTION,
    requestId: caller.requestId,
  };
}

function claimedReason(stated: string | undefined): JustificationReason {
  if (stated === undefined || stated === '') return DEFAULT_JUSTIFICATION_REASON;
  const reason = clientClaimableReason(stated);
  if (reason === null) {
    throw s3Error(
      'InvalidArgument',
      `${JUSTIFICATION_HEADER} must be one of ${CLIENT_CLAIMABLE_REASONS.join(', ')}; OPERATOR_SUPPORT is given by an operator access approval (${ACCESS_APPROVAL_HEADER}) and LIFECYCLE to Sovra's lifecycle runner.`,
      { argumentName: JUSTIFICATION_HEADER, argumentValue: stated },
    );
  }
  return reason;
}

function operatorReason(stated: string | undefined): JustificationReason {
  if (stated !== undefined && stated !== '' && stated !== 'OPERATOR_SUPPORT') {
    throw s3Error(
      'InvalidArgument',
      `A request under an operator access approval (${ACCESS_APPROVAL_HEADER}) uses keys for OPERATOR_SUPPORT; ${JUSTIFICATION_HEADER} cannot state another reason.`,
      { argumentName: JUSTIFICATION_HEADER, argumentValue: stated },
    );
  }
  return 'OPERATOR_SUPPORT';
}
