// Failure scenarios on a running lab, each run as trials: find the Gateway carrying traffic from
// member a to member b, break it (or break something around it), and measure per direction how long
// the stream was lost, how long until the control plane had the desired Gateways again, and how many
// Gateways were declared down that were not broken (false failovers, from the agents' logs).
import { availableParallelism, loadavg } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { DRAINING_LABEL } from '../api/group.ts';
import type { LabCluster, LabNode } from './plan.ts';
import { LabError } from './lab.ts';
import type { DirectionLoss } from './loss.ts';
import type { Testbed as Lab } from './testbed.ts';
import { summarize, withBaseline } from './report.ts';
import type { ScenarioReport } from './report.ts';
import { bfdDetectionFloorMs, invalidReasons } from './validity.ts';
import type { LossFloor } from './validity.ts';

export interface ScenarioDef {
  description: string;
  /** Whether the scenario breaks a Gateway (false: nothing should fail over at all). */
  breaksGateway: boolean;
  /** Whether the controller is expected to replace the victim (its Lease stops). */
  replaced: boolean;
  /**
   * Whether the break takes the victim's path away at once (not make-before-break), so the stream
   * it carries (a>b) cannot move before BFD declares the victim down: that direction's loss window
   * is at least (mult − 1) × tx, and a shorter one marks the trial invalid (see validity.ts).
   */
  cutsPath: boolean;
  /** Breaks things; returns how to repair them after the trial. */
  inject(lab: Lab, victim: LabNode, t: TrialContext): Promise<Repair>;
}

/**
 * How to undo an injection. `controlPlane` (apiservers brought back) runs once the data plane's
 * loss has been read, and the restore time is measured after it; `victim` runs last.
 */
export interface Repair {
  controlPlane?: () => Promise<void>;
  victim: () => Promise<void>;
}

export interface TrialContext {
  /** How long to keep measuring after the injection (soak: its whole duration). */
  observeMs: number;
  say(msg: string): void;
}

/** A Gateway Node dies (see Testbed.powerOff: the link goes first, as a power loss would). */
async function nodeDeath(lab: Lab, victim: LabNode): Promise<Repair> {
  await lab.powerOff(victim);
  return { victim: () => lab.powerOn(victim) };
}

/** Drops the tunnel's UDP between the victim and the other cluster's Gateways, one way or both. */
async function cutTunnel(lab: Lab, victim: LabNode, both: boolean): Promise<Repair> {
  const remote = lab.plan.clusters.find((c) => c.id !== victim.cluster)!;
  const peers = remote.nodes.filter((n) => n.candidate).map((n) => n.underlay);
  const set = `{ ${peers.join(', ')} }`;
  // Cut on the underlay bridge, at the victim's port, as a broken link or a firewall would: the
  // victim's own stack sees nothing. (A rule in the victim's output hook missed the kernel's
  // VXLAN-encapsulated packets, so a one-way cut there cut nothing.)
  const port = `p-${victim.label}`;
  const rules = [`iifname "${port}" ip daddr ${set} udp dport 4789 drop`];
  if (both) rules.push(`oifname "${port}" ip saddr ${set} udp dport 4789 drop`);
  await lab.nftSwitch(
    [
      'table bridge mcgwlab {',
      '  chain cut {',
      '    type filter hook forward priority 0;',
      ...rules.map((r) => `    ${r};`),
      '  }',
      '}',
    ].join('\n'),
  );
  return {
    victim: async () => {
      await lab.nftSwitch('delete table bridge mcgwlab');
    },
  };
}

/**
 * The victim's Node is drained for maintenance, as `kubectl label node <victim> mcgw.io/draining=true`
 * would: the controller marks its Gateway draining, places a replacement, and removes the victim's
 * instance once the replacement has been Ready for drainSettleSeconds. The injection returns when
 * the victim has no instance left, so the trial's loss covers the whole drain.
 */
async function drain(lab: Lab, victim: LabNode, t: TrialContext): Promise<Repair> {
  const { core } = lab.member(victim.cluster).clients;
  const path = `/metadata/labels/${DRAINING_LABEL.replace('/', '~1')}`;
  await core.patchNode({ name: victim.name, body: [{ op: 'add', path, value: 'true' }] });
  t.say(`${victim.name} labelled ${DRAINING_LABEL}=true`);
  await lab.waitFor(`${victim.name} to be drained`, t.observeMs, async () =>
    (await lab.gateways(victim.cluster)).every((g) => g.spec.nodeName !== victim.name),
  );
  return {
    victim: async () => {
      await core.patchNode({ name: victim.name, body: [{ op: 'remove', path }] });
    },
  };
}

