import type { Clock } from '../../platform/clock.ts';
import { randomHexId } from '../../platform/ids.ts';
import { OUTBOX_MESSAGE_FORMAT } from '../storage/event-records.ts';
import type { NewOutboxEvent } from '../storage/ports.ts';
import { scopeResource, type AccessRequest } from './access-request.ts';
import { lockboxError } from './errors.ts';
import type { AccessApprovalStore } from './ports.ts';

/**
 * Security notifications: each tenant may name one destination where Sovra sends, as they
 * happen, the lockbox events it must act on (docs/reference/operator-access.md "Security
 * notifications"). Destinations are the operator-registered event notification targets
 * (webhooks, NATS JetStream subjects; docs/reference/event-notifications.md), named by ARN as a
 * bucket's notification configuration names them: tenants choose among them and never invent
 * addresses for the platform to send to. Delivery is the event outbox's: written in the same
 * transaction as the step it reports, sent at least once, in order, retried without limit.
 */

/** Version of a stored setting (table security_notification_settings). */
export const SECURITY_NOTIFICATION_SETTING_FORMAT = 1;

export interface SecurityNotificationSetting {
  format: typeof SECURITY_NOTIFICATION_SETTING_FORMAT;
  tenantId: string;
  /** An operator-registered target's ARN, `arn:sovra:sqs:<region>:<id>:<type>`. */
  destinationArn: string;
  /** The administrator who set it. */
  updatedBy: string;
  updatedAtMs: number;
}

/** Version of the JSON document a destination receives (its `version` field). */
export const SECURITY_EVENT_VERSION = 1;

/**
 * What the tenant is told about: every new access request to its data, and above all break-glass
 * access, which starts without the tenant's approval.
 */
export type SecurityEventType = 'AccessRequestFiled' | 'BreakGlassAccessActivated';

/** 'high' for everything break-glass, as in the audit records (audit-records.ts). */
export type SecurityEventSeverity = 'high' | 'normal';

/** The document a destination receives, version 1 (one JSON object per message). */
export interface SecurityEvent {
  version: typeof SECURITY_EVENT_VERSION;
  /** The delivery id: the same on every re-send of this event, for de-duplication. */
  id: string;
  type: SecurityEventType;
  severity: SecurityEventSeverity;
  /** When the step happened, RFC 3339. */
  time: string;
  tenantId: string;
  approvalId: string;
  requestKind: AccessRequest['kind'];
  status: AccessRequest['status'];
  operators: {
    /** The operator who filed the request (and whose access it is). */
    requester: string;
    /** Break-glass: the second operator who confirmed it; otherwise null. */
    confirmer: string | null;
  };
  scope: {
    bucket: string;
    keyPrefix: string | null;
    kmsKeyId: string | null;
    /** The scope as an ARN, as the audit records name it. */
    resource: string;
  };
  actions: readonly string[];
  durationSeconds: number;
  justification: string;
  ticket: string;
  /** Undecided (or unconfirmed) past this instant, the request expires. */
  decisionDeadline: string;
  activatedAt: string | null;
  expiresAt: string | null;
  /** Break-glass access stays 'pending' review until a tenant administrator acknowledges it. */
  review: AccessRequest['review'];
  requesterClaims: { issuer: string; clearance: string; nationality: string; residency: string };
}

/** Who configures: a principal, its tenant, and whether it administers that tenant. */
export interface SettingCaller {
  principalId: string;
  principalTenantId: string;
  isTenantAdmin: boolean;
}

export interface SecurityNotificationsOptions {
  store: AccessApprovalStore;
  /** Destination (notification target) id by ARN: the targets the operator registered. */
  destinations: ReadonlyMap<string, string>;
  clock: Clock;
}

/** Reading and changing tenants' settings, and the outbox rows (notices) of lockbox steps. */
export class SecurityNotifications {
  readonly #o: SecurityNotificationsOptions;

  constructor(options: SecurityNotificationsOptions) {
    this.#o = options;
  }

