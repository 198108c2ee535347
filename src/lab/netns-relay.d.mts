// Types for netns-relay.mjs (plain JavaScript, so that it starts quickly inside a namespace).
export type Endpoint = { host: string; port: number } | { path: string };
export interface Forward {
  from: Endpoint;
  to: Endpoint;
}
export function endpoint(s: string): Endpoint;
/** Listens on every forward's `from` and pipes each connection to its `to`; resolves once all listen. */
export function relay(forwards: Forward[]): Promise<{ close(): Promise<void> }>;
