// Routes between a cluster's kubelet Nodes to each Node's podCIDR, as kind's kindnet programs them:
// the bridge CNI only reaches pods on its own Node, and the lab's Nodes share one L2 underlay, so a
// route via the owning Node's InternalIP is all another Node needs. Pure: the lab applies the result.
import { canonicalCIDR } from '../../datapath/addr.ts';
import { parseIP } from '../../util/ip.ts';

export interface NodePodRange {
  name: string;
  /** InternalIP on the shared underlay. */
  ip: string;
  /** spec.podCIDR, once kube-controller-manager has allocated it. */
  podCIDR?: string;
}

export interface PodRoute {
  dst: string;
  via: string;
}

/**
 * The routes one host of the cluster needs: to every other Node's podCIDR, via that Node. `self` is
 * the host's own InternalIP (a Node skips its own range; a non-Node host such as the apiserver's
 * passes an address no Node has). Nodes without a valid podCIDR or IP are skipped.
 */
export function podRoutes(nodes: readonly NodePodRange[], self: string): PodRoute[] {
  const routes: PodRoute[] = [];
  for (const n of nodes) {
    if (n.ip === self || !n.podCIDR || parseIP(n.ip)?.family !== 4) continue;
    const dst = canonicalCIDR(n.podCIDR);
    if (dst) routes.push({ dst, via: n.ip });
  }
  return routes.sort((a, b) => (a.dst < b.dst ? -1 : a.dst > b.dst ? 1 : 0));
}
