// Prometheus metrics: one Registry per process (never prom-client's global one, so tests and several
// components in one process do not collide), and a typed factory per component. A component declares
// its metrics once with defineMetrics(); calling the factory on a registry registers them there, once.
// To add a component (e.g. the agent's BFD metrics): write src/metrics/<component>.ts with its
// defineMetrics() call, add the factory to COMPONENTS in src/metrics/index.ts and document every
// metric in docs/metrics.md (a test checks both ways).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export type MetricType = 'counter' | 'gauge' | 'histogram';

export interface MetricSpec {
  type: MetricType;
  /** Always `mcgw_<component>_...`; counters end in `_total`, durations in `_seconds`. */
  name: string;
  help: string;
  labels?: readonly string[];
  /** Histograms only; defaults to DURATION_BUCKETS. */
  buckets?: readonly number[];
}

/** Seconds, from 1 ms (a reconcile on a small cluster) to 10 s (an apiserver under load). */
export const DURATION_BUCKETS: readonly number[] = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

type LabelsOf<S> = S extends { labels: readonly (infer L extends string)[] } ? L : string;
type Built<S> = S extends { type: 'counter' }
  ? Counter<LabelsOf<S>>
  : S extends { type: 'gauge' }
    ? Gauge<LabelsOf<S>>
    : Histogram<LabelsOf<S>>;

export type MetricSet<S extends Record<string, MetricSpec>> = { readonly [K in keyof S]: Built<S[K]> };

export interface MetricsFactory<S extends Record<string, MetricSpec>> {
  /** Registers the component's metrics on `reg` (once per registry) and returns them. */
  (reg: Registry): MetricSet<S>;
  readonly component: string;
  readonly specs: S;
}

const NAME = /^mcgw_[a-z][a-z0-9_]*$/;

export function defineMetrics<const S extends Record<string, MetricSpec>>(
  component: string,
  specs: S,
): MetricsFactory<S> {
  for (const s of Object.values(specs)) {
    if (!NAME.test(s.name)) throw new Error(`metric ${s.name}: names must match ${NAME}`);
    if (s.type === 'counter' && !s.name.endsWith('_total'))
      throw new Error(`metric ${s.name}: counter names end in _total`);
  }
  const built = new WeakMap<Registry, MetricSet<S>>();
  const factory = (reg: Registry): MetricSet<S> => {
    const hit = built.get(reg);
    if (hit) return hit;
    const out: Record<string, unknown> = {};
    for (const [key, s] of Object.entries(specs)) {
      const base = { name: s.name, help: s.help, labelNames: [...(s.labels ?? [])], registers: [reg] };
      out[key] =
        s.type === 'counter'
          ? new Counter(base)
          : s.type === 'gauge'
            ? new Gauge(base)
            : new Histogram({ ...base, buckets: [...(s.buckets ?? DURATION_BUCKETS)] });
    }
    const set = out as MetricSet<S>;
    built.set(reg, set);
    return set;
  };
  return Object.assign(factory, { component, specs });
}

/** A fresh registry; with processMetrics, prom-client's standard process_* and nodejs_* metrics too. */
export function createRegistry(opts: { processMetrics?: boolean } = {}): Registry {
  const reg = new Registry();
  if (opts.processMetrics) collectDefaultMetrics({ register: reg });
  return reg;
}

/** The `/metrics` handler for startHealthServer's `extra` hook. */
export function metricsEndpoint(
  reg: Registry,
): Record<string, () => Promise<{ type: string; body: string }>> {
  return { '/metrics': async () => ({ type: reg.contentType, body: await reg.metrics() }) };
}
