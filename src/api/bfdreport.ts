// A BFD Down report: the core/v1 Event an agent writes in mcgw-system when it sees a local Gateway's
// BFD session go Down, and how the controller reads it back. Pure, so both sides and their tests
// share one definition.
//
// One reporter per failure, without coordination: every Node that sees the failure derives the same
// Event name from facts they all read alike: the Gateway's Node, the uid of its ClusterGateway (one
// per placement) and the last renewal of its Lease, which stops changing once the Gateway is dead.
// The first create wins; the other Nodes get 409 AlreadyExists and stay silent. A Gateway that is
// alive keeps renewing its Lease, so a later failure of the same placement gets a new name.
//
// A report is a hint, not proof: the reporter's own path may be what broke. The controller acts on
// one only while the Gateway's Lease is silent too (src/controller/bfdreports.ts).
//
// The Event is about the Gateway's Lease (mcgw-system/gateway-<node>), the object whose silence the
// controller then judges; `kubectl describe lease -n mcgw-system gateway-<node>` lists it. It cannot
// name the ClusterGateway itself: an Event about a cluster-scoped object must live in `default`
// (the apiserver refuses another namespace), where agents may write nothing. The ClusterGateway and
// its uid are in annotations.
import { createHash } from 'node:crypto';
import type { CoreV1Event } from '@kubernetes/client-node';
import { SYSTEM_NAMESPACE, gatewayLeaseName } from './group.ts';

export const BFD_DOWN_REASON = 'GatewayBFDDown';
/** Label on report Events; the controller watches `mcgw.io/report=bfd-down` in mcgw-system. */
export const REPORT_LABEL = 'mcgw.io/report';
export const BFD_DOWN_REPORT = 'bfd-down';
export const BFD_DOWN_SELECTOR = `${REPORT_LABEL}=${BFD_DOWN_REPORT}`;
/** The Gateway's Node (= its ClusterGateway's name), the ClusterGateway's uid, and the Lease
 * renewal the reporter read (as renewalVersion() gives it). */
export const GATEWAY_ANNOTATION = 'mcgw.io/gateway';
export const GATEWAY_UID_ANNOTATION = 'mcgw.io/gateway-uid';
export const LEASE_RENEWAL_ANNOTATION = 'mcgw.io/lease-renewal';
export const REPORTING_COMPONENT = 'mcgw.io/agent';

export interface BfdDownReport {
  /** The Gateway's Node, which is also its ClusterGateway's name. */
  gateway: string;
  /** The ClusterGateway's uid: which placement of that Node was seen down. */
  uid: string;
  /** The Gateway Lease's last renewal when the report was made (renewalVersion()). */
  renewal: string;
  /** The Node whose agent reported it. */
  reporter: string;
  /** The Lease's own uid, for the Event's involvedObject. */
  leaseUid?: string;
}

/**
 * `<gateway>.bfd-down.<uid prefix>.<renewal>`, a valid Event name (DNS subdomain). The same for
 * every Node that reports the same failure. A Node name too long to fit is replaced by a hash.
 */
export function bfdDownEventName(gateway: string, uid: string, renewal: string): string {
  const uidPart =
    uid
      .toLowerCase()
      .replace(/[^a-z0-9]/g, '')
      .slice(0, 8) || 'nouid';
  const renewalPart =
    renewal
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '') || '0';
  const suffix = `.${BFD_DOWN_REPORT}.${uidPart}.${renewalPart}`;
  const head =
    gateway.length + suffix.length <= 253
      ? gateway
      : `gw-${createHash('sha256').update(gateway).digest('hex').slice(0, 32)}`;
  return `${head}${suffix}`;
}

/** The Event an agent creates; `detail` goes into the message (the BFD diagnostic, the address). */
export function bfdDownEvent(r: BfdDownReport, detail: string, nowMs: number): CoreV1Event {
  const t = new Date(nowMs);
  const renewedMs = /^\d+$/.test(r.renewal) ? Number(r.renewal) : undefined;
  return {
    metadata: {
      name: bfdDownEventName(r.gateway, r.uid, r.renewal),
      namespace: SYSTEM_NAMESPACE,
      labels: { [REPORT_LABEL]: BFD_DOWN_REPORT, 'app.kubernetes.io/managed-by': 'mcgw' },
      annotations: {
        [GATEWAY_ANNOTATION]: r.gateway,
        [GATEWAY_UID_ANNOTATION]: r.uid,
        [LEASE_RENEWAL_ANNOTATION]: r.renewal,
      },
    },
    involvedObject: {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      namespace: SYSTEM_NAMESPACE,
      name: gatewayLeaseName(r.gateway),
      ...(r.leaseUid && { uid: r.leaseUid }),
    },
    reason: BFD_DOWN_REASON,
    type: 'Warning',
    message:
      `BFD session from node ${r.reporter} to Gateway ${r.gateway} went Down (${detail}); ` +
      `its Lease was last renewed ${renewedMs === undefined ? `at version ${r.renewal}` : `at ${new Date(renewedMs).toISOString()}`}`,
    source: { component: 'mcgw-agent', host: r.reporter },
    reportingComponent: REPORTING_COMPONENT,
    reportingInstance: r.reporter,
    firstTimestamp: t,
    lastTimestamp: t,
    count: 1,
  };
}

/** The report an Event carries, or undefined when it is not a well-formed BFD Down report. */
export function parseBfdDownEvent(e: {
  reason?: string;
  metadata?: { annotations?: Record<string, string> };
  reportingInstance?: string;
  source?: { host?: string };
}): Omit<BfdDownReport, 'leaseUid'> | undefined {
  const a = e.metadata?.annotations ?? {};
  const gateway = a[GATEWAY_ANNOTATION];
  const uid = a[GATEWAY_UID_ANNOTATION];
  const renewal = a[LEASE_RENEWAL_ANNOTATION];
  if (e.reason !== BFD_DOWN_REASON || !gateway || !uid || !renewal) return undefined;
  return { gateway, uid, renewal, reporter: e.reportingInstance || e.source?.host || 'unknown' };
}
