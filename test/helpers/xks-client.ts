import { request as httpRequest, type Agent as HttpAgent } from 'node:http';
import { request as httpsRequest, type Agent as HttpsAgent } from 'node:https';
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';

/**
 * A light XKS client as AWS KMS's proxy fleet calls a proxy: POST JSON, signed with SigV4 for
 * the service `kms-xks-proxy` over exactly `host;x-amz-date` (spec "Appendix A" and the curl
 * example of "Appendix D"), by @smithy/signature-v4.
 */
export interface XksClientOptions {
  /** `http(s)://host:port` */
  endpoint: string;
  /** '' or `/prefix`; requests go to `<uriPrefix>/kms/xks/v1/…`. */
  uriPrefix: string;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
  /** Signing time (defaults to now): tests of the replay window move it. */
  now?: () => Date;
  service?: string;
  agent?: HttpAgent | HttpsAgent;
  /** TLS options for https endpoints (CA to trust, client certificate). */
  tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer };
}

export interface XksResponse {
  status: number;
  body: Record<string, unknown>;
  contentType: string | undefined;
}

export const EXAMPLE_METADATA = {
  awsPrincipalArn: 'arn:aws:iam::123456789012:user/Alice',
  kmsKeyArn: 'arn:aws:kms:us-east-2:123456789012:/key/1234abcd-12ab-34cd-56ef-1234567890ab',
  kmsOperation: 'Encrypt',
  kmsRequestId: '4112f4d6-db54-4af4-ae30-c55a22a8dfae',
  kmsViaService: 'ebs',
};

export class XksClient {
  readonly #o: XksClientOptions;
  readonly #signer: SignatureV4;

  constructor(options: XksClientOptions) {
    this.#o = options;
    this.#signer = new SignatureV4({
      credentials: { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey },
      region: options.region,
      service: options.service ?? 'kms-xks-proxy',
      sha256: Sha256,
      // The body hash is signed but not sent: SignedHeaders is exactly host;x-amz-date.
      applyChecksum: false,
    });
  }

  /** `path` is relative to the API root, e.g. `/health` or `/keys/<id>/encrypt`. */
  async post(
    path: string,
    body: unknown,
    options: { method?: string; rawBody?: string } = {},
  ): Promise<XksResponse> {
    const url = new URL(`${this.#o.endpoint}${this.#o.uriPrefix}/kms/xks/v1${path}`);
    const text = options.rawBody ?? JSON.stringify(body);
    const method = options.method ?? 'POST';
    const signed = await this.#signer.sign(
      {
        method,
        protocol: url.protocol,
        hostname: url.hostname,
        port: Number(url.port),
        path: url.pathname,
        headers: { host: url.host, 'content-type': 'application/json' },
        body: text,
      },
      { signingDate: (this.#o.now ?? (() => new Date()))(), unsignableHeaders: new Set(['content-type']) },
    );
    return send(url, method, signed.headers, text, this.#o);
  }
}

function send(
  url: URL,
  method: string,
  headers: Record<string, string>,
  body: string,
  options: XksClientOptions,
): Promise<XksResponse> {
  const requestOf = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = requestOf(
      url,
      {
        method,
        headers: { ...headers, 'content-length': Buffer.byteLength(body) },
        agent: options.agent,
        ...(options.tls ?? {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown;
          try {
            parsed = text === '' ? {} : JSON.parse(text);
          } catch {
            parsed = { raw: text };
          }
          resolve({
            status: res.statusCode ?? 0,
            body: parsed as Record<string, unknown>,
            contentType: res.headers['content-type'],
          });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}
