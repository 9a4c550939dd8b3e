import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Caller } from '../../domain/iam/caller.ts';
import type { CredentialResolver } from '../../domain/iam/credentials.ts';
import { principalArnOf } from '../../domain/kms/key-policy.ts';
import type { IdentitySources } from '../../domain/iam/sts-sessions.ts';
import type { IssuedSession, SecurityTokenService } from '../../domain/iam/sts.ts';
import type { Clock } from '../../platform/clock.ts';
import { newAdminOutcome, type AdminOutcome } from '../admin/admin-endpoint.ts';
import { readBoundedBody } from '../bounded-body.ts';
import { SignedRequestAuthenticator } from '../sigv4/signed-request.ts';
import { StsProtocolError, stsWireError } from './errors.ts';

/** STS Query requests are small forms; a web identity token is at most 20,000 characters. */
export const STS_REQUEST_BODY_MAX_BYTES = 64 * 1024;
/** The only API version of AWS STS. */
export const STS_API_VERSION = '2011-06-15';
const STS_XMLNS = 'https://sts.amazonaws.com/doc/2011-06-15/';
const SIGNING_SERVICE = 'sts';
const ACTIONS = ['AssumeRoleWithWebIdentity', 'AssumeRole', 'GetCallerIdentity'] as const;
type StsAction = (typeof ACTIONS)[number];

/**
 * An AWS STS request as @aws-sdk/client-sts sends it to a custom endpoint: `POST /` with a
 * form-encoded body (`Action=…&Version=2011-06-15&…`). S3 never takes a form-encoded POST at the
 * root (POST Object is multipart/form-data on a bucket), KMS is JSON with X-Amz-Target.
 */
export function isStsRequest(req: IncomingMessage): boolean {
  if (req.method !== 'POST') return false;
  const url = req.url ?? '/';
  if (url !== '/' && !url.startsWith('/?')) return false;
  const type = req.headers['content-type'];
  return typeof type === 'string' && type.toLowerCase().startsWith('application/x-www-form-urlencoded');
}

/** What a request did, for the audit log (recorded like an admin request) and the access log. */
export const newStsOutcome: () => AdminOutcome = newAdminOutcome;

export interface StsEndpointOptions {
  sts: SecurityTokenService;
  credentials: CredentialResolver;
  sources: IdentitySources;
  clock: Clock;
  region: string;
  log: { error(fields: Record<string, unknown>, message: string): void };
}

/**
 * AWS STS's Query protocol (https://docs.aws.amazon.com/STS/latest/APIReference/welcome.html):
 * AssumeRoleWithWebIdentity (unsigned: the token authenticates), AssumeRole and
 * GetCallerIdentity (SigV4-signed for service `sts`). Answers are the XML documents AWS STS
 * returns; errors `<ErrorResponse>` with AWS's codes (errors.ts).
 */
export class StsEndpoint {
  readonly #o: StsEndpointOptions;
  readonly #signed: SignedRequestAuthenticator;

  constructor(options: StsEndpointOptions) {
    this.#o = options;
    this.#signed = SignedRequestAuthenticator.for(options, SIGNING_SERVICE);
  }

  async handle(
    req: IncomingMessage,
    res: ServerResponse,
    requestId: string,
    outcome: AdminOutcome = newStsOutcome(),
  ): Promise<AdminOutcome> {
    try {
      const body = await readBoundedBody(
        req,
        STS_REQUEST_BODY_MAX_BYTES,
        () =>
          new StsProtocolError(
            'RequestTooLarge',
            `STS requests are limited to ${STS_REQUEST_BODY_MAX_BYTES} bytes`,
          ),
      );
      const form = new URLSearchParams(body.toString('utf8'));
      const action = actionOf(form);
      outcome.action = `sts:${action}`;
      switch (action) {
        case 'AssumeRoleWithWebIdentity': {
          const input = {
            roleArn: required(form, 'RoleArn'),
            roleSessionName: required(form, 'RoleSessionName'),
            webIdentityToken: required(form, 'WebIdentityToken'),
            durationSeconds: optionalInteger(form, 'DurationSeconds'),
          };
          unsupported(form, ['Policy', 'PolicyArns.member.1', 'ProviderId']);
          outcome.resource = input.roleArn;
          const issued = await this.#o.sts.assumeRoleWithWebIdentity(input);
          record(outcome, issued);
          send(res, 200, webIdentityResponse(issued, requestId));
          break;
        }
        case 'AssumeRole': {
          const caller = await this.#authenticate(req, body, requestId, outcome);
          const input = {
            roleArn: required(form, 'RoleArn'),
            roleSessionName: required(form, 'RoleSessionName'),
            durationSeconds: optionalInteger(form, 'DurationSeconds'),
          };
          unsupported(form, ['Policy', 'PolicyArns.member.1', 'SerialNumber', 'TokenCode', 'ExternalId']);
          outcome.resource = input.roleArn;
          const issued = await this.#o.sts.assumeRole(caller, input);
          send(res, 200, assumeRoleResponse(issued, requestId));
          break;
        }
        case 'GetCallerIdentity': {
          const caller = await this.#authenticate(req, body, requestId, outcome);
          const attributes = await this.#o.sources.attributesOf(caller.principalId);
          const arn = attributes?.arn ?? principalArnOf(caller.tenantId, caller.principalId);
          outcome.resource = arn;
          send(
            res,
            200,
            response(
              'GetCallerIdentity',
              `<Arn>${xml(arn)}</Arn><UserId>${xml(caller.principalId)}</UserId><Account>${xml(caller.tenantId)}</Account>`,
              requestId,
            ),
          );
          break;
        }
      }
    } catch (error) {
      const wire = stsWireError(error);
      outcome.errorCode = wire.code;
      if (wire.status === 500) this.#o.log.error({ err: error, requestId }, 'STS request failed');
      if (res.headersSent) {
        res.destroy();
      } else {
        const message =
          wire.status === 500 ? `internal error; see the server log for request ${requestId}` : wire.message;
        send(
          res,
          wire.status,
          `<ErrorResponse xmlns="${STS_XMLNS}"><Error><Type>${wire.type}</Type><Code>${xml(wire.code)}</Code>` +
            `<Message>${xml(message)}</Message></Error><RequestId>${xml(requestId)}</RequestId></ErrorResponse>`,
          wire.code === 'RequestTooLarge' ? { connection: 'close' } : {},
        );
        if (wire.code === 'RequestTooLarge') res.once('finish', () => req.destroy());
      }
    }
    return outcome;
  }

