import { SovraError } from '../../platform/errors.ts';

/**
 * Stable codes of the SIEM export. `MalformedRecord`: a stored record cannot be mapped to an OCSF
 * event (the log verifier names what is wrong with it). `SinkUnavailable`: the destination could
 * not be reached or did not acknowledge; the records are sent again later. `SinkRejected`: the
 * destination answered that it will not take the batch as sent (e.g. HTTP 400); it is sent again
 * later too, since dropping it would lose records.
 */
export type SiemExportErrorCode = 'MalformedRecord' | 'SinkUnavailable' | 'SinkRejected';

export class SiemExportError extends SovraError<SiemExportErrorCode> {}

export function siemError(
  code: SiemExportErrorCode,
  message: string,
  details: Record<string, unknown> = {},
  cause?: unknown,
): SiemExportError {
  return new SiemExportError(code, message, details, cause === undefined ? undefined : { cause });
}
