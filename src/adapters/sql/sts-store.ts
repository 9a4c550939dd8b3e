import type { ClaimMapping, ClaimRule, IdentityProviderRecord } from '../../domain/iam/federation.ts';
import type { FederationStore, SessionRecord } from '../../domain/iam/sts-sessions.ts';
import { identityError } from '../../domain/iam/identity-errors.ts';
import type { ResealStoredSecret } from '../../domain/iam/secret-resealing.ts';
import { renderPlaceholders, type SqlDatabase, type SqlRow, type SqlValue } from './driver.ts';
import { bytes, integer, nullableText, text } from './rows.ts';
import { resealSecretColumn } from './sealed-secrets.ts';

/** Row formats of migration 10. */
const PROVIDER_FORMAT = 1;
const SESSION_FORMAT = 1;

const PROVIDER_COLUMNS = 'id, format, tenant_id, issuer, audiences, mapping, created_at_ms';
const SESSION_COLUMNS =
  'access_key_id, format, principal_id, tenant_id, role_id, role_name, session_name, sealed_secret, token_sha256, ' +
  'issued_at_ms, expires_at_ms, revoked_at_ms, source_identity, provider, audience, clearance, compartments';

/**
 * Identity providers and role sessions (migration 10) on the metadata database, for SQLite and
 * PostgreSQL alike. Sessions are written once and changed only by revocation.
 */
export class SqlFederationStore implements FederationStore {
  readonly #db: SqlDatabase;
  readonly #sql: ReturnType<typeof renderStatements>;

  constructor(db: SqlDatabase) {
    this.#db = db;
    this.#sql = renderStatements(db);
  }

