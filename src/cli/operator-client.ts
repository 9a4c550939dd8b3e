import type { SealStatus } from '../domain/kms/seal.ts';
import { LIMITS } from '../platform/limits.ts';
import { signRequest, type SigningCredentials } from '../protocols/sigv4/sign.ts';

/** A refusal or failure reported by the server (`{"code", "message", "requestId"}`) or the network. */
export class OperatorRequestError extends Error {
  readonly code: string;
  readonly httpStatus: number | null;

  constructor(code: string, message: string, httpStatus: number | null) {
    super(message);
    this.name = 'OperatorRequestError';
    this.code = code;
    this.httpStatus = httpStatus;
  }
}

/** HTTP calls to a server's /_sovra/operator/ endpoints (see protocols/operator). */
export class OperatorClient {
  readonly #endpoint: URL;

  constructor(endpoint: string) {
    let url: URL;
    try {
      url = new URL(endpoint);
    } catch {
      throw new OperatorRequestError('InvalidEndpoint', `--endpoint: "${endpoint}" is not a URL`, null);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new OperatorRequestError(
        'InvalidEndpoint',
        '--endpoint must be an http:// or https:// URL',
        null,
      );
    }
    this.#endpoint = url;
  }

  status(): Promise<SealStatus> {
    return this.#call('GET', 'status', undefined, {});
  }

  unseal(share: string): Promise<SealStatus> {
    return this.#call('POST', 'unseal', JSON.stringify({ share }), { 'content-type': 'application/json' });
  }

  resetUnseal(): Promise<SealStatus> {
    return this.#call('POST', 'unseal', JSON.stringify({ reset: true }), {
      'content-type': 'application/json',
    });
  }

  /** Signed with SigV4 (service `sovra`) by the given credentials. */
  seal(credentials: SigningCredentials, region: string, now: Date): Promise<SealStatus> {
    const url = this.#url('seal');
    const signed = signRequest({ method: 'POST', url, body: '' }, credentials, {
      region,
      service: 'sovra',
      now,
    });
    // fetch sets Host itself, to the same value that was signed.
    delete signed.host;
    return this.#call('POST', 'seal', '', signed);
  }

  #url(name: string): URL {
    const base = this.#endpoint.href.endsWith('/') ? this.#endpoint.href : `${this.#endpoint.href}/`;
    return new URL(`_sovra/operator/${name}`, base);
  }

  async #call(
    method: string,
    name: string,
    body: string | undefined,
    headers: Record<string, string>,
  ): Promise<SealStatus> {
    let response: Response;
    try {
      response = await fetch(this.#url(name), {
        method,
        headers,
        body,
        signal: AbortSignal.timeout(LIMITS.operatorClientTimeoutMs),
      });
    } catch (error) {
      const cause = (error as { cause?: { message?: string } }).cause?.message ?? (error as Error).message;
      throw new OperatorRequestError('Unreachable', `cannot reach ${this.#endpoint.origin}: ${cause}`, null);
    }
    const text = await response.text();
    let parsed: unknown = null;
    try {
      parsed = JSON.parse(text);
    } catch {
      // Reported below as an unexpected answer.
    }
    if (!response.ok) {
      const error = parsed as { code?: unknown; message?: unknown } | null;
      if (error !== null && typeof error.code === 'string' && typeof error.message === 'string') {
        throw new OperatorRequestError(error.code, error.message, response.status);
      }
      throw new OperatorRequestError(
        'UnexpectedResponse',
        `the server answered HTTP ${response.status}`,
        response.status,
      );
    }
    return sealStatusOf(parsed);
  }
}

function sealStatusOf(value: unknown): SealStatus {
  const fields = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
  const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;
  if (
    fields.type !== 'shamir' ||
    typeof fields.initialized !== 'boolean' ||
    typeof fields.sealed !== 'boolean' ||
    !isCount(fields.threshold) ||
    !isCount(fields.shares) ||
    !isCount(fields.progress) ||
    typeof fields.nonce !== 'string'
  ) {
    throw new OperatorRequestError(
      'UnexpectedResponse',
      'the server answered with something other than a seal status',
      200,
    );
  }
  return {
    type: 'shamir',
    initialized: fields.initialized,
    sealed: fields.sealed,
    threshold: fields.threshold,
    shares: fields.shares,
    progress: fields.progress,
    nonce: fields.nonce,
  };
}
