// Public surface of the data-plane core: planner, diff and batch rendering, all pure.
export type * from './types.ts';
export * from './constants.ts';
export { planDatapath } from './plan.ts';
export type { DatapathPlan, Peer } from './plan.ts';
export {
  diffState,
  routeConflicts,
  routeKey,
  isOwnedAddress,
  isOwnedLinkName,
  isOwnedRoute,
} from './diff.ts';
export type { RouteConflict } from './diff.ts';
export { renderBatches, renderBridgeBatch, renderIpBatch } from './render.ts';
export type { Batch } from './render.ts';
export {
  gatewayKey,
  innerLayout,
  innerMAC,
  nodeMAC,
  clusterSlots,
  gatewaySlots,
  innerAddress,
  fnv1a32,
} from './inner.ts';
export { canonicalCIDR, canonicalIP } from './addr.ts';
