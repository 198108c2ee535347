export * from './group.ts';
export * from './types.ts';
export { allCRDs, crdFor, KINDS } from './crd.ts';
export { applyDefaults } from './schema.ts';
export { gatewayPolicySpecSchema, MODES } from './gatewaypolicy.ts';
export { clusterGatewaySpecSchema, ROLES } from './clustergateway.ts';