export const SCENARIOS: Record<string, ScenarioDef> = {
  'gateway-agent-killed': {
    description: "the carrying Gateway's agent is SIGKILLed; its Node and links stay up",
    breaksGateway: true,
    replaced: true,
    cutsPath: false,
    async inject(lab, victim) {
      await lab.killAgent(victim);
      return { victim: () => lab.agentStart(victim) };
    },
  },
  'gateway-death': {
    description:
      'the carrying Gateway Node dies: link down and agent killed at once, Node NotReady after the grace',
    breaksGateway: true,
    replaced: true,
    cutsPath: true,
    inject: nodeDeath,
  },
  'tunnel-cut-one-way': {
    description: "the carrying Gateway's tunnel packets to the other cluster are dropped (nftables)",
    breaksGateway: true,
    replaced: false,
    cutsPath: true,
    inject: (lab, victim) => cutTunnel(lab, victim, false),
  },
  'tunnel-cut-both-ways': {
    description: "the carrying Gateway's tunnel packets to and from the other cluster are dropped",
    breaksGateway: true,
    replaced: false,
    cutsPath: true,
    inject: (lab, victim) => cutTunnel(lab, victim, true),
  },
  'apiserver-down': {
    description: "both members' apiservers are stopped, then the carrying Gateway Node dies",
    breaksGateway: true,
    replaced: true,
    cutsPath: true,
    async inject(lab, victim, t) {
      const cps = lab.plan.clusters.map((c) => lab.member(c.id).cp);
      await Promise.all(cps.map((cp) => cp.killApiserver('SIGKILL')));
      t.say('member apiservers stopped');
      const repair = await nodeDeath(lab, victim);
      return {
        ...repair,
        controlPlane: () => Promise.all(cps.map((cp) => cp.startApiserver())).then(() => {}),
      };
    },
  },
  'control-planes-down': {
    description:
      "every apiserver (members' and the leader's) is stopped, then the carrying Gateway Node dies",
    breaksGateway: true,
    replaced: true,
    cutsPath: true,
    async inject(lab, victim, t) {
      const cps = lab.controlPlanes();
      await Promise.all(cps.map((cp) => cp.killApiserver('SIGKILL')));
      t.say('every apiserver stopped');
      const repair = await nodeDeath(lab, victim);
      return {
        ...repair,
        controlPlane: () => Promise.all(cps.map((cp) => cp.startApiserver())).then(() => {}),
      };
    },
  },
  'leader-down': {
    description: "the leader cluster's apiserver is stopped, then the carrying Gateway Node dies",
    breaksGateway: true,
    replaced: true,
    cutsPath: true,
    async inject(lab, victim, t) {
      await lab.leader.killApiserver('SIGKILL');
      t.say('leader apiserver stopped');
      const repair = await nodeDeath(lab, victim);
      return { ...repair, controlPlane: () => lab.leader.startApiserver() };
    },
  },
  'controller-leader-killed': {
    description: "the carrying Gateway Node dies and its cluster's elected controller is SIGKILLed with it",
    breaksGateway: true,
    replaced: true,
    cutsPath: true,
    async inject(lab, victim) {
      const repair = await nodeDeath(lab, victim);
      const restart = await lab.killElectedController(victim.cluster).catch(async (err: unknown) => {
        await repair.victim();
        throw err;
      });
      return {
        victim: async () => {
          await restart();
          await repair.victim();
        },
      };
    },
  },
  drain: {
    description:
      'the carrying Gateway Node is labelled mcgw.io/draining=true (maintenance): make before break, nothing should be lost',
    breaksGateway: true,
    replaced: true,
    cutsPath: false,
    inject: drain,
  },
  soak: {
    description: 'nothing is broken: traffic and BFD run for the whole duration',
    breaksGateway: false,
    replaced: false,
    cutsPath: false,
    async inject(_lab, _victim, t) {
      await sleep(t.observeMs);
      return { victim: async () => {} };
    },
  },
};

export interface TrialResult {
  trial: number;
  victim: string | null;
  /**
   * Longest loss window per direction ("a>b"): the send-time span around a run of lost packets,
   * less one packet interval, or the window still open when the loss was read. Reports written
   * before send times were stamped (no `invalid` field) hold the run's length in packets × interval.
   */
  lossWindowMs: Record<string, number>;
  lostPackets: Record<string, number>;
  /** The sender's stall time within each direction's window (null: the window was still open). */
  windowSenderStalledMs?: Record<string, number | null>;
  /** The shortest loss window the break allows in a>b (BFD detection), when one applies. */
  lossFloorMs?: number | null;
  /**
   * Why the loss figures are not trusted (validity.ts); empty when they are. Absent in reports
   * written before the check existed.
   */
  invalid?: string[];
  /** From the injection until the victim's cluster had its desired ready Gateways, none on the victim. */
  controlPlaneRestoreMs: number | null;
  /** Gateways other agents than the victim declared down during the trial, the victim aside. */
  falseFailovers: number;
  /** mcgw processes that exited unasked during the trial (the lab restarts them, as a kubelet would). */
  crashes: number;
}

