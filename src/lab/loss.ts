// What the traffic endpoints (traffic.mjs) report, parsed once from their JSON answers into typed
// values, and arranged per direction ("a>b": the stream from member a's pod as b's pod received it).
import type { SourceReport } from './stream.mjs';

export class TrafficReportError extends Error {
  override readonly name = 'TrafficReportError';
}

/**
 * One direction's loss since a mark, as the endpoint reported it for that source (see
 * src/lab/stream.mjs): windows in ms of the sender's clock; `windows` counts the closed ones,
 * `lossWindowMs` is the longest, closed or still open (`ongoingMs`), and the sender's stalls are
 * those within that window (null for an open one) and over the whole period.
 */
export type DirectionLoss = Omit<SourceReport, 'from' | 'to' | 'windowSentMs'>;

function num(o: Record<string, unknown>, key: string, where: string): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isFinite(v))
    throw new TrafficReportError(`${where}: ${key} is not a number (${JSON.stringify(v)})`);
  return v;
}

function record(v: unknown, where: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new TrafficReportError(`${where}: not an object (${JSON.stringify(v)})`);
  return v as Record<string, unknown>;
}

/** One source of a `report` answer. */
export function parseSourceLoss(v: unknown, where: string): DirectionLoss {
  const o = record(v, where);
  const stalled = o.windowSenderStalledMs;
  if (stalled !== null && (typeof stalled !== 'number' || !Number.isFinite(stalled)))
    throw new TrafficReportError(`${where}: windowSenderStalledMs is neither a number nor null`);
  return {
    received: num(o, 'received', where),
    lost: num(o, 'lost', where),
    windows: num(o, 'windows', where),
    lossWindowMs: num(o, 'lossWindowMs', where),
    ongoingMs: num(o, 'ongoingMs', where),
    windowSenderStalledMs: stalled,
    senderStalls: num(o, 'senderStalls', where),
    senderStalledMs: num(o, 'senderStalledMs', where),
  };
}

/**
 * Every endpoint's `report` answer (by the receiving cluster's ID) as loss per direction.
 * `clusterOf` names the cluster whose pod has a source address.
 */
export function lossByDirection(
  answers: ReadonlyMap<string, unknown>,
  clusterOf: ReadonlyMap<string, string>,
): Record<string, DirectionLoss> {
  const out: Record<string, DirectionLoss> = {};
  for (const [to, answer] of answers) {
    const sources = record(record(answer, `report of ${to}`).sources, `report of ${to}: sources`);
    for (const [ip, s] of Object.entries(sources)) {
      const from = clusterOf.get(ip);
      if (!from) throw new TrafficReportError(`report of ${to}: source ${ip} is no cluster's pod`);
      out[`${from}>${to}`] = parseSourceLoss(s, `report of ${to}: source ${ip}`);
    }
  }
  return out;
}
