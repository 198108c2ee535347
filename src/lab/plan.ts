// The lab's shape, decided before anything is created: cluster IDs, Node names, zones and every
// address. Pure, so the same options always give the same lab and tests can check the layout.
// Everything lives in 198.18.0.0/15:
//   underlay   198.18.0.0/20, one shared L2 segment; member i, Node j at 198.18.(i+1).(10+j)
//   pods       member i: 198.18.(64+8i).0/21; Node j's pods 198.18.(64+8i+j).0/24, pod IP .1
//   services   member i: 198.19.(16+i).0/24 (exported only; nothing serves them)
//   inner      198.19.128.0/17 (the agents' default tunnel-inner range)
import type { Mode } from '../api/types.ts';

export const LAB_UNDERLAY_PREFIX = 20;
export const MAX_MEMBERS = 8;
export const MAX_NODES = 8;
export const TRAFFIC_PORT = 9100;

export interface LabOptions {
  members: number;
  /** Gateway candidates per member, spread over zones z1..zN. */
  candidates: number;
  /** Non-candidate Nodes per member; the first one hosts the member's test pod. */
  workers: number;
  desired: number;
  mode: Mode;
  bfdTxMs: number;
  bfdMult: number;
}

export const DEFAULT_LAB_OPTIONS: LabOptions = {
  members: 2,
  candidates: 3,
  workers: 1,
  desired: 2,
  mode: 'ActiveStandby',
  bfdTxMs: 50,
  bfdMult: 3,
};

export interface LabNode {
  cluster: string;
  /** Kubernetes Node name, e.g. "a-gw1" or "a-w1". */
  name: string;
  /** Short label for the network namespace name. */
  label: string;
  candidate: boolean;
  zone: string;
  underlay: string;
  podCIDR: string;
  podIP: string;
}

export interface LabCluster {
  id: string;
  index: number;
  podCIDR: string;
  serviceCIDR: string;
  nodes: LabNode[];
  /** The Node hosting this member's test pod (the traffic endpoint). */
  podNode: LabNode;
}

export interface LabPlan {
  options: LabOptions;
  underlayCIDR: string;
  clusters: LabCluster[];
}

export class LabPlanError extends Error {
  override name = 'LabPlanError';
}

export function planLab(o: LabOptions): LabPlan {
  const check = (what: string, v: number, lo: number, hi: number): void => {
    if (!Number.isInteger(v) || v < lo || v > hi)
      throw new LabPlanError(`${what} must be an integer from ${lo} to ${hi}, got ${v}`);
  };
  check('members', o.members, 2, MAX_MEMBERS);
  check('candidates', o.candidates, 1, MAX_NODES - 1);
  check('workers', o.workers, 1, MAX_NODES - o.candidates);
  check('desired', o.desired, 1, o.candidates);
  const clusters = Array.from({ length: o.members }, (_, i): LabCluster => {
    const id = String.fromCharCode(97 + i);
    const nodes = [
      ...Array.from({ length: o.candidates }, (_, j) => ({ name: `gw${j + 1}`, candidate: true })),
      ...Array.from({ length: o.workers }, (_, j) => ({ name: `w${j + 1}`, candidate: false })),
    ].map(
      (n, j): LabNode => ({
        cluster: id,
        name: `${id}-${n.name}`,
        label: `${id}${n.name}`,
        candidate: n.candidate,
        zone: `z${(j % Math.max(1, o.candidates)) + 1}`,
        underlay: `198.18.${i + 1}.${10 + j}`,
        podCIDR: `198.18.${64 + 8 * i + j}.0/24`,
        podIP: `198.18.${64 + 8 * i + j}.1`,
      }),
    );
    return {
      id,
      index: i,
      podCIDR: `198.18.${64 + 8 * i}.0/21`,
      serviceCIDR: `198.19.${16 + i}.0/24`,
      nodes,
      podNode: nodes[o.candidates]!,
    };
  });
  return { options: o, underlayCIDR: `198.18.0.0/${LAB_UNDERLAY_PREFIX}`, clusters };
}

/** Every ordered pair of distinct clusters: the directions traffic is measured in. */
export function directions(plan: LabPlan): { from: LabCluster; to: LabCluster }[] {
  return plan.clusters.flatMap((from) =>
    plan.clusters.filter((to) => to !== from).map((to) => ({ from, to })),
  );
}
