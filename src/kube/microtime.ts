// Lease times are MicroTime: the apiserver requires exactly six fractional digits. The client
// library types them as Date but serializes a Date with three, which the apiserver rejects, and
// passes strings through unchanged; so we hand it a correctly formatted string.
export function microTime(ms: number): Date {
  const iso = new Date(ms).toISOString(); // 2026-01-01T00:00:00.123Z
  return `${iso.slice(0, -1)}000Z` as unknown as Date;
}
