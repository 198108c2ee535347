// A GatewayPolicy's spec as every part must read it: with the schema's defaults filled in, as the
// apiserver would have stored them. The controller plans with it, the agent takes its timings from
// it, the exchange exports its mode and `mcgw status` shows it.
import { gatewayPolicySpecSchema } from '../api/gatewaypolicy.ts';
import { applyDefaults } from '../api/schema.ts';
import type { GatewayPolicySpec } from '../api/types.ts';

export type EffectiveSpec = Required<
  Pick<
    GatewayPolicySpec,
    'desiredInstances' | 'mode' | 'zoneTopologyKey' | 'holdDownSeconds' | 'drainSettleSeconds'
  >
> & {
  candidateSelector: NonNullable<GatewayPolicySpec['candidateSelector']>;
  leaseDurationMs: number;
  renewIntervalMs: number;
};

/** The spec with every default filled in, as the apiserver would have stored it. */
export function effectiveSpec(spec: GatewayPolicySpec | undefined): EffectiveSpec {
  const d = applyDefaults(gatewayPolicySpecSchema.json, spec ?? {}) as GatewayPolicySpec;
  return {
    desiredInstances: d.desiredInstances!,
    mode: d.mode!,
    zoneTopologyKey: d.zoneTopologyKey!,
    holdDownSeconds: d.holdDownSeconds!,
    drainSettleSeconds: d.drainSettleSeconds!,
    candidateSelector: d.candidateSelector!,
    leaseDurationMs: d.failureDetection?.leaseDurationMs ?? 3000,
    renewIntervalMs: d.failureDetection?.renewIntervalMs ?? 1000,
  };
}
