import { signRequest, type SigningCredentials } from '../../src/protocols/sigv4/sign.ts';
import { TEST_REGION } from './sovra-process.ts';

/**
 * A SigV4-signed request to one of Sovra's own APIs (service `sovra`: `/_sovra/admin/…`,
 * `/_sovra/audit/…`), as the CLI sends it. `body` goes as JSON (a string as it is); the answer is
 * the parsed JSON body, or null when there is none (204).
 */
export async function sovraRequest(
  endpoint: string,
  credentials: SigningCredentials,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: Record<string, unknown> | null }> {
  const url = new URL(path, endpoint);
  const text = body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body);
  const headers = signRequest({ method, url, body: text }, credentials, {
    region: TEST_REGION,
    service: 'sovra',
    now: new Date(),
  });
  delete headers.host;
  const response = await fetch(url, { method, headers, ...(text === '' ? {} : { body: text }) });
  const answer = await response.text();
  return {
    status: response.status,
    body: answer === '' ? null : (JSON.parse(answer) as Record<string, unknown>),
  };
}
