// The per-Node agent: plans this Node's datapath from its last known inputs and BFD, and keeps the
// kernel in line with the plan. The data plane never waits on the control plane: inputs come from a
// cache on disk first and from Kubernetes when it answers; which Gateway carries traffic is decided
// by BFD alone, and a BFD change reaches the kernel as a few `route replace` lines on a pipe that is
// already open. Stopping the agent leaves every route in place; only `cleanup()` removes them.
import { execFile } from 'node:child_process';
import { BFD_STATE_NAMES, BfdDiag, BfdState } from '../bfd/constants.ts';
import { BfdRunner } from '../bfd/runner.ts';
import type { BfdAcceptedConfig, BfdAcceptRequest, BfdRunnerStateChange } from '../bfd/runner.ts';
import { diffState } from '../datapath/diff.ts';
import { MCGW_ROUTE_PROTOCOL } from '../datapath/constants.ts';
import { planDatapath } from '../datapath/plan.ts';
import type { DatapathPlan, Peer } from '../datapath/plan.ts';
import { renderBatches } from '../datapath/render.ts';
import type { Change, DesiredState, ObservedState, Route } from '../datapath/types.ts';
import type { AgentMetrics } from '../metrics/agent.ts';
import { cidrsOverlap, parseCIDR, parseIP } from '../util/ip.ts';
import type { ParsedCIDR } from '../util/ip.ts';
import type { Logger } from '../util/log.ts';
import { summarizeSessions } from './bfdsummary.ts';
import type { BfdSummary, SessionView } from './bfdsummary.ts';
import { IpBatch } from './ipbatch.ts';
import type { AgentInputs } from './inputs.ts';
import { readState, rootRouteCIDRs } from './kernel.ts';

export interface AgentOptions {
  innerCIDR: string;
  bfd: { txMs: number; rxMs: number; mult: number; port?: number; ttlCheck?: 'nftables' | 'off' };
  log: Logger;
  /** Run iproute2 in this namespace (tests); normally the agent runs inside the Node's own. */
  netns?: string;
  /** A peer whose session has not come Up this long after it was added is taken as down. */
  bfdStartupGraceMs?: number;
  /**
   * `bfd` (default) steers by BFD liveness. `gateways` runs no BFD and routes by the Gateway objects
   * alone (highest priority, or all in ActiveActive): the control-plane-only baseline of `mcgw lab`.
   */
  steerBy?: 'bfd' | 'gateways';
  /** Told when a peer's liveness changes, with the time BFD decided it (for reporting, metrics). */
  onLiveness?: (peer: Peer, up: boolean, change: BfdRunnerStateChange | undefined) => void;
  /** Told after each change reached the kernel, with how long it took from the BFD decision. */
  onApplied?: (info: { changes: number; reason: string; bfdToKernelMs?: number }) => void;
  metrics?: AgentMetrics;
}

interface SessionRec {
  discr: number;
  peer: Peer;
  local: string;
  addedAt: number;
  up: boolean;
}

/**
 * Which unknown peers a Gateway answers: the BFD sessions the other Nodes of its cluster open to it
 * through mcgw-i. The agent knows the local Gateways but not every Node, so the rule works by
 * elimination, on top of what the transport already enforces (single-hop: the received TTL must
 * be 255, so the sender is one hop away, on the underlay or at the far end of mcgw-i):
 * - this Node is a Gateway now, and the packet came single-hop to its own inner address;
 * - the source is not in the inner CIDR (remote Gateways talk from their inner addresses, and their
 *   sessions are planned, never accepted);
 * - the source is no remote Gateway's gateway or internal IP, and in no remote pod or service CIDR;
 * - the source is in no local pod or service CIDR either: a Node speaks from its InternalIP.
 * Accepted sessions never feed liveness or routing; the runner reaps them once the Node is gone.
 */
interface AcceptRule {
  inner: string;
  denied: ParsedCIDR[];
}

