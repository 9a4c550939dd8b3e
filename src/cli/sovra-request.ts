import { signRequest, type SigningCredentials } from '../protocols/sigv4/sign.ts';

export interface SovraRequest {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  url: URL;
  body: string;
  /** Extra headers, signed with the rest. */
  headers?: Record<string, string>;
  /** Null sends the request unsigned (public resources such as the audit log's verifier keys). */
  credentials: SigningCredentials | null;
  region: string;
}

/**
 * One call to one of Sovra's own JSON APIs (/_sovra/…), signed with SigV4 service `sovra`. A
 * failure — unreachable server, or a non-2xx answer whose JSON body names `code` and `message` —
 * becomes the calling client's own error through `fail`.
 */
export async function sendSovraRequest(
  request: SovraRequest,
  fail: (code: string, message: string, httpStatus: number | null) => Error,
): Promise<Buffer> {
  const { method, url, body } = request;
  let headers: Record<string, string> = request.headers ?? {};
  if (request.credentials !== null) {
    headers = signRequest({ method, url, body, headers }, request.credentials, {
      region: request.region,
      service: 'sovra',
      now: new Date(),
    });
    // fetch sets Host itself, to the same value that was signed.
    delete headers.host;
  }
  let response: Response;
  try {
    response = await fetch(url, {
      method,
      headers,
      ...(method === 'POST' || method === 'PUT' ? { body } : {}),
    });
  } catch (error) {
    throw fail('Unreachable', `cannot reach ${url.origin}: ${(error as Error).message}`, null);
  }
  const answer = Buffer.from(await response.arrayBuffer());
  if (!response.ok) {
    let code = 'HttpError';
    let message = `HTTP ${response.status}`;
    try {
      const parsed = JSON.parse(answer.toString('utf8')) as { code?: string; message?: string };
      code = parsed.code ?? code;
      message = parsed.message ?? message;
    } catch {
      // Not a JSON error body: keep the status.
    }
    throw fail(code, message, response.status);
  }
  return answer;
}
