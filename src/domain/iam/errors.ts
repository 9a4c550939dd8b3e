import { SovraError } from '../../platform/errors.ts';

export type IamErrorCode = 'AccessDenied' | 'ServiceUnavailable';

export class IamError extends SovraError<IamErrorCode> {}
