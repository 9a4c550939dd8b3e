import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { Caller } from '../../domain/iam/caller.ts';
import type { RequestJustification } from '../../domain/kms/justification.ts';
import type { ChecksumClaim } from '../../domain/storage/object-store.ts';
import type { VerifiedRequest } from '../sigv4/verify.ts';
import { s3Error } from './errors.ts';
import type { S3Route } from './route.ts';
import type { S3EndpointLog, S3Outcome } from './s3-endpoint.ts';

/** One S3 request in flight: the parsed route, who is calling, and the decoded body. */
export interface S3Exchange {
  req: IncomingMessage;
  res: ServerResponse;
  route: S3Route;
  caller: Caller;
  /** Who uses KMS keys for this request and why (protocols/s3/key-use.ts), for every data key it needs. */
  keyUse: RequestJustification;
  /** The verified signature; null for an unsigned (anonymous) request. */
  auth: VerifiedRequest | null;
  requestId: string;
  /** Decoded payload (aws-chunked removed, signatures and SHA-256 verified as it streams). */
  body: Readable;
  /** Plaintext length the client declared, when it did. */
  declaredBytes: number | null;
  /** The checksum the client asserted (header or trailer), if any. */
  checksumClaim: ChecksumClaim | null;
  /** The request's log, for handlers with something to report beyond the access log line. */
  log: S3EndpointLog;
  /** The request's outcome, for handlers that record more than the error (per-key denials). */
  outcome: S3Outcome;
}

export function sendXml(
  res: ServerResponse,
  status: number,
  xml: string,
  headers: OutgoingHttpHeaders = {},
): void {
  const body = Buffer.from(xml, 'utf8');
  res.writeHead(status, { ...headers, 'content-type': 'application/xml', 'content-length': body.length });
  res.end(body);
}

export function sendEmpty(res: ServerResponse, status: number, headers: OutgoingHttpHeaders = {}): void {
  res.writeHead(status, { ...headers, 'content-length': 0 });
  res.end();
}

/** Reads a small request body (XML configuration documents) with a size bound. */
export async function readBodyText(body: Readable, maxBytes: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > maxBytes)
      throw s3Error('MalformedXML', 'The XML you provided was larger than the maximum allowed size.');
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}
