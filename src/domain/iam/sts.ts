import { createHash, randomBytes } from 'node:crypto';
import type { Clock } from '../../platform/clock.ts';
import { SovraError } from '../../platform/errors.ts';
import { randomHexId } from '../../platform/ids.ts';
import { newSecretAccessKey } from './bootstrap.ts';
import type { Caller } from './caller.ts';
import { sessionSecretContext, TEMPORARY_ACCESS_KEY_PREFIX, type SecretSealer } from './credentials.ts';
import {
  federationError,
  mapClaims,
  providerArn,
  providerName,
  type IdentityProviderRecord,
} from './federation.ts';
import { unverifiedIssuer, type IdTokenVerifier, type VerifiedIdToken } from './federation-tokens.ts';
import { roleArn } from './identity-arns.ts';
import {
  authorize,
  buildRequestContext,
  IDENTITY_POLICY_SIZE_LIMIT,
  parsePolicy,
  type Decision,
  type LabeledPolicy,
} from './policy/index.ts';
import type { IdentityReads } from './ports.ts';
import { TENANT_ADMINISTRATOR_POLICY_TEXT } from './request-authorizer.ts';
import {
  assumedRoleArn,
  SESSION_PRINCIPAL_PREFIX,
  type FederationStore,
  type IdentitySources,
  type SessionRecord,
} from './sts-sessions.ts';
import { parseTrustPolicy } from './trust-policy.ts';
import type { PrincipalRecord } from './types.ts';
import { requestPrincipalOf } from './identity-policies.ts';

/**
 * Codes of AWS STS (https://docs.aws.amazon.com/STS/latest/APIReference/CommonErrors.html and each
 * action's Errors section) that the STS service raises itself; token and provider failures are
 * FederationError (InvalidIdentityToken, ExpiredTokenException, IDPRejectedClaim, …).
 */
export type StsErrorCode = 'AccessDenied' | 'ValidationError';

export class StsError extends SovraError<StsErrorCode> {}

/** API_AssumeRole: "DurationSeconds … minimum value of 900 … maximum … 43200"; default 3600. */
export const SESSION_DURATION_MIN_SECONDS = 900;
export const SESSION_DURATION_MAX_SECONDS = 43_200;
export const SESSION_DURATION_DEFAULT_SECONDS = 3600;
/**
 * A role's maximum session duration (IAM's MaxSessionDuration, default one hour) is read from this
 * role tag, in seconds (3600 to 43200), until roles carry the setting themselves.
 */
export const MAX_SESSION_DURATION_TAG = 'sovra:max-session-duration';
/** RoleSessionName: 2 to 64 characters of `[\w+=,.@-]`. */
const ROLE_SESSION_NAME = /^[\w+=,.@-]{2,64}$/;
const ROLE_ARN = /^arn:aws:iam::([a-z][a-z0-9-]{2,62}):role\/(?:[\x21-\x7e]*\/)?([A-Za-z0-9+=,.@_-]{1,64})$/;
const ACCESS_KEY_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

export interface AssumeRoleWithWebIdentityInput {
  roleArn: string;
  roleSessionName: string;
  webIdentityToken: string;
  durationSeconds: number | null;
}

export interface AssumeRoleInput {
  roleArn: string;
  roleSessionName: string;
  durationSeconds: number | null;
}

/** Temporary credentials, with the secret and token in plaintext only in this value. */
export interface IssuedSession {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  expiresAt: Date;
  assumedRoleArn: string;
  /** `<role id>:<session name>`, AWS's AssumedRoleId. */
  assumedRoleId: string;
  tenantId: string;
  principalId: string;
  /** Web identity only. */
  subject: string | null;
  audience: string | null;
  provider: string | null;
}

export interface SecurityTokenServiceOptions {
  identities: IdentityReads;
  /** The request path's identity sources, aware of sessions (role chaining). */
  sources: IdentitySources;
  federation: FederationStore;
  tokens: IdTokenVerifier;
  sealer: SecretSealer;
  clock: Clock;
}

/**
 * AWS STS's AssumeRoleWithWebIdentity and AssumeRole
 * (https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRoleWithWebIdentity.html).
 * A session gets the role's permissions; a web identity's session also the clearance and
 * compartments its claims map to.
 */
export class SecurityTokenService {
  readonly #o: SecurityTokenServiceOptions;

  constructor(options: SecurityTokenServiceOptions) {
    this.#o = options;
  }

