import { ATTESTATION_HEADER, encodeAttestationHeader } from '../domain/lockbox/attestation.ts';
import type { SigningCredentials } from '../protocols/sigv4/sign.ts';
import { sendSovraRequest } from './sovra-request.ts';

/** A refusal reported by the server (`{"code", "message", "requestId"}`) or a network failure. */
export class AccessRequestError extends Error {
  readonly code: string;
  readonly httpStatus: number | null;

  constructor(code: string, message: string, httpStatus: number | null) {
    super(message);
    this.name = 'AccessRequestError';
    this.code = code;
    this.httpStatus = httpStatus;
  }
}

/** An access request as the server renders it (protocols/access/access-endpoint.ts renderRequest). */
export type AccessRequestDocument = Record<string, unknown> & { id: string; status: string };

export interface AccessRequestsPage {
  requests: AccessRequestDocument[];
  nextAfter: string | null;
}

/** An accepted attestation revocation as the server renders it (renderRevocation). */
export type AttestationRevocationDocument = Record<string, unknown> & { id: string; seq: number };

export interface AttestationRevocationsPage {
  revocations: AttestationRevocationDocument[];
  nextAfter: string | null;
}

export type AccessDecision = 'approve' | 'deny' | 'revoke' | 'confirm' | 'acknowledge';

/** The caller's tenant's security notification setting as the server renders it. */
export interface SecurityNotificationDocument {
  tenantId: string;
  /** The operator-registered notification target's ARN, or null: none. */
  destination: string | null;
  updatedBy: string | null;
  updatedAt: string | null;
}

/** Calls to a server's /_sovra/access/ endpoints, signed with SigV4 (service `sovra`). */
export class AccessClient {
  readonly #base: URL;
  readonly #credentials: SigningCredentials;
  readonly #region: string;

  constructor(endpoint: string, credentials: SigningCredentials, region: string) {
    let url: URL;
    try {
      url = new URL(endpoint.endsWith('/') ? endpoint : `${endpoint}/`);
    } catch {
      throw new AccessRequestError('InvalidEndpoint', `"${endpoint}" is not a URL`, null);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new AccessRequestError(
        'InvalidEndpoint',
        'the endpoint must be an http:// or https:// URL',
        null,
      );
    }
    this.#base = url;
    this.#credentials = credentials;
    this.#region = region;
  }

  /** Files a request (an operator, presenting its security office's attestation note). */
  async file(request: Record<string, unknown>, attestationNote: string): Promise<AccessRequestDocument> {
    return this.#request('POST', '_sovra/access/requests', JSON.stringify(request), attestationNote);
  }

  async list(query: Record<string, string>): Promise<AccessRequestsPage> {
    const search = new URLSearchParams(query).toString();
    const answer = await this.#send(
      'GET',
      `_sovra/access/requests${search === '' ? '' : `?${search}`}`,
      '',
      null,
    );
    return JSON.parse(answer.toString('utf8')) as AccessRequestsPage;
  }

  async get(id: string): Promise<AccessRequestDocument> {
    return this.#request('GET', `_sovra/access/requests/${encodeURIComponent(id)}`, '', null);
  }

  /** approve / deny / revoke / acknowledge (with a comment or reason), or confirm (an attested operator). */
  async decide(
    id: string,
    decision: AccessDecision,
    body: Record<string, string>,
    attestationNote: string | null = null,
  ): Promise<AccessRequestDocument> {
    return this.#request(
      'POST',
      `_sovra/access/requests/${encodeURIComponent(id)}/${decision}`,
      JSON.stringify(body),
      attestationNote,
    );
  }

  /** The caller's tenant's security notification destination (its administrators). */
  async notifications(
    method: 'GET' | 'PUT' | 'DELETE',
    destination: string | null = null,
  ): Promise<SecurityNotificationDocument> {
    const body = method === 'PUT' ? JSON.stringify({ destination }) : '';
    const answer = await this.#send(method, '_sovra/access/notifications', body, null);
    return (JSON.parse(answer.toString('utf8')) as { notifications: SecurityNotificationDocument })
      .notifications;
  }

  /** Submits a security office's revocation note (a platform operator). */
  async revokeAttestation(note: string): Promise<AttestationRevocationDocument> {
    const answer = await this.#send(
      'POST',
      '_sovra/access/attestation-revocations',
      note,
      null,
      'text/plain',
    );
    return (JSON.parse(answer.toString('utf8')) as { revocation: AttestationRevocationDocument }).revocation;
  }

  /** Accepted revocations in acceptance order (platform operators). */
  async revocations(query: Record<string, string>): Promise<AttestationRevocationsPage> {
    const search = new URLSearchParams(query).toString();
    const answer = await this.#send(
      'GET',
      `_sovra/access/attestation-revocations${search === '' ? '' : `?${search}`}`,
      '',
      null,
    );
    return JSON.parse(answer.toString('utf8')) as AttestationRevocationsPage;
  }

  async #request(
    method: 'GET' | 'POST',
    path: string,
    body: string,
    attestationNote: string | null,
  ): Promise<AccessRequestDocument> {
    const answer = await this.#send(method, path, body, attestationNote);
    return (JSON.parse(answer.toString('utf8')) as { request: AccessRequestDocument }).request;
  }

  #send(
    method: 'GET' | 'POST' | 'PUT' | 'DELETE',
    path: string,
    body: string,
    attestationNote: string | null,
    contentType = 'application/json',
  ): Promise<Buffer> {
    const headers: Record<string, string> =
      method === 'POST' || method === 'PUT' ? { 'content-type': contentType } : {};
    if (attestationNote !== null) headers[ATTESTATION_HEADER] = encodeAttestationHeader(attestationNote);
    return sendSovraRequest(
      {
        method,
        url: new URL(path, this.#base),
        body,
        headers,
        credentials: this.#credentials,
        region: this.#region,
      },
      (code, message, status) => new AccessRequestError(code, message, status),
    );
  }
}
