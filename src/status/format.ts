// Prints the `mcgw status` document as text tables. Pure: every time shown is relative to the
// document's collectedAt, so the same document always prints the same text.
import type {
  ConditionView,
  GatewaySummary,
  LeaderStatusReport,
  MemberStatusReport,
  StatusReport,
} from './types.ts';

/** Left-aligned columns two spaces apart; the header row is given in capitals. */
export function table(
  header: readonly string[],
  rows: readonly (readonly string[])[],
  indent = '  ',
): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    indent +
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)];
}

/** A duration in seconds, short: 0.4s, 12s, 5m12s, 3h05m, 2d03h. */
export function duration(s: number): string {
  if (s < 0) s = 0;
  if (s < 10) return `${Math.round(s * 10) / 10}s`;
  if (s < 60) return `${Math.round(s)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(Math.floor(s % 60)).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(h / 24)}d${String(h % 24).padStart(2, '0')}h`;
}

/** A UTC time: just the clock on the day of `nowIso`, else with the date. */
export function clock(isoTime: string, nowIso: string): string {
  const t = isoTime.slice(0, 19);
  return isoTime.slice(0, 10) === nowIso.slice(0, 10) ? `${t.slice(11)}Z` : `${t.replace('T', ' ')}Z`;
}

export function ago(isoTime: string | null, nowIso: string): string {
  if (!isoTime) return '-';
  return `${clock(isoTime, nowIso)} (${duration((Date.parse(nowIso) - Date.parse(isoTime)) / 1000)} ago)`;
}

function conditionRows(conds: readonly (ConditionView | null)[]): string[][] {
  return conds
    .filter((c): c is ConditionView => c !== null)
    .map((c) => [c.type, c.status, c.reason, c.message]);
}

function gatewaysCell(gws: readonly GatewaySummary[]): string {
  return `${gws.filter((g) => g.ready).length}/${gws.length} ready`;
}

function ips(gws: readonly GatewaySummary[]): string {
  return gws.map((g) => g.gatewayIP).join(',') || '-';
}

function list(xs: readonly string[]): string {
  return xs.join(',') || '-';
}

function problems(r: StatusReport): string[] {
  if (!r.problems.length) return [];
  return ['', 'Problems', ...r.problems.map((p) => `  - ${p}`)];
}

const unavailable = '  could not be read (see Problems below)';

export function formatMember(r: MemberStatusReport): string {
  const now = r.collectedAt;
  const out: string[] = [
    `mcgw status: member cluster${r.cluster ? ` ${r.cluster.clusterID}` : ''}, apiserver ${r.server}, ${clock(now, now)}`,
    '',
    'Cluster',
  ];
  const c = r.cluster;
  if (c) {
    out.push(
      `  cluster ID ${c.clusterID} (ClusterSetMember ${c.name}), leader namespace ${c.leaderNamespace}`,
      `  ${c.importedClusters ?? '-'} imported clusters, last export ${ago(c.lastExportTime, now)}`,
      `  pod CIDRs ${list(c.podCIDRs)}, service CIDRs ${list(c.serviceCIDRs)}`,
    );
    const conds = conditionRows([c.leaderReachable, c.exported]);
    if (conds.length) out.push(...table(['CONDITION', 'STATUS', 'REASON', 'MESSAGE'], conds));
    else out.push('  no conditions yet: is mcgw controller running in this cluster?');
  } else out.push('  not a ClusterSet member: no ClusterSetMember in this cluster');

  out.push('');
  const p = r.policy;
  if (p) {
    out.push(
      `GatewayPolicy ${p.name}: ${p.mode}, ${p.desired} desired, ${p.ready ?? '-'} ready, Lease ${p.leaseDurationMs} ms, last placement ${ago(p.lastPlacementTime, now)}`,
    );
    const conds = conditionRows(p.conditions);
    if (conds.length) out.push(...table(['CONDITION', 'STATUS', 'REASON', 'MESSAGE'], conds));
    else out.push('  no status yet: is mcgw controller running in this cluster?');
    if (p.ignored.length) out.push(`  ignored (only the oldest policy is honoured): ${p.ignored.join(', ')}`);
  } else out.push('GatewayPolicy', '  none: create a GatewayPolicy to place Gateways');

  out.push('', `Gateways${r.gateways ? ` (${r.gateways.length})` : ''}`);
  if (!r.gateways) out.push(unavailable);
  else if (!r.gateways.length) out.push('  none placed');
  else
    out.push(
      ...table(
        ['NODE', 'ZONE', 'GATEWAY IP', 'INTERNAL IP', 'ROLE', 'PRIORITY', 'READY', 'LEASE AGE'],
        r.gateways.map((g) => [
          g.node,
          g.zone ?? '-',
          g.gatewayIP,
          g.internalIP,
          `${g.role ?? '-'}${g.draining ? ', draining' : ''}`,
          String(g.priority),
          g.ready ? 'True' : `False${g.readyReason ? ` (${g.readyReason})` : ''}`,
          g.leaseAgeSeconds === null ? 'no Lease' : duration(g.leaseAgeSeconds),
        ]),
      ),
    );

  const withBfd = (r.gateways ?? []).filter((g) => g.bfd);
  if (withBfd.length) {
    out.push('', 'BFD sessions (as each Gateway agent last published them on its Lease)');
    const rows: string[][] = [];
    for (const g of withBfd) {
      const b = g.bfd!;
      for (const p of b.peers)
        rows.push([
          g.node,
          p.peer,
          p.state,
          p.txMs ? `${p.txMs} ms` : '-',
          p.detectMs ? `${p.detectMs} ms` : '-',
          ago(p.lastChange, now),
          p.diag,
        ]);
      const nodes = Object.entries(b.nodes)
        .filter(([, n]) => n > 0)
        .map(([st, n]) => `${n} ${st}`)
        .join(', ');
      rows.push([g.node, 'local Nodes', nodes || 'none', '-', '-', '-', `as of ${ago(b.at, now)}`]);
    }
    out.push(
      ...table(['GATEWAY', 'PEER', 'STATE', 'INTERVAL', 'DETECTION', 'LAST CHANGE', 'DIAGNOSTIC'], rows),
    );
  }

  out.push('', `Remote clusters${r.remoteClusters ? ` (${r.remoteClusters.length})` : ''}`);
  if (!r.remoteClusters) out.push(unavailable);
  else if (!r.remoteClusters.length) out.push('  none imported');
  else
    out.push(
      ...table(
        ['CLUSTER', 'MODE', 'GATEWAYS', 'GATEWAY IPS', 'POD CIDRS', 'SERVICE CIDRS', 'STATE', 'LAST SEEN'],
        r.remoteClusters.map((x) => [
          x.clusterID,
          x.mode,
          gatewaysCell(x.gateways),
          ips(x.gateways),
          list(x.podCIDRs),
          list(x.serviceCIDRs),
          x.state ?? '-',
          ago(x.lastSeen, now),
        ]),
      ),
    );

  out.push('', 'Recent failovers (from Events; their times have 1 s resolution)');
  if (!r.failovers) out.push(unavailable);
  else if (!r.failovers.length) out.push('  none in the Events the apiserver keeps (about the last hour)');
  else
    out.push(
      ...table(
        ['REMOVED', 'NODE', 'REASON', 'LEASE SILENT', 'REPLACEMENT', 'PLACED', 'REMOVED TO PLACED'],
        r.failovers.map((f) => [
          ago(f.removedAt, now),
          f.node,
          f.reason,
          f.leaseSilentSeconds === null ? '-' : `~${duration(f.leaseSilentSeconds)}`,
          f.replacement ?? 'none yet',
          f.placedAt ? clock(f.placedAt, now) : '-',
          f.replacementDelaySeconds === null ? '-' : duration(f.replacementDelaySeconds),
        ]),
      ),
    );
  out.push(...problems(r));
  return out.join('\n') + '\n';
}

