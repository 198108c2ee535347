// What a CRD needs besides its schema. Each kind file exports one KindDefinition.
import type { JSONSchema } from './schema.ts';

export interface PrinterColumn {
  name: string;
  type: 'string' | 'integer' | 'date' | 'number' | 'boolean';
  jsonPath: string;
  description: string;
  priority?: number;
}

export interface KindDefinition {
  kind: string;
  plural: string;
  singular: string;
  shortNames: string[];
  scope: 'Cluster' | 'Namespaced';
  description: string;
  spec: JSONSchema;
  status: JSONSchema;
  printerColumns: PrinterColumn[];
  /** Rules on the whole object, e.g. tying the object name to a spec field. */
  rules?: { rule: string; message: string }[];
}