  /**
   * 1. the request's values; 2. the tenant's provider for the token's issuer; 3. the token
   * verified against the provider's keys; 4. the role, whose trust policy must allow
   * sts:AssumeRoleWithWebIdentity for the provider; 5. the provider's mapping rules, which must
   * map the claims to this role; 6. the session issued.
   */
  async assumeRoleWithWebIdentity(input: AssumeRoleWithWebIdentityInput): Promise<IssuedSession> {
    const { tenantId, roleName } = checkRoleArn(input.roleArn);
    const sessionName = checkSessionName(input.roleSessionName);
    const durationSeconds = checkDuration(input.durationSeconds);
    const issuer = unverifiedIssuer(input.webIdentityToken);
    const provider = await this.#o.federation.findIdentityProvider(tenantId, issuer);
    if (provider === null) {
      throw federationError(
        'InvalidIdentityToken',
        `No OpenIDConnect provider found in your account for ${issuer}`,
      );
    }
    const token = await this.#o.tokens.verify(provider, input.webIdentityToken);
    const role = await this.#role(tenantId, roleName, 'sts:AssumeRoleWithWebIdentity');
    const sessionArn = assumedRoleArn(tenantId, roleName, sessionName);
    const trust = this.#webIdentityTrust(role, provider, token, sessionArn, sessionName);
    if (trust.effect !== 'Allow') throw notAuthorized('sts:AssumeRoleWithWebIdentity', role, trust.reason);
    const mapped = mapClaims(provider.mapping, token.claims);
    if (!mapped.roles.has(roleName)) {
      throw notAuthorized(
        'sts:AssumeRoleWithWebIdentity',
        role,
        mapped.roles.size === 0
          ? 'the token’s claims map to no role'
          : 'the token’s claims do not map to this role',
      );
    }
    checkMaxSession(role, durationSeconds);
    return this.#issue(role, sessionName, durationSeconds, {
      sourceIdentity: `${token.issuer}#${token.subject}`,
      provider: token.issuer,
      audience: token.audience,
      clearance: mapped.clearance,
      compartments: mapped.compartments,
      subject: token.subject,
    });
  }

  /**
   * AssumeRole by a signed-in principal: the role's trust policy (a resource policy) and, as AWS
   * evaluates it, the caller's identity policies when the trust policy names only the tenant.
   */
  async assumeRole(caller: Caller, input: AssumeRoleInput): Promise<IssuedSession> {
    const { tenantId, roleName } = checkRoleArn(input.roleArn);
    const sessionName = checkSessionName(input.roleSessionName);
    const durationSeconds = checkDuration(input.durationSeconds);
    const role = await this.#role(tenantId, roleName, 'sts:AssumeRole');
    const attributes = await this.#o.sources.attributesOf(caller.principalId);
    if (attributes === null) throw notAuthorized('sts:AssumeRole', role, 'the caller is unknown');
    const context = buildRequestContext({
      principal: requestPrincipalOf(attributes),
      action: 'sts:AssumeRole',
      resource: roleArn(tenantId, roleName),
      resourceTenantId: tenantId,
      conditionKeys: {
        'aws:SourceIp': caller.sourceIp,
        'aws:SecureTransport': caller.secureTransport ? 'true' : 'false',
        'sts:RoleSessionName': sessionName,
      },
      now: this.#o.clock.now(),
    });
    const identityPolicies: LabeledPolicy[] = [
      ...(await this.#o.sources.labeledPoliciesFor(caller.principalId)),
    ];
    if (caller.isTenantAdmin) identityPolicies.unshift(tenantAdministratorPolicy());
    const decision = authorize(context, {
      identityPolicies,
      resourcePolicies: [
        { label: 'trust policy', policy: parseTrustPolicy(role.trustPolicy ?? '', tenantId, roleName) },
      ],
    });
    if (decision.effect !== 'Allow')
      throw notAuthorized('sts:AssumeRole', role, decision.reason, attributes.arn);
    checkMaxSession(role, durationSeconds);
    return this.#issue(role, sessionName, durationSeconds, {
      sourceIdentity: caller.principalId,
      provider: null,
      audience: null,
      // A chained session keeps its clearance; otherwise the caller's own.
      clearance: attributes.clearance,
      compartments: attributes.compartments,
      subject: null,
    });
  }

  async #role(tenantId: string, roleName: string, action: string): Promise<PrincipalRecord> {
    const role = await this.#o.identities.findPrincipal(tenantId, 'role', roleName);
    if (role === null || role.kind !== 'role') {
      // The same answer as a trust policy refusal: whether a role exists is not revealed.
      throw new StsError(
        'AccessDenied',
        `Not authorized to perform ${action} on ${roleArn(tenantId, roleName)}`,
      );
    }
    return role;
  }

  /**
   * The trust policy for a web identity. The policy library matches IAM principals only, so the
   * statements whose Principal names this provider (or everyone) are evaluated as identity
   * statements of the role's ARN, with the provider's condition keys: `<provider>:aud`,
   * `<provider>:sub`, `<provider>:oaud`, aws:FederatedProvider, sts:RoleSessionName
   * (reference_policies_iam-condition-keys, "Available keys for OIDC federation").
   */
  #webIdentityTrust(
    role: PrincipalRecord,
    provider: IdentityProviderRecord,
    token: VerifiedIdToken,
    sessionArn: string,
    sessionName: string,
  ): Decision {
    const names = new Set([
      provider.issuer,
      providerName(provider.issuer),
      providerArn(role.tenantId, provider.issuer),
    ]);
    const statements = trustStatements(role.trustPolicy).filter((statement) =>
      namesProvider(statement, names),
    );
    if (statements.length === 0) {
      return {
        effect: 'ImplicitDeny',
        contributions: [],
        reason: 'no trust policy statement names the provider',
      };
    }
    const arn = roleArn(role.tenantId, role.name);
    const document = JSON.stringify({
      Version: '2012-10-17',
      Statement: statements.map((statement) => {
        const { Principal: _principal, NotPrincipal: _notPrincipal, ...rest } = statement;
        return { ...rest, Resource: arn };
      }),
    });
    const policy = parsePolicy(document, { kind: 'identity', sizeLimit: IDENTITY_POLICY_SIZE_LIMIT });
    const name = providerName(provider.issuer);
    const context = buildRequestContext({
      principal: { kind: 'iam', arn: sessionArn, tenantId: role.tenantId },
      action: 'sts:AssumeRoleWithWebIdentity',
      resource: arn,
      resourceTenantId: role.tenantId,
      conditionKeys: {
        [`${name}:aud`]: token.audience,
        [`${name}:oaud`]: token.audience,
        [`${name}:sub`]: token.subject,
        'aws:FederatedProvider': providerArn(role.tenantId, provider.issuer),
        'sts:RoleSessionName': sessionName,
      },
      now: this.#o.clock.now(),
    });
    return authorize(context, {
      identityPolicies: [{ label: 'trust policy', policy }],
      resourcePolicies: [],
    });
  }

  async #issue(
    role: PrincipalRecord,
    sessionName: string,
    durationSeconds: number,
    origin: {
      sourceIdentity: string;
      provider: string | null;
      audience: string | null;
      clearance: string | null;
      compartments: readonly string[];
      subject: string | null;
    },
  ): Promise<IssuedSession> {
    const now = this.#o.clock.now();
    const accessKeyId = newTemporaryAccessKeyId();
    const secretAccessKey = newSecretAccessKey();
    // 256 random bits: a plain SHA-256 at rest suffices, nothing to slow down against guessing.
    const sessionToken = `Sovra1.${randomBytes(32).toString('base64url')}`;
    const session: SessionRecord = {
      accessKeyId,
      principalId: `${SESSION_PRINCIPAL_PREFIX}${randomHexId(8)}`,
      tenantId: role.tenantId,
      roleId: role.id,
      roleName: role.name,
      sessionName,
      sealedSecret: this.#o.sealer.seal(
        Buffer.from(secretAccessKey, 'utf8'),
        sessionSecretContext(accessKeyId),
      ),
      tokenSha256: createHash('sha256').update(sessionToken, 'utf8').digest(),
      issuedAt: now,
      // AWS answers Expiration to the second.
      expiresAt: new Date(Math.floor(now.getTime() / 1000) * 1000 + durationSeconds * 1000),
      revokedAt: null,
      sourceIdentity: origin.sourceIdentity,
      provider: origin.provider,
      audience: origin.audience,
      clearance: origin.clearance,
      compartments: origin.compartments,
    };
    await this.#o.federation.insertSession(session);
    return {
      accessKeyId,
      secretAccessKey,
      sessionToken,
      expiresAt: session.expiresAt,
      assumedRoleArn: assumedRoleArn(role.tenantId, role.name, sessionName),
      assumedRoleId: `${role.id.toUpperCase()}:${sessionName}`,
      tenantId: role.tenantId,
      principalId: session.principalId,
      subject: origin.subject,
      audience: origin.audience,
      provider: origin.provider === null ? null : providerName(origin.provider),
    };
  }
}

