import type { Clock } from '../../platform/clock.ts';
import { randomHexId } from '../../platform/ids.ts';
import type { Caller } from './caller.ts';
import type { CredentialResolver } from './credentials.ts';
import {
  checkAudiences,
  checkClaimMapping,
  checkIssuer,
  IDENTITY_PROVIDERS_PER_TENANT,
  providerArn,
  type IdentityProviderRecord,
} from './federation.ts';
import type { IdTokenVerifier } from './federation-tokens.ts';
import { roleArn } from './identity-arns.ts';
import { identityError, type IdentityError } from './identity-errors.ts';
import { checkEntityName } from './identity-input.ts';
import { authorize, buildRequestContext } from './policy/index.ts';
import type { IdentityReads } from './ports.ts';
import type { FederationStore, IdentitySources } from './sts-sessions.ts';
import { requestPrincipalOf } from './identity-policies.ts';

/**
 * The administrative actions of federation, named after AWS IAM's where it has one
 * (CreateOpenIDConnectProvider, …). AWS revokes a role's sessions by attaching a policy that
 * denies tokens issued before a date; Sovra marks the sessions revoked (RevokeRoleSessions).
 */
export const FEDERATION_ADMIN_ACTIONS = [
  'CreateOpenIDConnectProvider',
  'ListOpenIDConnectProviders',
  'GetOpenIDConnectProvider',
  'DeleteOpenIDConnectProvider',
  'RevokeRoleSessions',
] as const;
export type FederationAdminAction = (typeof FEDERATION_ADMIN_ACTIONS)[number];

export interface NewIdentityProvider {
  issuer: unknown;
  audiences: unknown;
  rules: unknown;
  clearanceClaim: unknown;
  compartmentsClaim: unknown;
}

export interface FederationAdministrationOptions {
  identities: IdentityReads;
  sources: IdentitySources;
  store: FederationStore;
  credentials: CredentialResolver;
  tokens: IdTokenVerifier;
  clock: Clock;
}

/**
 * Identity providers of a tenant and revocation of role sessions. Deny by default, as the rest
 * of the administration: tenant administrators act within their tenant; anyone else needs an
 * identity policy allowing `sovra:<Action>` on the provider's or role's ARN.
 */
export class FederationAdministration {
  readonly #o: FederationAdministrationOptions;

  constructor(options: FederationAdministrationOptions) {
    this.#o = options;
  }

  async createIdentityProvider(caller: Caller, input: NewIdentityProvider): Promise<IdentityProviderRecord> {
    const issuer = checkIssuer(input.issuer);
    const provider: IdentityProviderRecord = {
      id: `idp-${randomHexId(8)}`,
      tenantId: caller.tenantId,
      issuer,
      audiences: checkAudiences(input.audiences),
      mapping: checkClaimMapping(input),
      createdAt: this.#o.clock.now(),
    };
    await this.#authorize(caller, 'CreateOpenIDConnectProvider', providerArn(caller.tenantId, issuer));
    const existing = await this.#o.store.listIdentityProviders(caller.tenantId);
    if (existing.some((known) => known.issuer === issuer)) {
      throw identityError('EntityAlreadyExists', `Provider with url ${issuer} already exists.`);
    }
    if (existing.length >= IDENTITY_PROVIDERS_PER_TENANT) {
      throw identityError(
        'LimitExceeded',
        `Cannot exceed quota for OpenIdIdpsPerAccount: ${IDENTITY_PROVIDERS_PER_TENANT}`,
      );
    }
    await this.#o.store.insertIdentityProvider(provider);
    return provider;
  }

  async listIdentityProviders(caller: Caller): Promise<IdentityProviderRecord[]> {
    await this.#authorize(caller, 'ListOpenIDConnectProviders', providerArn(caller.tenantId, '*'));
    return this.#o.store.listIdentityProviders(caller.tenantId);
  }

  async getIdentityProvider(caller: Caller, issuer: string): Promise<IdentityProviderRecord> {
    checkIssuer(issuer);
    await this.#authorize(caller, 'GetOpenIDConnectProvider', providerArn(caller.tenantId, issuer));
    const provider = await this.#o.store.findIdentityProvider(caller.tenantId, issuer);
    if (provider === null) throw noSuchProvider(caller.tenantId, issuer);
    return provider;
  }

  /** Sessions already issued through the provider stay valid until they expire or are revoked, as in IAM. */
  async deleteIdentityProvider(caller: Caller, issuer: string): Promise<void> {
    checkIssuer(issuer);
    await this.#authorize(caller, 'DeleteOpenIDConnectProvider', providerArn(caller.tenantId, issuer));
    if (!(await this.#o.store.deleteIdentityProvider(caller.tenantId, issuer))) {
      throw noSuchProvider(caller.tenantId, issuer);
    }
    this.#o.tokens.forget(issuer);
  }

  /**
   * Revokes every session of the role issued until now, effective at once on this gateway (the
   * credential cache forgets them) and within the cache's 30 seconds on the others. New sessions
   * may be assumed afterwards, as after IAM's "Revoke active sessions".
   */
  async revokeRoleSessions(
    caller: Caller,
    roleName: string,
  ): Promise<{ revokedSessions: number; revokedAt: Date }> {
    const name = checkEntityName('role', roleName, 'roleName');
    await this.#authorize(caller, 'RevokeRoleSessions', roleArn(caller.tenantId, name));
    const role = await this.#o.identities.findPrincipal(caller.tenantId, 'role', name);
    if (role === null) throw identityError('NoSuchEntity', `The role with name ${name} cannot be found.`);
    const now = this.#o.clock.now();
    const revokedSessions = await this.#o.store.revokeRoleSessions(role.id, now);
    this.#o.credentials.invalidatePrincipal(role.id);
    return { revokedSessions, revokedAt: now };
  }

  async #authorize(caller: Caller, action: FederationAdminAction, resource: string): Promise<void> {
    if (caller.isTenantAdmin) return;
    const attributes = await this.#o.sources.attributesOf(caller.principalId);
    if (attributes === null || attributes.tenantId !== caller.tenantId) {
      throw denied(caller.principalId, action, resource, 'no identity-based policy allows the action');
    }
    const decision = authorize(
      buildRequestContext({
        principal: requestPrincipalOf(attributes),
        action: `sovra:${action}`,
        resource,
        resourceTenantId: caller.tenantId,
        conditionKeys: {
          'aws:SourceIp': caller.sourceIp,
          'aws:SecureTransport': caller.secureTransport ? 'true' : 'false',
        },
        now: this.#o.clock.now(),
      }),
      {
        identityPolicies: await this.#o.sources.labeledPoliciesFor(caller.principalId),
        resourcePolicies: [],
      },
    );
    if (decision.effect !== 'Allow') {
      throw denied(
        attributes.arn,
        action,
        resource,
        decision.effect === 'ExplicitDeny'
          ? 'an explicit deny in an identity-based policy'
          : 'no identity-based policy allows the action',
      );
    }
  }
}

function noSuchProvider(tenantId: string, issuer: string): IdentityError {
  return identityError('NoSuchEntity', `OpenIDConnect provider ${providerArn(tenantId, issuer)} not found.`);
}

function denied(who: string, action: FederationAdminAction, resource: string, reason: string): IdentityError {
  return identityError(
    'AccessDenied',
    `${who} is not authorized to perform: sovra:${action} on resource: ${resource} because ${reason}`,
    { action: `sovra:${action}`, resource },
  );
}