export function formatLeader(r: LeaderStatusReport): string {
  const now = r.collectedAt;
  const out: string[] = [`mcgw status: leader cluster, apiserver ${r.server}, ${clock(now, now)}`];

  out.push('', `ClusterExports${r.exports ? ` (${r.exports.length})` : ''}`);
  if (!r.exports) out.push(unavailable);
  else if (!r.exports.length) out.push('  none: no member has exported yet');
  else {
    out.push(
      ...table(
        ['NAMESPACE', 'CLUSTER', 'MODE', 'GATEWAYS', 'POD CIDRS', 'SERVICE CIDRS', 'ACCEPTED', 'HEARTBEAT'],
        r.exports.map((e) => [
          e.namespace,
          e.clusterID,
          e.mode,
          gatewaysCell(e.gateways),
          list(e.podCIDRs),
          list(e.serviceCIDRs),
          e.accepted ? `${e.accepted.status} (${e.accepted.reason})` : 'not yet validated',
          e.heartbeatAgeSeconds === null ? '-' : `${duration(e.heartbeatAgeSeconds)} ago`,
        ]),
      ),
    );
    for (const e of r.exports)
      if (e.accepted && e.accepted.status !== 'True')
        out.push(`  ${e.namespace}/${e.clusterID} refused: ${e.accepted.message}`);
  }

  out.push('', `ClusterImports${r.imports ? ` (${r.imports.length})` : ''}`);
  if (!r.imports) out.push(unavailable);
  else if (!r.imports.length) out.push('  none published');
  else
    out.push(
      ...table(
        [
          'CLUSTER',
          'SOURCE',
          'MODE',
          'GATEWAYS',
          'GATEWAY IPS',
          'POD CIDRS',
          'SERVICE CIDRS',
          'STATE',
          'LAST SEEN',
        ],
        r.imports.map((i) => [
          i.clusterID,
          i.sourceNamespace ?? '-',
          i.mode,
          gatewaysCell(i.gateways),
          ips(i.gateways),
          list(i.podCIDRs),
          list(i.serviceCIDRs),
          i.state ?? '-',
          ago(i.lastSeen, now),
        ]),
      ),
    );
  out.push(...problems(r));
  return out.join('\n') + '\n';
}

export function formatReport(r: StatusReport): string {
  return r.mode === 'member' ? formatMember(r) : formatLeader(r);
}
