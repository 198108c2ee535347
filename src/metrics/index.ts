// Every component's metrics factory. docs/metrics.md documents exactly these metrics (tested).
import type { Registry } from 'prom-client';
import { agentMetricSet } from './agent.ts';
import { controllerMetricSet } from './controller.ts';
import { exchangeMetricSet } from './exchange.ts';
import { leaderMetricSet } from './leader.ts';
import type { MetricSpec, MetricsFactory } from './registry.ts';

export const COMPONENTS: readonly MetricsFactory<Record<string, MetricSpec>>[] = [
  controllerMetricSet,
  leaderMetricSet,
  exchangeMetricSet,
  agentMetricSet,
];

/** Registers every component's metrics on `reg` (for documentation checks and dashboards). */
export function registerAll(reg: Registry): void {
  for (const f of COMPONENTS) f(reg);
}

export { AgentMetrics } from './agent.ts';
export { ControllerMetrics } from './controller.ts';
export { ExchangeMetrics } from './exchange.ts';
export { LeaderMetrics } from './leader.ts';
export { createRegistry, defineMetrics, metricsEndpoint } from './registry.ts';
export type { MetricSpec, MetricsFactory } from './registry.ts';