  /** The caller's tenant's setting; null when it has none. Tenant administrators only. */
  async get(caller: SettingCaller): Promise<SecurityNotificationSetting | null> {
    requireAdministrator(caller);
    return this.#o.store.getNotificationSetting(caller.principalTenantId);
  }

  /** Points the caller's tenant's security notifications at an operator-registered target. */
  async put(caller: SettingCaller, destination: unknown): Promise<SecurityNotificationSetting> {
    requireAdministrator(caller);
    if (typeof destination !== 'string' || !this.#o.destinations.has(destination)) {
      throw lockboxError(
        'UnknownNotificationDestination',
        typeof destination === 'string'
          ? `${destination.slice(0, 160)} is not a notification target the operator registered`
          : 'destination is the ARN of a notification target the operator registered (arn:sovra:sqs:<region>:<id>:<type>)',
      );
    }
    const setting: SecurityNotificationSetting = {
      format: SECURITY_NOTIFICATION_SETTING_FORMAT,
      tenantId: caller.principalTenantId,
      destinationArn: destination,
      updatedBy: caller.principalId,
      updatedAtMs: this.#o.clock.nowMs(),
    };
    await this.#o.store.putNotificationSetting(setting);
    return setting;
  }

  /**
   * Stops the caller's tenant's security notifications. Events already in the outbox are still
   * delivered: they were committed with their steps.
   */
  async clear(caller: SettingCaller): Promise<void> {
    requireAdministrator(caller);
    await this.#o.store.deleteNotificationSetting(caller.principalTenantId);
  }

  /**
   * The outbox row telling the request's tenant about `type`, for the store to write with the
   * step; null when the tenant has no destination, or names one the operator has since removed
   * (the step's audit record, in the tenant's view, remains its notice).
   */
  async noticeFor(
    type: SecurityEventType,
    request: AccessRequest,
    timeMs: number,
  ): Promise<NewOutboxEvent | null> {
    const setting = await this.#o.store.getNotificationSetting(request.tenantId);
    if (setting === null) return null;
    const destinationId = this.#o.destinations.get(setting.destinationArn);
    if (destinationId === undefined) return null;
    const deliveryId = randomHexId();
    return {
      destinationId,
      bucket: request.scope.bucket,
      deliveryId,
      format: OUTBOX_MESSAGE_FORMAT,
      payload: JSON.stringify(securityEvent(type, request, deliveryId, timeMs)),
      createdAtMs: timeMs,
    };
  }
}

/** The event document for a request as it is after the step. */
export function securityEvent(
  type: SecurityEventType,
  request: AccessRequest,
  deliveryId: string,
  timeMs: number,
): SecurityEvent {
  const time = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
  const breakGlass = request.kind === 'break-glass';
  return {
    version: SECURITY_EVENT_VERSION,
    id: deliveryId,
    type,
    severity: breakGlass ? 'high' : 'normal',
    time: new Date(timeMs).toISOString(),
    tenantId: request.tenantId,
    approvalId: request.id,
    requestKind: request.kind,
    status: request.status,
    operators: { requester: request.requesterId, confirmer: breakGlass ? request.decidedBy : null },
    scope: { ...request.scope, resource: scopeResource(request.scope) },
    actions: request.actions,
    durationSeconds: request.durationSeconds,
    justification: request.justification,
    ticket: request.ticket,
    decisionDeadline: new Date(request.decisionDeadlineMs).toISOString(),
    activatedAt: time(request.activatedAtMs),
    expiresAt: time(request.expiresAtMs),
    review: request.review,
    requesterClaims: {
      issuer: request.requesterClaims.issuer,
      clearance: request.requesterClaims.clearance,
      nationality: request.requesterClaims.nationality,
      residency: request.requesterClaims.residency,
    },
  };
}

function requireAdministrator(caller: SettingCaller): void {
  if (!caller.isTenantAdmin) {
    throw lockboxError(
      'NotAnApprover',
      'only the tenant’s administrators configure where its security notifications go',
    );
  }
}