function acceptRule(inp: AgentInputs, selfInner: string, innerCIDR: string): AcceptRule {
  const denied: ParsedCIDR[] = [];
  const add = (s: string | undefined, host = false): void => {
    if (s === undefined) return;
    const ip = host ? parseIP(s) : undefined;
    const c = host ? (ip ? parseCIDR(`${s}/${ip.family === 4 ? 32 : 128}`) : undefined) : parseCIDR(s);
    if (c) denied.push(c);
  };
  add(innerCIDR);
  for (const c of [...inp.local.podCIDRs, ...inp.local.serviceCIDRs]) add(c);
  for (const r of inp.remotes) {
    for (const c of [...(r.podCIDRs ?? []), ...(r.serviceCIDRs ?? [])]) add(c);
    for (const g of r.gateways ?? []) {
      add(g.gatewayIP, true);
      add(g.internalIP, true);
    }
  }
  return { inner: selfInner, denied };
}

/**
 * The remote clusters a Gateway has lost: it has sessions to their Gateways and BFD says every one
 * is down. Its workers cannot see this (their sessions to it are fine), so while another local
 * Gateway exists it tells them, by holding their sessions AdminDown with diag Concatenated Path
 * Down (RFC 5880 4.1), and they move to a Gateway that still has a path. Never from unknown
 * liveness: a session still coming up is not a lost path.
 */
export function lostClusters(
  plan: Pick<DatapathPlan, 'peers' | 'selfInner'>,
  liveness: ReadonlyMap<string, boolean>,
  localGateways: number,
): string[] {
  if (!plan.selfInner || localGateways < 2) return [];
  const clusters = new Map<string, boolean>();
  for (const p of plan.peers)
    clusters.set(p.cluster, (clusters.get(p.cluster) ?? true) && liveness.get(p.key) === false);
  return [...clusters]
    .filter(([, lost]) => lost)
    .map(([c]) => c)
    .sort();
}

/** Each peer's inner address is reached directly on its device: it is its own on-link nexthop. */
function peerRoutes(plan: DatapathPlan): Route[] {
  return plan.peers.map((p) => ({
    dst: `${p.inner}/32`,
    protocol: MCGW_ROUTE_PROTOCOL,
    type: 'unicast',
    nexthops: [{ via: p.inner, dev: p.dev, weight: 1 }],
  }));
}

export class Agent {
  private inputs: AgentInputs | undefined;
  private readonly liveness = new Map<string, boolean>();
  private readonly sessions = new Map<string, SessionRec>();
  private readonly byDiscr = new Map<number, string>();
  private readonly ip: IpBatch;
  private runner: BfdRunner | undefined;
  private applied: DesiredState | undefined;
  private rootRoutes: string[] = [];
  private chain: Promise<void> = Promise.resolve();
  private graceTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  /** When each session (by local discriminator) last changed state, for the status summary. */
  private readonly lastChange = new Map<number, number>();
  private accepting: AcceptRule | undefined;
  /** Remote clusters this Gateway has lost; non-empty: its local Nodes' sessions are held down. */
  private lost: string[] = [];
  private stopped = false;
  readonly stats = { reconciles: 0, kernelChanges: 0, errors: 0, skipped: 0 };
  lastPlan: DatapathPlan | undefined;

  constructor(private readonly o: AgentOptions) {
    this.ip = new IpBatch(o.netns);
  }

  /**
   * New inputs (from Kubernetes or the cache): replan and converge. The first pass reads the kernel
   * (adopting what a previous run made); later ones diff against what was applied, like a BFD
   * change, because a ClusterSet update reaches every agent at once and eight agents each spawning
   * five `ip` readers at the same moment starved BFD on a 2-core machine. The periodic resync (and
   * the pass after any failure) still reads the kernel and repairs drift.
   */
  setInputs(inputs: AgentInputs): Promise<void> {
    this.inputs = inputs;
    return this.reconcile('inputs', false);
  }

  get currentInputs(): AgentInputs | undefined {
    return this.inputs;
  }

  /** Liveness of every peer, keyed by gatewayKey(cluster, node). */
  livenessSnapshot(): Record<string, boolean> {
    return Object.fromEntries(this.liveness);
  }

  /** Seeds liveness (e.g. from the previous run), so a restart keeps using the paths that worked. */
  seedLiveness(l: Record<string, boolean>): void {
    for (const [k, v] of Object.entries(l)) if (!this.liveness.has(k)) this.liveness.set(k, v);
  }