/** "peer down" lines the agents logged at or after `since` (epoch ms), by peer node. */
function peerDowns(lab: Lab, since: number): { agent: string; peer: string }[] {
  const out: { agent: string; peer: string }[] = [];
  for (const n of lab.nodes) {
    for (const line of lab.agentLog(n).split('\n')) {
      if (!line.includes('"peer down"')) continue;
      try {
        const j = JSON.parse(line) as { ts: string; peer: string };
        if (Date.parse(j.ts) >= since) out.push({ agent: n.name, peer: j.peer.split('/')[1] ?? j.peer });
      } catch {
        // a torn line
      }
    }
  }
  return out;
}

/** BFD sessions not Up in a /metrics text (mcgw_agent_bfd_sessions by state). */
export function sessionsNotUp(metrics: string): number {
  let n = 0;
  for (const m of metrics.matchAll(/^mcgw_agent_bfd_sessions\{state="(\w+)"\} (\S+)$/gm))
    if (m[1] !== 'Up') n += Number(m[2]);
  return n;
}

/**
 * Waits until every member has its desired ready Gateways, every running agent's BFD sessions are
 * Up, and traffic flows without loss. The sessions matter: after a repair the traffic may still be
 * on the stand-in Gateway while the repaired one comes back, and a trial that picked its victim
 * then would break a Gateway that is about to stop carrying anything.
 */
export async function steady(lab: Lab, timeoutMs = 120_000): Promise<void> {
  await lab.waitFor('the ClusterSet to settle', timeoutMs, async () => {
    for (const c of lab.plan.clusters) {
      const p = await lab.policy(c.id);
      if ((p.status?.readyInstances ?? 0) < lab.cfg.desired) return false;
      if ((p.status?.gateways ?? []).length !== lab.cfg.desired) return false;
    }
    for (const n of lab.nodes) {
      if (!lab.agentRunning(n)) continue;
      if (sessionsNotUp(await lab.agentMetrics(n)) > 0) return false;
    }
    return lab.trafficFlows();
  });
}

export async function runTrial(
  lab: Lab,
  name: string,
  trial: number,
  ctx: TrialContext,
): Promise<TrialResult> {
  const found = SCENARIOS[name];
  if (!found) throw new LabError(`no scenario ${name}; known: ${Object.keys(SCENARIOS).join(', ')}`);
  const def: ScenarioDef = found;
  await steady(lab);
  const [a, b] = lab.plan.clusters as [LabCluster, LabCluster];
  const victim = def.breaksGateway ? await lab.carrier(a, b) : undefined;
  const mark = `${name}-${trial}-${Date.now()}`;
  const crashesBefore = await lab.crashes();
  await lab.trafficCommand('mark', mark);
  await sleep(300);
  const t0 = Date.now();
  ctx.say(victim ? `trial ${trial}: breaking ${victim.name}` : `trial ${trial}: observing`);
  const repair = await def.inject(lab, victim ?? a.nodes[0]!, ctx);
  // Whatever fails from here on, the repairs still run: a trial that throws must not leave the
  // lab broken for the next one (an apiserver stopped, a Node powered off).
  let controlPlaneBack = !repair.controlPlane;
  let victimBack = false;
  try {
    return await measure();
  } finally {
    if (!controlPlaneBack) await repair.controlPlane?.().catch(() => {});
    if (!victimBack) await repair.victim().catch(() => {});
  }

  async function measure(): Promise<TrialResult> {
    let loss: Record<string, DirectionLoss> | undefined;
    if (repair.controlPlane) {
      // The data plane is judged while the control plane is away; then the control plane returns.
      await sleep(3_000);
      loss = await lab.lossSince(mark);
      await repair.controlPlane();
      controlPlaneBack = true;
    }
    let restore: number | null = null;
    if (victim && def.replaced) {
      restore = await lab
        .waitFor(`${victim.cluster} to replace ${victim.name}`, ctx.observeMs, async () => {
          const p = await lab.policy(victim.cluster);
          const gws = p.status?.gateways ?? [];
          return (
            (p.status?.readyInstances ?? 0) >= lab.cfg.desired &&
            gws.length === lab.cfg.desired &&
            !gws.some((g) => g.node === victim.name)
          );
        })
        .then(() => Date.now() - t0)
        .catch(() => null);
    }
    // Let the stream run on past the failover before reading the receivers.
    if (victim) await sleep(Math.max(0, 2_000 - (Date.now() - t0)) + 1_000);
    loss ??= await lab.lossSince(mark);
    // What the victim itself saw go down (a cut tunnel) is part of the break, not a false failover.
    const downs = peerDowns(lab, t0).filter((d) => d.peer !== victim?.name && d.agent !== victim?.name);
    await repair.victim();
    victimBack = true;
    // The baseline has no BFD: it fails over once the Node turns NotReady, tens of seconds after the
    // break, and the BFD floor says nothing about it.
    const floor: LossFloor | null =
      victim && def.cutsPath && !lab.cfg.baseline
        ? {
            ms: bfdDetectionFloorMs({ txMs: lab.cfg.bfdTxMs, mult: lab.cfg.bfdMult }),
            directions: [`${a.id}>${b.id}`],
            what: 'the BFD detection minimum, (mult - 1) x tx',
          }
        : null;
    const each = <T>(f: (l: DirectionLoss) => T): Record<string, T> =>
      Object.fromEntries(Object.entries(loss).map(([k, v]) => [k, f(v)]));
    return {
      trial,
      victim: victim?.name ?? null,
      lossWindowMs: each((l) => l.lossWindowMs),
      lostPackets: each((l) => l.lost),
      windowSenderStalledMs: each((l) => l.windowSenderStalledMs),
      lossFloorMs: floor?.ms ?? null,
      invalid: invalidReasons(loss, floor),
      controlPlaneRestoreMs: restore,
      falseFailovers: new Set(downs.map((d) => d.peer)).size,
      crashes: (await lab.crashes()) - crashesBefore,
    };
  }
}

