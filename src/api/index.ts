export * from './group.ts';
export * from './types.ts';
export { ALL_KINDS, allCRDs, crdFor, KINDS, LEADER_KINDS } from './crd.ts';
export { applyDefaults } from './schema.ts';
export { gatewayPolicySpecSchema, MODES } from './gatewaypolicy.ts';
export { clusterGatewaySpecSchema, ROLES } from './clustergateway.ts';
