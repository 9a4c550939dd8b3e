import type { IdentityProviderRecord } from './federation.ts';
import type { PrincipalAttributes, PrincipalAttributeSource } from './identity-policies.ts';
import type { CompiledPolicy, LabeledPolicy } from './policy/index.ts';
import type { ResealStoredSecret } from './secret-resealing.ts';

/**
 * A role session: temporary credentials issued by AssumeRoleWithWebIdentity or AssumeRole
 * (https://docs.aws.amazon.com/STS/latest/APIReference/API_Credentials.html). Stored in
 * `sts_sessions` (migration 10, `format` 1): the secret only sealed, the session token only as its
 * SHA-256 (it is 256 random bits, so a plain hash suffices), never in plaintext.
 */
export interface SessionRecord {
  /** `ASIA` + 16 characters, as AWS temporary access key ids. */
  accessKeyId: string;
  /** The session's principal id (`session-<hex>`), what audit records and the request path see. */
  principalId: string;
  tenantId: string;
  roleId: string;
  roleName: string;
  /** RoleSessionName. */
  sessionName: string;
  sealedSecret: Uint8Array;
  tokenSha256: Uint8Array;
  issuedAt: Date;
  expiresAt: Date;
  /** Set when the session was revoked (its role's sessions revoked at or after its issue). */
  revokedAt: Date | null;
  /** Who assumed the role: `<issuer>#<sub>` for a web identity, the caller's principal id for AssumeRole. */
  sourceIdentity: string;
  /** The issuer of the web identity token, or null for AssumeRole. */
  provider: string | null;
  /** The token's audience (client id), or null. */
  audience: string | null;
  clearance: string | null;
  compartments: readonly string[];
}

/** Where identity providers and role sessions are kept (migration 10). */
export interface FederationStore {
  insertIdentityProvider(provider: IdentityProviderRecord): Promise<void>;
  findIdentityProvider(tenantId: string, issuer: string): Promise<IdentityProviderRecord | null>;
  listIdentityProviders(tenantId: string): Promise<IdentityProviderRecord[]>;
  /** False when there was none. */
  deleteIdentityProvider(tenantId: string, issuer: string): Promise<boolean>;

  insertSession(session: SessionRecord): Promise<void>;
  getSession(accessKeyId: string): Promise<SessionRecord | null>;
  getSessionByPrincipal(principalId: string): Promise<SessionRecord | null>;
  /** Marks every unrevoked session of the role issued at or before `now` revoked; returns how many. */
  revokeRoleSessions(roleId: string, now: Date): Promise<number>;
  /** Removes sessions that expired before `before`; returns how many. */
  deleteExpiredSessions(before: Date): Promise<number>;
  /** Gives sessions' sealed secrets the values `reseal` returns, in one transaction; returns how many changed. */
  resealSessionSecrets(reseal: ResealStoredSecret): Promise<number>;
}

/** The ARN of a role session: `arn:aws:sts::<tenant>:assumed-role/<role>/<session>`. */
export function assumedRoleArn(tenantId: string, roleName: string, sessionName: string): string {
  return `arn:aws:sts::${tenantId}:assumed-role/${roleName}/${sessionName}`;
}

export const SESSION_PRINCIPAL_PREFIX = 'session-';

export function isSessionPrincipal(principalId: string): boolean {
  return principalId.startsWith(SESSION_PRINCIPAL_PREFIX);
}

/** Both identity sources of the request path (CachedIdentitySource fits). */
export interface IdentitySources extends PrincipalAttributeSource {
  policiesFor(principalId: string): Promise<CompiledPolicy[]>;
  labeledPoliciesFor(principalId: string): Promise<LabeledPolicy[]>;
}

/** Sessions whose role is remembered (the mapping never changes, so entries never go stale). */
export const SESSION_ROLE_MEMO_ENTRIES = 4096;

/**
 * The identity sources of the request path, aware of role sessions: a session's identity policies
 * are its role's attached policies ("the permissions of the role", API_AssumeRole), and its
 * attributes are the role's with the session's ARN, clearance and compartments (from the token's
 * claims through the provider's mapping rules). Everything else is asked of `inner`.
 */
export class SessionIdentitySource implements IdentitySources {
  readonly #inner: IdentitySources;
  readonly #store: Pick<FederationStore, 'getSessionByPrincipal'>;
  readonly #sessions = new Map<string, SessionRecord | null>();

  constructor(options: { inner: IdentitySources; store: Pick<FederationStore, 'getSessionByPrincipal'> }) {
    this.#inner = options.inner;
    this.#store = options.store;
  }

  async policiesFor(principalId: string): Promise<CompiledPolicy[]> {
    return this.#inner.policiesFor(await this.#effectivePrincipal(principalId));
  }

  async labeledPoliciesFor(principalId: string): Promise<LabeledPolicy[]> {
    return this.#inner.labeledPoliciesFor(await this.#effectivePrincipal(principalId));
  }

  async attributesOf(principalId: string): Promise<PrincipalAttributes | null> {
    if (!isSessionPrincipal(principalId)) return this.#inner.attributesOf(principalId);
    const session = await this.#session(principalId);
    if (session === null) return null;
    const role = await this.#inner.attributesOf(session.roleId);
    if (role === null) return null;
    return {
      ...role,
      principalId,
      arn: assumedRoleArn(session.tenantId, session.roleName, session.sessionName),
      isTenantAdmin: false,
      clearance: session.clearance,
      compartments: session.compartments,
    };
  }

  /** A session's role id, or the principal itself; an unknown session has no policies. */
  async #effectivePrincipal(principalId: string): Promise<string> {
    if (!isSessionPrincipal(principalId)) return principalId;
    return (await this.#session(principalId))?.roleId ?? principalId;
  }

  async #session(principalId: string): Promise<SessionRecord | null> {
    const known = this.#sessions.get(principalId);
    if (known !== undefined) return known;
    const session = await this.#store.getSessionByPrincipal(principalId);
    if (session !== null) {
      if (this.#sessions.size >= SESSION_ROLE_MEMO_ENTRIES) this.#sessions.clear();
      this.#sessions.set(principalId, session);
    }
    return session;
  }
}