/** `ASIA` + 16 characters of base32, like AWS STS access key ids. */
export function newTemporaryAccessKeyId(): string {
  const bytes = randomBytes(16);
  let id = TEMPORARY_ACCESS_KEY_PREFIX;
  for (let i = 0; i < 16; i++) id += ACCESS_KEY_ALPHABET[bytes[i]! & 31];
  return id;
}

export function checkRoleArn(value: string): { tenantId: string; roleName: string } {
  const match = ROLE_ARN.exec(value);
  if (match === null || value.length > 2048) {
    throw new StsError(
      'ValidationError',
      `${JSON.stringify(value.slice(0, 100))} is not a role ARN (arn:aws:iam::<tenant>:role/<name>)`,
    );
  }
  return { tenantId: match[1]!, roleName: match[2]! };
}

export function checkSessionName(value: string): string {
  if (!ROLE_SESSION_NAME.test(value)) {
    throw new StsError(
      'ValidationError',
      "1 validation error detected: Value at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]* and have length 2 to 64",
    );
  }
  return value;
}

export function checkDuration(value: number | null): number {
  if (value === null) return SESSION_DURATION_DEFAULT_SECONDS;
  if (
    !Number.isInteger(value) ||
    value < SESSION_DURATION_MIN_SECONDS ||
    value > SESSION_DURATION_MAX_SECONDS
  ) {
    throw new StsError(
      'ValidationError',
      `1 validation error detected: Value '${value}' at 'durationSeconds' failed to satisfy constraint: Member must have value between ${SESSION_DURATION_MIN_SECONDS} and ${SESSION_DURATION_MAX_SECONDS}`,
    );
  }
  return value;
}

