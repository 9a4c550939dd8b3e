import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * Structured JSON logs (pino). Secrets never reach a log: credentials travel in headers and
 * query strings that are redacted or stripped before anything is logged.
 */
export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  return pino(
    {
      level,
      base: { service: 'sovra' },
      redact: {
        paths: [
          'req.headers.authorization',
          'req.headers["x-amz-security-token"]',
          'secretAccessKey',
          '*.secretAccessKey',
        ],
        censor: '[redacted]',
      },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination ?? pino.destination({ fd: 1, sync: false }),
  );
}

const SECRET_QUERY_PARAMS =
  /^(x-amz-signature|x-amz-credential|x-amz-security-token|signature|awsaccesskeyid)$/i;

/** The request path with signing material removed from its query string, for logs. */
export function loggablePath(url: string): string {
  const at = url.indexOf('?');
  if (at === -1) return url;
  const params = new URLSearchParams(url.slice(at + 1));
  for (const name of [...params.keys()]) if (SECRET_QUERY_PARAMS.test(name)) params.set(name, '[redacted]');
  const query = params.toString();
  return query === '' ? url.slice(0, at) : `${url.slice(0, at)}?${query}`;
}
