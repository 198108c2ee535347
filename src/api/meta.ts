// Schemas shared by several kinds: conditions and label selectors, shaped as Kubernetes defines them.
import { s } from './schema.ts';
import type { Infer } from './schema.ts';

export const conditionSchema = s.object(
  {
    type: s.string({ description: 'Condition type, e.g. Ready or Degraded.', maxLength: 316 }),
    status: s.enum(['True', 'False', 'Unknown'] as const, { description: 'Status of the condition.' }),
    reason: s.string({ description: 'One CamelCase word saying why.', maxLength: 1024 }),
    message: s.string({
      description: 'What happened and, when something is wrong, what to fix.',
      maxLength: 32768,
    }),
    lastTransitionTime: s.string({ description: 'When status last changed.', format: 'date-time' }),
    observedGeneration: s.optional(
      s.integer({
        description: 'The .metadata.generation the condition was computed from.',
        format: 'int64',
        minimum: 0,
      }),
    ),
  },
  { description: 'A standard Kubernetes condition.' },
);
export type Condition = Infer<typeof conditionSchema>;

export const conditionsSchema = s.array(conditionSchema, {
  description: 'Current conditions of the object.',
  listType: 'map',
  mapKeys: ['type'],
  maxItems: 8,
});

const requirement = s.object(
  {
    key: s.string({ description: 'Label key.', maxLength: 317 }),
    operator: s.enum(['In', 'NotIn', 'Exists', 'DoesNotExist'] as const, {
      description: 'How key and values relate.',
    }),
    values: s.optional(
      s.array(s.string({ description: 'A label value.', maxLength: 63 }), {
        description: 'Values for In and NotIn; must be empty for Exists and DoesNotExist.',
        maxItems: 64,
      }),
    ),
  },
  {
    description: 'One label selector requirement.',
    rules: [
      {
        rule: "self.operator in ['In', 'NotIn'] ? (has(self.values) && size(self.values) > 0) : (!has(self.values) || size(self.values) == 0)",
        message: 'In and NotIn need at least one value; Exists and DoesNotExist take no values',
      },
    ],
  },
);

export const labelSelectorSchema = s.object(
  {
    matchLabels: s.optional(
      s.map(s.string({ description: 'Label value.', maxLength: 63 }), {
        description: 'Labels that must all match.',
      }),
    ),
    matchExpressions: s.optional(
      s.array(requirement, { description: 'Requirements that must all hold.', maxItems: 16 }),
    ),
  },
  { description: 'A Kubernetes label selector.' },
);
export type LabelSelector = Infer<typeof labelSelectorSchema>;
