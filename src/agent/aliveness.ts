// How long the agent was away, across restarts. A restarted agent plans from its state file before
// Kubernetes answers, which keeps a quick restart lossless. But if the file says this Node is a
// Gateway and the agent was gone for longer than a Gateway Lease lasts, the controller may have
// given the role, and with it the tunnel-inner address, to another Node; acting as a Gateway again
// would claim an address now in use elsewhere and flap that Gateway's BFD sessions. So the agent
// marks itself alive in a small file every second and, on start, drops a stale Gateway role until
// Kubernetes confirms it.
import { readFile, utimes, writeFile } from 'node:fs/promises';
import { statSync } from 'node:fs';
import type { AgentInputs } from './inputs.ts';

export interface AliveRecord {
  /** When the agent was last running, ms since the epoch (the file's mtime). */
  aliveAt: number;
  /** The Gateway Lease duration in force then, if the agent knew it. */
  leaseDurationMs?: number;
}

export async function readAlive(path: string): Promise<AliveRecord | undefined> {
  try {
    const text = await readFile(path, 'utf8');
    const j = JSON.parse(text || '{}') as { leaseDurationMs?: unknown };
    return {
      aliveAt: statSync(path).mtimeMs,
      ...(typeof j.leaseDurationMs === 'number' && { leaseDurationMs: j.leaseDurationMs }),
    };
  } catch {
    return undefined;
  }
}

/** Rewrites the record (when the Lease duration changes) or just touches it (every tick). */
export async function markAlive(path: string, leaseDurationMs?: number): Promise<void> {
  if (leaseDurationMs !== undefined) await writeFile(path, JSON.stringify({ leaseDurationMs }));
  else {
    const now = new Date();
    await utimes(path, now, now).catch(() => writeFile(path, '{}'));
  }
}

/**
 * The saved inputs, minus this Node's own Gateway role when the agent is known to have been away
 * longer than the Lease; other Gateways stay, so the Node keeps routing through them. With no
 * record (first start) the role is kept: the data plane errs on the side of forwarding.
 */
export function withoutStaleGatewayRole(
  inputs: AgentInputs,
  alive: AliveRecord | undefined,
  now: number,
  defaultLeaseMs: number,
): { inputs: AgentInputs; awayMs?: number; dropped: boolean } {
  const mine = inputs.local.gateways.some((g) => g.node === inputs.node);
  if (!mine) return { inputs, dropped: false };
  if (!alive) return { inputs, dropped: false };
  const awayMs = Math.max(0, now - alive.aliveAt);
  if (awayMs < (alive.leaseDurationMs ?? defaultLeaseMs)) return { inputs, awayMs, dropped: false };
  return {
    inputs: {
      ...inputs,
      local: { ...inputs.local, gateways: inputs.local.gateways.filter((g) => g.node !== inputs.node) },
    },
    awayMs,
    dropped: true,
  };
}