/** The role's maximum session duration: its MAX_SESSION_DURATION_TAG, or IAM's default of one hour. */
export function maxSessionSecondsOf(role: PrincipalRecord): number {
  const tag = Object.entries(role.tags).find(([key]) => key.toLowerCase() === MAX_SESSION_DURATION_TAG)?.[1];
  const value = tag === undefined ? NaN : Number(tag);
  return Number.isInteger(value) &&
    value >= SESSION_DURATION_DEFAULT_SECONDS &&
    value <= SESSION_DURATION_MAX_SECONDS
    ? value
    : SESSION_DURATION_DEFAULT_SECONDS;
}

function checkMaxSession(role: PrincipalRecord, durationSeconds: number): void {
  // API_AssumeRole: a duration above the role's maximum fails rather than being shortened.
  if (durationSeconds > maxSessionSecondsOf(role)) {
    throw new StsError(
      'ValidationError',
      'The requested DurationSeconds exceeds the MaxSessionDuration set for this role.',
    );
  }
}

type TrustStatement = Record<string, unknown>;

/** The statements of a stored trust policy (validated when it was written). */
function trustStatements(text: string | null): TrustStatement[] {
  if (text === null) return [];
  const document: unknown = JSON.parse(text);
  if (typeof document !== 'object' || document === null) return [];
  const statement = (document as Record<string, unknown>).Statement;
  const list = Array.isArray(statement) ? statement : [statement];
  return list.filter(
    (item): item is TrustStatement => typeof item === 'object' && item !== null && !Array.isArray(item),
  );
}

/** Whether a statement's Principal (or NotPrincipal) lets it apply to this provider's identities. */
function namesProvider(statement: TrustStatement, names: ReadonlySet<string>): boolean {
  if (statement.Principal !== undefined) return principalNames(statement.Principal, names);
  if (statement.NotPrincipal !== undefined) return !principalNames(statement.NotPrincipal, names);
  return false;
}

function principalNames(element: unknown, names: ReadonlySet<string>): boolean {
  if (element === '*') return true;
  if (typeof element !== 'object' || element === null) return false;
  const federated = (element as Record<string, unknown>).Federated;
  const values = Array.isArray(federated) ? federated : [federated];
  return values.some((value) => typeof value === 'string' && (value === '*' || names.has(value)));
}

let administratorPolicy: LabeledPolicy | null = null;

function tenantAdministratorPolicy(): LabeledPolicy {
  administratorPolicy ??= {
    label: 'tenant administrator policy',
    policy: parsePolicy(TENANT_ADMINISTRATOR_POLICY_TEXT, {
      kind: 'identity',
      sizeLimit: IDENTITY_POLICY_SIZE_LIMIT,
    }),
  };
  return administratorPolicy;
}

/** AWS's wording: "User: ARN is not authorized to perform: sts:AssumeRole on resource: ARN". */
function notAuthorized(action: string, role: PrincipalRecord, reason: string, callerArn?: string): StsError {
  const who = callerArn === undefined ? 'The web identity' : `User: ${callerArn}`;
  return new StsError(
    'AccessDenied',
    `${who} is not authorized to perform: ${action} on resource: ${roleArn(role.tenantId, role.name)} because ${reason}`,
  );
}