  async #authenticate(
    req: IncomingMessage,
    body: Buffer,
    requestId: string,
    outcome: AdminOutcome,
  ): Promise<Caller> {
    const { principal, caller } = await this.#signed.callerOf(req, body, requestId);
    outcome.principalId = principal.id;
    outcome.tenantId = principal.tenantId;
    return caller;
  }
}

function actionOf(form: URLSearchParams): StsAction {
  const action = form.get('Action');
  if (action === null)
    throw new StsProtocolError('MissingAction', 'The request must contain the parameter Action.');
  const version = form.get('Version');
  if (version !== null && version !== STS_API_VERSION) {
    throw new StsProtocolError('InvalidParameterValue', `Version must be ${STS_API_VERSION}.`);
  }
  const known = ACTIONS.find((name) => name === action);
  if (known === undefined) {
    throw new StsProtocolError(
      'InvalidAction',
      `Could not find operation ${action.slice(0, 64)} for version ${STS_API_VERSION}`,
    );
  }
  return known;
}

function required(form: URLSearchParams, name: string): string {
  const value = form.get(name);
  if (value === null || value === '') {
    throw new StsProtocolError('MissingParameter', `The request must contain the parameter ${name}.`);
  }
  return value;
}

function optionalInteger(form: URLSearchParams, name: string): number | null {
  const value = form.get(name);
  if (value === null) return null;
  if (!/^[0-9]{1,9}$/.test(value))
    throw new StsProtocolError('InvalidParameterValue', `${name} must be an integer.`);
  return Number(value);
}

/** Session policies and MFA are not offered: refusing them is safer than ignoring a narrowing. */
function unsupported(form: URLSearchParams, names: readonly string[]): void {
  for (const name of names) {
    if (form.has(name))
      throw new StsProtocolError('InvalidParameterValue', `${name} is not supported by Sovra.`);
  }
}

function record(outcome: AdminOutcome, issued: IssuedSession): void {
  outcome.principalId = issued.principalId;
  outcome.tenantId = issued.tenantId;
}

function credentialsXml(issued: IssuedSession): string {
  return (
    `<Credentials><AccessKeyId>${issued.accessKeyId}</AccessKeyId>` +
    `<SecretAccessKey>${xml(issued.secretAccessKey)}</SecretAccessKey>` +
    `<SessionToken>${xml(issued.sessionToken)}</SessionToken>` +
    `<Expiration>${issued.expiresAt.toISOString().replace('.000Z', 'Z')}</Expiration></Credentials>` +
    `<AssumedRoleUser><Arn>${xml(issued.assumedRoleArn)}</Arn>` +
    `<AssumedRoleId>${xml(issued.assumedRoleId)}</AssumedRoleId></AssumedRoleUser>`
  );
}

/** API_AssumeRoleWithWebIdentity's response elements. */
function webIdentityResponse(issued: IssuedSession, requestId: string): string {
  return response(
    'AssumeRoleWithWebIdentity',
    credentialsXml(issued) +
      `<SubjectFromWebIdentityToken>${xml(issued.subject ?? '')}</SubjectFromWebIdentityToken>` +
      `<Audience>${xml(issued.audience ?? '')}</Audience>` +
      `<Provider>${xml(issued.provider ?? '')}</Provider>`,
    requestId,
  );
}

function assumeRoleResponse(issued: IssuedSession, requestId: string): string {
  return response('AssumeRole', credentialsXml(issued), requestId);
}

function response(action: StsAction, result: string, requestId: string): string {
  return (
    `<${action}Response xmlns="${STS_XMLNS}"><${action}Result>${result}</${action}Result>` +
    `<ResponseMetadata><RequestId>${xml(requestId)}</RequestId></ResponseMetadata></${action}Response>`
  );
}

function send(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, {
    ...headers,
    'content-type': 'text/xml',
    'content-length': Buffer.byteLength(body),
    // Answers carry secrets.
    'cache-control': 'no-store',
    'x-amzn-requestid': res.getHeader('x-amz-request-id') ?? '',
  });
  res.end(body);
}

function xml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