  /**
   * Serialises kernel work: one reconcile at a time, in order. Never rejects: a failed pass is
   * logged and counted, and a full pass (which reads the kernel again) follows a second later.
   */
  reconcile(reason: string, full: boolean, bfdAt?: number): Promise<void> {
    const job = this.chain.then(() => this.reconcileNow(reason, full, bfdAt));
    this.chain = job.catch((err: unknown) => {
      this.stats.errors++;
      // What the kernel holds is unknown after a failure: the next pass reads it.
      this.applied = undefined;
      this.o.log.error('reconcile failed; retrying in 1 s', { reason, error: (err as Error).message });
      if (!this.retryTimer && !this.stopped)
        this.retryTimer = setTimeout(() => {
          this.retryTimer = undefined;
          void this.reconcile('retry', true);
        }, 1000).unref();
    });
    return this.chain;
  }

  private async reconcileNow(reason: string, full: boolean, bfdAt?: number): Promise<void> {
    if (this.stopped || !this.inputs) return;
    const inp = this.inputs;
    let observed: ObservedState | undefined;
    if (full || !this.applied) {
      observed = await readState(this.o.netns);
      this.rootRoutes = rootRouteCIDRs(observed, MCGW_ROUTE_PROTOCOL);
    }
    const planWith = (liveness: ReadonlyMap<string, boolean>) =>
      planDatapath({
        self: {
          node: inp.node,
          cluster: inp.cluster,
          isGateway: inp.local.gateways.some((g) => g.node === inp.node),
          ...(inp.gatewayIP && { gatewayIP: inp.gatewayIP }),
          internalIP: inp.internalIP,
        },
        local: inp.local,
        remotes: inp.remotes,
        liveness,
        options: {
          vxlanPort: inp.tunnel.port,
          vni: inp.tunnel.vni,
          innerCIDR: this.o.innerCIDR,
          rootRoutes: this.rootRoutes,
        },
      });
    // Without BFD no Gateway is known alive, so the rule below routes every cluster by priority.
    const liveness = this.o.steerBy === 'gateways' ? new Map<string, boolean>() : this.liveness;
    let plan = planWith(liveness);
    // When BFD says every Gateway of a cluster is down, keep routing to them by priority rather than
    // blackholing: if they are really gone nothing is lost by it, and if only BFD was interrupted
    // (their agent restarting) the traffic keeps flowing.
    const silent = new Set(plan.peers.map((p) => p.cluster));
    for (const p of plan.peers) if (liveness.get(p.key) === true) silent.delete(p.cluster);
    if (silent.size) {
      const effective = new Map(liveness);
      for (const p of plan.peers) if (silent.has(p.cluster)) effective.set(p.key, true);
      plan = planWith(effective);
    }
    // Before the kernel: the workers' move to another Gateway is what restores their traffic.
    if (this.o.steerBy !== 'gateways')
      this.signalLostPaths(lostClusters(plan, this.liveness, inp.local.gateways.length));
    if (plan.skipped.length !== this.lastPlan?.skipped.length)
      for (const s of plan.skipped) this.o.log.warn('skipped', { what: s.what, reason: s.reason });
    this.stats.skipped = plan.skipped.length;
    this.lastPlan = plan;
    const desired: DesiredState = { ...plan.desired, routes: [...plan.desired.routes, ...peerRoutes(plan)] };
    // Fast path (a BFD change): diff against what we last applied; the periodic and input-driven
    // passes read the kernel, which also repairs anything changed behind our back.
    const changes = diffState(observed ?? (this.applied as ObservedState), desired);
    if (changes.length) await this.apply(changes);
    this.applied = desired;
    this.stats.reconciles++;
    this.o.metrics?.m.skipped.set(plan.skipped.length);
    if (changes.length) {
      this.o.metrics?.m.kernelChanges.inc({ reason }, changes.length);
      if (bfdAt !== undefined)
        this.o.metrics?.m.routeProgramming.observe(Math.max(0, Date.now() - bfdAt) / 1000);
      this.stats.kernelChanges += changes.length;
      this.o.onApplied?.({
        changes: changes.length,
        reason,
        ...(bfdAt !== undefined && { bfdToKernelMs: Date.now() - bfdAt }),
      });
      this.o.log.info('datapath updated', { reason, changes: changes.length });
    }
    if (this.o.steerBy !== 'gateways') await this.syncSessions(plan);
  }

