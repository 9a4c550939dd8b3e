import { CredentialError } from '../../domain/iam/credentials.ts';
import { FederationError } from '../../domain/iam/federation.ts';
import { IdentityError } from '../../domain/iam/identity-errors.ts';
import { StsError } from '../../domain/iam/sts.ts';
import { KmsError } from '../../domain/kms/errors.ts';
import { assertNever, SovraError } from '../../platform/errors.ts';
import { SigV4Error } from '../sigv4/errors.ts';

/** Codes the STS protocol raises itself (the Query protocol's request shape). */
export type StsProtocolErrorCode =
  'InvalidAction' | 'MissingAction' | 'MissingParameter' | 'InvalidParameterValue' | 'RequestTooLarge';

export class StsProtocolError extends SovraError<StsProtocolErrorCode> {}

export interface StsWireError {
  status: number;
  /** AWS's error Type: Sender for the caller's mistakes, Receiver for the service's. */
  type: 'Sender' | 'Receiver';
  code: string;
  message: string;
}

/**
 * The one table from errors to AWS STS wire errors
 * (https://docs.aws.amazon.com/STS/latest/APIReference/CommonErrors.html and each action's Errors).
 * Anything uncoded is InternalFailure (500) without detail; the endpoint logs its cause.
 */
export function stsWireError(error: unknown): StsWireError {
  if (error instanceof StsError) {
    switch (error.code) {
      case 'AccessDenied':
        return sender(403, error.code, error.message);
      case 'ValidationError':
        return sender(400, error.code, error.message);
      default:
        return assertNever(error.code, 'sts error code');
    }
  }
  if (error instanceof FederationError) {
    switch (error.code) {
      case 'InvalidIdentityToken':
      case 'ExpiredTokenException':
      case 'IDPCommunicationError':
        return sender(400, error.code, error.message);
      case 'IDPRejectedClaim':
        return sender(403, error.code, error.message);
      default:
        return assertNever(error.code, 'federation error code');
    }
  }
  if (error instanceof StsProtocolError) {
    return sender(error.code === 'RequestTooLarge' ? 413 : 400, error.code, error.message);
  }
  if (error instanceof IdentityError && error.code === 'ValidationError') {
    return sender(400, 'ValidationError', error.message);
  }
  if (error instanceof SigV4Error || error instanceof CredentialError) {
    // STS names an unknown key or a bad session token InvalidClientTokenId, and an unsigned call
    // to a signed action MissingAuthenticationToken; the other SigV4 codes keep their names.
    const code: string = error.code;
    if (code === 'AccessDeniedAnonymous') {
      return sender(403, 'MissingAuthenticationToken', 'Request is missing Authentication Token');
    }
    if (code === 'InvalidAccessKeyId' || code === 'InvalidToken') {
      return sender(403, 'InvalidClientTokenId', 'The security token included in the request is invalid.');
    }
    if (code === 'ExpiredToken') {
      return sender(400, 'ExpiredToken', 'The security token included in the request is expired');
    }
    return sender(403, code, error.message);
  }
  if (error instanceof KmsError && error.code === 'Sealed') {
    // No secret unseals while the root of trust is sealed (docs/decisions/0005): a temporary failure.
    return { status: 503, type: 'Receiver', code: 'ServiceUnavailable', message: error.message };
  }
  return { status: 500, type: 'Receiver', code: 'InternalFailure', message: 'internal error' };
}

function sender(status: number, code: string, message: string): StsWireError {
  return { status, type: 'Sender', code, message };
}