/** Scenarios the control-plane-only baseline is measured for (where a control plane can act). */
export const BASELINE_SCENARIOS = new Set(['gateway-death']);

export interface RunOptions {
  trials: number;
  /** Baseline trials in the same run (each waits out the NotReady grace, so keep them few). */
  baselineTrials: number;
  /** Soak length, or how long a trial may wait for the control plane. */
  observeMs: number;
}

export async function runScenario(
  lab: Lab,
  name: string,
  o: RunOptions,
  say: (msg: string) => void,
): Promise<ScenarioReport> {
  const def = SCENARIOS[name];
  if (!def) throw new LabError(`no scenario ${name}; known: ${Object.keys(SCENARIOS).join(', ')}`);
  const startedAt = new Date().toISOString();
  const trials: TrialResult[] = [];
  for (let i = 1; i <= o.trials; i++) {
    const r = await runTrial(lab, name, i, { observeMs: o.observeMs, say });
    say(`trial ${i}: ${describe(r)}`);
    trials.push(r);
  }
  let report: ScenarioReport = {
    scenario: name,
    description: def.description,
    mode: lab.cfg.mode,
    bfd: { txMs: lab.cfg.bfdTxMs, mult: lab.cfg.bfdMult },
    ratePps: lab.cfg.rate,
    startedAt,
    trials,
    summary: summarize(trials, def.replaced),
    machine: { cpus: availableParallelism(), loadAverage1m: Math.round(loadavg()[0]! * 100) / 100 },
  };
  if (o.baselineTrials > 0 && BASELINE_SCENARIOS.has(name)) {
    say('switching to the baseline: agents follow Gateway objects, controllers judge Nodes by Ready alone');
    await lab.setBaseline(true);
    const base: TrialResult[] = [];
    try {
      for (let i = 1; i <= o.baselineTrials; i++) {
        const r = await runTrial(lab, name, i, { observeMs: lab.cfg.nodeGraceMs + 60_000, say });
        say(`baseline trial ${i}: ${describe(r)}`);
        base.push(r);
      }
    } finally {
      await lab.setBaseline(false);
    }
    report = withBaseline(
      report,
      base,
      `no BFD, no Gateway Leases: failover once the Node is NotReady (${lab.cfg.nodeGraceMs / 1000} s grace)`,
    );
  }
  return report;
}

function describe(r: TrialResult): string {
  const w = Object.entries(r.lossWindowMs)
    .map(([d, v]) => `${d} ${v} ms`)
    .join(', ');
  const restore = r.controlPlaneRestoreMs === null ? 'n/a' : `${r.controlPlaneRestoreMs} ms`;
  return (
    `${r.victim ?? 'no victim'}: loss ${w}; control plane restore ${restore}; ` +
    `false failovers ${r.falseFailovers}` +
    (r.crashes ? `; CRASHES ${r.crashes}` : '') +
    (r.invalid?.length ? `; INVALID: ${r.invalid.join('; ')}` : '')
  );
}