  private async apply(changes: Change[]): Promise<void> {
    for (const b of renderBatches(changes)) {
      if (b.tool === 'ip') await this.ip.run(b.script);
      else await runBridge(b.script, this.o.netns);
    }
  }

  /**
   * BFD sessions to exactly the planned peers, from this Node's inner (or internal) address. A
   * Gateway also listens on its inner address for the sessions of the local Nodes (see AcceptRule).
   */
  private async syncSessions(plan: DatapathPlan): Promise<void> {
    const inp = this.inputs!;
    const local = plan.selfInner ?? inp.internalIP;
    // Keyed by the Gateway too: a replacement can inherit a dead Gateway's inner address, and its
    // session must start afresh and feed its own liveness, not the dead one's.
    const want = new Map(plan.peers.map((p) => [`${local}>${p.inner}>${p.key}`, p]));
    this.runner ??= new BfdRunner({
      ...(this.o.bfd.ttlCheck && { ttlCheck: this.o.bfd.ttlCheck }),
      ...(this.o.bfd.port && { singleHopPort: this.o.bfd.port }),
      logger: this.o.log,
      onStateChange: (c) => this.onBfd(c),
      accept: (req) => this.acceptNode(req),
    });
    this.accepting = plan.selfInner ? acceptRule(inp, plan.selfInner, this.o.innerCIDR) : undefined;
    if (plan.selfInner) await this.runner.listen(plan.selfInner);
    for (const [key, rec] of this.sessions) {
      if (want.has(key)) continue;
      // Forgotten first: the AdminDown this removal emits is a plan change, not a failover.
      this.sessions.delete(key);
      this.byDiscr.delete(rec.discr);
      this.runner.removeSession(rec.discr, { adminDown: true });
    }
    for (const [key, peer] of want) {
      if (this.sessions.has(key)) continue;
      const discr = await this.runner.addSession({ peer: peer.inner, local, ...this.timers() });
      this.sessions.set(key, { discr, peer, local, addedAt: Date.now(), up: false });
      this.byDiscr.set(discr, key);
    }
    this.armGrace();
  }

  /** Holds the local Nodes' sessions AdminDown while a remote cluster is lost; frees them after. */
  private signalLostPaths(lost: string[]): void {
    const was = this.lost.length > 0;
    const now = lost.length > 0;
    if (lost.join() !== this.lost.join())
      this.o.log[now ? 'warn' : 'info'](
        now ? 'lost every path to a cluster: local Nodes are told to use another Gateway' : 'paths back',
        { clusters: lost, before: this.lost },
      );
    this.lost = lost;
    if (was === now || !this.runner) return;
    for (const info of this.runner.sessions()) {
      if (!info.accepted) continue;
      if (now) this.runner.setAdminDown(info.localDiscr, BfdDiag.ConcatenatedPathDown);
      else if (info.snapshot.state === BfdState.AdminDown) this.runner.enable(info.localDiscr);
    }
  }

  private timers(): BfdAcceptedConfig {
    return {
      desiredMinTxUs: this.o.bfd.txMs * 1000,
      requiredMinRxUs: this.o.bfd.rxMs * 1000,
      detectMult: this.o.bfd.mult,
    };
  }

  /** The runner's acceptor: a local Node's session to this Gateway gets the agent's own timers. */
  private acceptNode(req: BfdAcceptRequest): BfdAcceptedConfig | undefined {
    const rule = this.accepting;
    if (this.stopped || !rule || req.multihop || req.local !== rule.inner) return undefined;
    const ip = parseIP(req.peer);
    if (!ip || ip.family !== parseIP(rule.inner)?.family) return undefined;
    const host = { family: ip.family, bytes: ip.bytes, prefix: ip.family === 4 ? 32 : 128 };
    if (rule.denied.some((c) => cidrsOverlap(host, c))) return undefined;
    return this.lost.length
      ? { ...this.timers(), adminDownDiag: BfdDiag.ConcatenatedPathDown }
      : this.timers();
  }

