import type { DisclosedRecord } from '../domain/audit/audit-reader.ts';
import type { LogSource, SourcedLeaf } from '../domain/audit/log-verifier.ts';
import { parseEntryBundle } from '../domain/audit/tlog/entry-bundle.ts';
import { TLOG_LIMITS } from '../domain/audit/tlog/limits.ts';
import { formatEntryBundlePath, formatTilePath } from '../domain/audit/tlog/tile-paths.ts';
import type { SigningCredentials } from '../protocols/sigv4/sign.ts';
import { sendSovraRequest } from './sovra-request.ts';

/** A refusal reported by the server (`{"code", "message", "requestId"}`) or a network failure. */
export class AuditRequestError extends Error {
  readonly code: string;
  readonly httpStatus: number | null;

  constructor(code: string, message: string, httpStatus: number | null) {
    super(message);
    this.name = 'AuditRequestError';
    this.code = code;
    this.httpStatus = httpStatus;
  }
}

export interface RecordsPage {
  records: DisclosedRecord[];
  checkpoint: string | null;
  nextAfter: number | null;
}

/** Calls to a server's /_sovra/audit/ endpoints, signed with SigV4 (service `sovra`). */
export class AuditClient {
  readonly #base: URL;
  readonly #credentials: SigningCredentials | null;
  readonly #region: string;

  constructor(endpoint: string, credentials: SigningCredentials | null, region: string) {
    let url: URL;
    try {
      url = new URL(endpoint.endsWith('/') ? endpoint : `${endpoint}/`);
    } catch {
      throw new AuditRequestError('InvalidEndpoint', `"${endpoint}" is not a URL`, null);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new AuditRequestError('InvalidEndpoint', 'the endpoint must be an http:// or https:// URL', null);
    }
    this.#base = url;
    this.#credentials = credentials;
    this.#region = region;
  }

  async verifierKeys(): Promise<string[]> {
    const text = (await this.#get('_sovra/audit/vkeys', false)).toString('utf8');
    return text.split('\n').filter((line) => line.length > 0);
  }

  async checkpoint(): Promise<string> {
    return (await this.#get('_sovra/audit/log/checkpoint')).toString('utf8');
  }

  async tile(path: string): Promise<Buffer> {
    return this.#get(`_sovra/audit/log/${path}`);
  }

  async records(query: Record<string, string>): Promise<RecordsPage> {
    const search = new URLSearchParams(query).toString();
    return JSON.parse(
      (await this.#get(`_sovra/audit/records${search === '' ? '' : `?${search}`}`)).toString('utf8'),
    ) as RecordsPage;
  }

  /** Submits a witness's cosignature line of the checkpoint of `treeSize`; returns how many were accepted. */
  async submitCosignature(treeSize: number, signatureLine: string): Promise<number> {
    const body = JSON.parse(
      (await this.#send('POST', `_sovra/audit/log/cosignature?size=${treeSize}`, signatureLine)).toString(
        'utf8',
      ),
    ) as { accepted: number };
    return body.accepted;
  }

  async consistencyProof(oldSize: number, newSize: number): Promise<Buffer[]> {
    const body = JSON.parse(
      (await this.#get(`_sovra/audit/proof/consistency?old=${oldSize}&new=${newSize}`)).toString('utf8'),
    ) as { proof: string[] };
    return body.proof.map((hash) => Buffer.from(hash, 'base64'));
  }

  /** The log as its tlog-tiles endpoint serves it: the latest checkpoint, entry bundles and level-0 tiles. */
  tilesSource(): LogSource {
    return {
      checkpoints: async () => [await this.checkpoint()],
      leaves: async (start, end) => {
        const leaves: SourcedLeaf[] = [];
        const width = TLOG_LIMITS.tileWidth;
        for (let tile = Math.floor(start / width); tile * width < end; tile += 1) {
          const count = Math.min(width, end - tile * width);
          const entries = parseEntryBundle(await this.tile(formatEntryBundlePath(tile, count)), count);
          entries.forEach((leaf, i) => {
            const index = tile * width + i;
            if (index >= start) leaves.push({ index, leaf, canonical: null, salt: null });
          });
        }
        return leaves;
      },
      // Tiles are fetched at the width the last checkpoint covers; a full tile otherwise.
      leafHashTile: async (index) => {
        try {
          return await this.tile(formatTilePath(0, index));
        } catch (error) {
          if (error instanceof AuditRequestError && error.httpStatus === 404) return null;
          throw error;
        }
      },
    };
  }

  #get(path: string, signed = true): Promise<Buffer> {
    return this.#send('GET', path, '', signed);
  }

  #send(method: 'GET' | 'POST', path: string, body: string, signed = true): Promise<Buffer> {
    if (signed && this.#credentials === null) {
      return Promise.reject(new AuditRequestError('MissingCredentials', 'credentials are required', null));
    }
    return sendSovraRequest(
      {
        method,
        url: new URL(path, this.#base),
        body,
        credentials: signed ? this.#credentials : null,
        region: this.#region,
      },
      (code, message, status) => new AuditRequestError(code, message, status),
    );
  }
}