  async insertIdentityProvider(provider: IdentityProviderRecord): Promise<void> {
    try {
      await this.#db.execute(this.#sql.insertProvider, [
        provider.id,
        PROVIDER_FORMAT,
        provider.tenantId,
        provider.issuer,
        JSON.stringify(provider.audiences),
        JSON.stringify(provider.mapping),
        provider.createdAt.getTime(),
      ]);
    } catch (error) {
      if (this.#db.isUniqueViolation(error)) {
        throw identityError('EntityAlreadyExists', `Provider with url ${provider.issuer} already exists.`);
      }
      throw error;
    }
  }

  async findIdentityProvider(tenantId: string, issuer: string): Promise<IdentityProviderRecord | null> {
    const [row] = await this.#db.query(this.#sql.selectProvider, [tenantId, issuer]);
    return row === undefined ? null : decodeProvider(row);
  }

  async listIdentityProviders(tenantId: string): Promise<IdentityProviderRecord[]> {
    return (await this.#db.query(this.#sql.selectProviders, [tenantId])).map(decodeProvider);
  }

  async deleteIdentityProvider(tenantId: string, issuer: string): Promise<boolean> {
    return (await this.#db.execute(this.#sql.deleteProvider, [tenantId, issuer])) === 1;
  }

  async insertSession(session: SessionRecord): Promise<void> {
    await this.#db.execute(this.#sql.insertSession, sessionParams(session));
  }

  async getSession(accessKeyId: string): Promise<SessionRecord | null> {
    const [row] = await this.#db.query(this.#sql.selectSession, [accessKeyId]);
    return row === undefined ? null : decodeSession(row);
  }

  async getSessionByPrincipal(principalId: string): Promise<SessionRecord | null> {
    const [row] = await this.#db.query(this.#sql.selectSessionByPrincipal, [principalId]);
    return row === undefined ? null : decodeSession(row);
  }

  async revokeRoleSessions(roleId: string, now: Date): Promise<number> {
    return this.#db.execute(this.#sql.revokeSessions, [now.getTime(), roleId, now.getTime()]);
  }

  async deleteExpiredSessions(before: Date): Promise<number> {
    return this.#db.execute(this.#sql.deleteExpired, [before.getTime()]);
  }

  resealSessionSecrets(reseal: ResealStoredSecret): Promise<number> {
    return resealSecretColumn(this.#db, 'sts_sessions', reseal);
  }
}

function renderStatements(db: SqlDatabase) {
  const r = (sql: string) => renderPlaceholders(sql, db.placeholderStyle);
  const marks = (columns: string) =>
    columns
      .split(',')
      .map(() => '?')
      .join(', ');
  return {
    insertProvider: r(
      `INSERT INTO iam_identity_providers (${PROVIDER_COLUMNS}) VALUES (${marks(PROVIDER_COLUMNS)})`,
    ),
    selectProvider: r(
      `SELECT ${PROVIDER_COLUMNS} FROM iam_identity_providers WHERE tenant_id = ? AND issuer = ?`,
    ),
    selectProviders: r(
      `SELECT ${PROVIDER_COLUMNS} FROM iam_identity_providers WHERE tenant_id = ? ORDER BY issuer`,
    ),
    deleteProvider: r('DELETE FROM iam_identity_providers WHERE tenant_id = ? AND issuer = ?'),
    insertSession: r(`INSERT INTO sts_sessions (${SESSION_COLUMNS}) VALUES (${marks(SESSION_COLUMNS)})`),
    selectSession: r(`SELECT ${SESSION_COLUMNS} FROM sts_sessions WHERE access_key_id = ?`),
    selectSessionByPrincipal: r(`SELECT ${SESSION_COLUMNS} FROM sts_sessions WHERE principal_id = ?`),
    revokeSessions: r(
      'UPDATE sts_sessions SET revoked_at_ms = ? WHERE role_id = ? AND issued_at_ms <= ? AND revoked_at_ms IS NULL',
    ),
    deleteExpired: r('DELETE FROM sts_sessions WHERE expires_at_ms < ?'),
  };
}

function sessionParams(session: SessionRecord): SqlValue[] {
  return [
    session.accessKeyId,
    SESSION_FORMAT,
    session.principalId,
    session.tenantId,
    session.roleId,
    session.roleName,
    session.sessionName,
    session.sealedSecret,
    session.tokenSha256,
    session.issuedAt.getTime(),
    session.expiresAt.getTime(),
    session.revokedAt?.getTime() ?? null,
    session.sourceIdentity,
    session.provider,
    session.audience,
    session.clearance,
    JSON.stringify(session.compartments),
  ];
}

function decodeSession(row: SqlRow): SessionRecord {
  checkFormat(row, SESSION_FORMAT, 'sts_sessions');
  const revoked = row.revoked_at_ms;
  return {
    accessKeyId: text(row, 'access_key_id'),
    principalId: text(row, 'principal_id'),
    tenantId: text(row, 'tenant_id'),
    roleId: text(row, 'role_id'),
    roleName: text(row, 'role_name'),
    sessionName: text(row, 'session_name'),
    sealedSecret: bytes(row, 'sealed_secret'),
    tokenSha256: bytes(row, 'token_sha256'),
    issuedAt: new Date(integer(row, 'issued_at_ms')),
    expiresAt: new Date(integer(row, 'expires_at_ms')),
    revokedAt: revoked === null || revoked === undefined ? null : new Date(integer(row, 'revoked_at_ms')),
    sourceIdentity: text(row, 'source_identity'),
    provider: nullableText(row, 'provider'),
    audience: nullableText(row, 'audience'),
    clearance: nullableText(row, 'clearance'),
    compartments: stringList(text(row, 'compartments'), 'sts_sessions.compartments'),
  };
}

function decodeProvider(row: SqlRow): IdentityProviderRecord {
  checkFormat(row, PROVIDER_FORMAT, 'iam_identity_providers');
  return {
    id: text(row, 'id'),
    tenantId: text(row, 'tenant_id'),
    issuer: text(row, 'issuer'),
    audiences: stringList(text(row, 'audiences'), 'iam_identity_providers.audiences'),
    mapping: decodeMapping(text(row, 'mapping')),
    createdAt: new Date(integer(row, 'created_at_ms')),
  };
}

/** The mapping document as this store wrote it (checked by checkClaimMapping before). */
function decodeMapping(json: string): ClaimMapping {
  const value: unknown = JSON.parse(json);
  if (typeof value !== 'object' || value === null) throw malformed('iam_identity_providers.mapping');
  const { rules, clearanceClaim, compartmentsClaim } = value as Record<string, unknown>;
  if (!Array.isArray(rules)) throw malformed('iam_identity_providers.mapping');
  return {
    rules: rules.map((rule: unknown): ClaimRule => {
      if (typeof rule !== 'object' || rule === null) throw malformed('iam_identity_providers.mapping');
      const { claim, equals, roles } = rule as Record<string, unknown>;
      if (typeof claim !== 'string' || typeof equals !== 'string' || !Array.isArray(roles)) {
        throw malformed('iam_identity_providers.mapping');
      }
      return { claim, equals, roles: roles.filter((role): role is string => typeof role === 'string') };
    }),
    clearanceClaim: typeof clearanceClaim === 'string' ? clearanceClaim : null,
    compartmentsClaim: typeof compartmentsClaim === 'string' ? compartmentsClaim : null,
  };
}

function stringList(json: string, column: string): string[] {
  const value: unknown = JSON.parse(json);
  if (!Array.isArray(value) || !value.every((item): item is string => typeof item === 'string')) {
    throw malformed(column);
  }
  return value;
}

function checkFormat(row: SqlRow, expected: number, table: string): void {
  if (integer(row, 'format') !== expected) {
    throw new Error(`${table} holds a row of format ${String(row.format)}, which this release cannot read`);
  }
}

function malformed(column: string): Error {
  return new Error(`${column} holds a document this store never wrote`);
}