  /** A peer that never came Up within the grace is taken as down, so a dead one is not used for ever. */
  private armGrace(): void {
    if (this.graceTimer) return;
    const grace = this.o.bfdStartupGraceMs ?? 5000;
    this.graceTimer = setTimeout(() => {
      this.graceTimer = undefined;
      let changed = false;
      for (const rec of this.sessions.values()) {
        if (rec.up || Date.now() - rec.addedAt < grace) continue;
        if (this.liveness.get(rec.peer.key) !== false) {
          this.liveness.set(rec.peer.key, false);
          this.o.onLiveness?.(rec.peer, false, undefined);
          changed = true;
        }
      }
      if (changed) void this.reconcile('bfd-startup-grace', false);
      if ([...this.sessions.values()].some((r) => !r.up && Date.now() - r.addedAt < grace)) this.armGrace();
    }, grace).unref();
  }

  private onBfd(c: BfdRunnerStateChange): void {
    this.lastChange.set(c.localDiscr, c.atMs);
    if (c.accepted) {
      // A local Node's session to this Gateway: counted and logged, never routed on.
      this.o.metrics?.transition(c.new, c.diag, c.observedAtMs - c.atMs);
      this.o.log.debug('bfd node session', { peer: c.peer, old: c.old, new: c.new, diag: c.diag });
      return;
    }
    const key = this.byDiscr.get(c.localDiscr);
    const rec = key ? this.sessions.get(key) : undefined;
    if (!rec) return;
    const up = c.new === BfdState.Up;
    rec.up = up;
    this.o.metrics?.transition(c.new, c.diag, c.observedAtMs - c.atMs);
    this.o.log.info('bfd', {
      peer: rec.peer.key,
      inner: rec.peer.inner,
      old: c.old,
      new: c.new,
      diag: c.diag,
    });
    if (c.new !== BfdState.Up && c.new !== BfdState.Down && c.new !== BfdState.AdminDown) return;
    if (this.liveness.get(rec.peer.key) === up) return;
    this.liveness.set(rec.peer.key, up);
    if (!up) this.o.metrics?.m.failovers.inc();
    this.o.onLiveness?.(rec.peer, up, c);
    void this.reconcile(up ? 'bfd-up' : 'bfd-down', false, c.atMs);
  }

  /** Every BFD session in a form `mcgw status` shows (see bfdsummary.ts). */
  bfdSummary(): BfdSummary {
    const views: SessionView[] = [];
    const live = new Set<number>();
    for (const info of this.runner?.sessions() ?? []) {
      live.add(info.localDiscr);
      const rec = this.sessions.get(this.byDiscr.get(info.localDiscr) ?? '');
      const changed = this.lastChange.get(info.localDiscr);
      views.push({
        snapshot: info.snapshot,
        ...(rec && { peer: { key: rec.peer.key, address: rec.peer.inner } }),
        ...(changed !== undefined && { lastChangeMs: changed }),
      });
    }
    for (const d of this.lastChange.keys()) if (!live.has(d)) this.lastChange.delete(d);
    return summarizeSessions(views, Date.now());
  }

  /** Brings the gauges up to date (session states, drop counters); called before each scrape. */
  refreshMetrics(): void {
    const m = this.o.metrics;
    if (!m || !this.runner) return;
    const byState: Record<string, number> = {};
    for (const info of this.runner.sessions()) {
      const name = BFD_STATE_NAMES[info.snapshot.state];
      byState[name] = (byState[name] ?? 0) + 1;
    }
    m.sessions(byState);
    for (const [reason, n] of Object.entries(this.runner.stats().dropped)) m.m.dropped.set({ reason }, n);
  }

  /** Removes every link, address, FDB entry, neighbour and route the agent made. */
  async cleanup(): Promise<number> {
    this.stopped = true;
    await this.runner?.close({ adminDown: true });
    const empty: DesiredState = { links: [], addresses: [], fdb: [], neighbors: [], routes: [] };
    const changes = diffState(await readState(this.o.netns), empty);
    if (changes.length) await this.apply(changes);
    this.ip.close();
    return changes.length;
  }

  /** Stops without touching the kernel, and without AdminDown: a restart must not move traffic. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.graceTimer) clearTimeout(this.graceTimer);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    await this.chain;
    await this.runner?.close({ adminDown: false });
    this.ip.close();
  }
}

function runBridge(script: string, netns?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = execFile(
      'bridge',
      [...(netns ? ['-n', netns] : []), '-force', '-batch', '-'],
      (err, _out, stderr) =>
        err ? reject(new Error(`bridge -batch: ${stderr.trim() || err.message}`)) : resolve(),
    );
    p.stdin?.end(script);
  });
}
