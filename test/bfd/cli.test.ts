// `mcgw bfd`: flag and config parsing with clear errors, the output format, and signal handling
// between two real processes in network namespaces.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../../src/cli/args.ts';
import { parseConfig, plan } from '../../src/cli/bfd.ts';
import { LineCollector, listLabNamespaces, NetLab } from '../../src/testing/netns.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MCGW = join(ROOT, 'bin', 'mcgw.js');

async function planOf(args: string[]) {
  const p = await plan(args);
  assert.notEqual(p, 'help');
  return (p as Exclude<typeof p, 'help'>).plan;
}

async function usageError(args: string[], message: RegExp): Promise<void> {
  await assert.rejects(plan(args), (err: Error) => {
    assert.ok(err instanceof UsageError, `${err.name}: ${err.message}`);
    assert.match(err.message, message);
    assert.match(err.message, /^mcgw bfd: /);
    return true;
  });
}

const BASE = ['--local', '198.18.0.1', '--peer', '198.18.0.2'];

void describe('mcgw bfd flags', () => {
  void it('builds one session per --peer, with defaults', async () => {
    const p = await planOf(['--local', '198.18.0.1', '--peer', '198.18.0.2', '--peer', '198.18.0.3']);
    assert.equal(p.ttlCheck, 'nftables');
    assert.deepEqual(
      p.sessions.map((s) => [s.local, s.peer, s.txMs, s.rxMs, s.mult, s.multihop]),
      [
        ['198.18.0.1', '198.18.0.2', 300, 300, 3, false],
        ['198.18.0.1', '198.18.0.3', 300, 300, 3, false],
      ],
    );
  });

  void it('takes timers, multihop, TTL and auth flags', async () => {
    const p = await planOf([
      ...BASE,
      '--tx-ms',
      '50',
      '--rx-ms',
      '70',
      '--mult',
      '5',
      '--multihop',
      '--min-ttl',
      '250',
      '--auth-type',
      'meticulous-sha1',
      '--auth-key-id',
      '9',
      '--auth-secret',
      'k',
    ]);
    assert.equal(p.multihopMinTtl, 250);
    assert.deepEqual(p.sessions[0], {
      local: '198.18.0.1',
      peer: '198.18.0.2',
      txMs: 50,
      rxMs: 70,
      mult: 5,
      multihop: true,
      passive: false,
      auth: { type: 'meticulous-sha1', keyId: 9, secret: 'k' },
    });
  });

  const cases: Array<[string, string[], RegExp]> = [
    ['no flags', [], /--local is required/],
    ['no peer', ['--local', '198.18.0.1'], /at least one --peer/],
    ['bad local', ['--local', 'gw-1', '--peer', '198.18.0.2'], /--local "gw-1" is not an IP address/],
    ['bad peer', ['--local', '198.18.0.1', '--peer', '198.18.0.300'], /--peer "198.18.0.300"/],
    ['same peer twice', [...BASE, '--peer', '198.18.0.2'], /--peer 198.18.0.2 given twice/],
    ['mixed families', ['--local', '198.18.0.1', '--peer', '2001:db8::1'], /same address family/],
    ['tx 0', [...BASE, '--tx-ms', '0'], /--tx-ms must be an integer from 1 to 60000, got "0"/],
    ['tx not a number', [...BASE, '--tx-ms', 'fast'], /--tx-ms must be an integer/],
    ['mult too big', [...BASE, '--mult', '256'], /--mult must be an integer from 1 to 255/],
    ['auth without secret', [...BASE, '--auth-type', 'sha1'], /--auth-type sha1 needs --auth-secret/],
    ['unknown auth', [...BASE, '--auth-type', 'rot13', '--auth-secret', 'x'], /auth type must be one of/],
    ['md5 secret too long', [...BASE, '--auth-type', 'md5', '--auth-secret', 'x'.repeat(17)], /1-16 bytes/],
    ['sha1 secret too long', [...BASE, '--auth-type', 'sha1', '--auth-secret', 'x'.repeat(21)], /1-20 bytes/],
    ['secret without type', [...BASE, '--auth-secret', 'x'], /need --auth-type/],
    [
      'key id range',
      [...BASE, '--auth-type', 'sha1', '--auth-secret', 'x', '--auth-key-id', '300'],
      /0 to 255/,
    ],
    ['min-ttl single-hop', [...BASE, '--min-ttl', '250'], /multihop sessions only/],
    [
      'min-ttl without check',
      [...BASE, '--multihop', '--min-ttl', '250', '--ttl-check', 'off'],
      /needs --ttl-check/,
    ],
    ['bad ttl-check', [...BASE, '--ttl-check', 'maybe'], /--ttl-check must be nftables or off/],
    ['unknown flag', [...BASE, '--bogus'], /Unknown option '--bogus'.*mcgw bfd --help/],
    ['positional', [...BASE, 'extra'], /unexpected argument "extra"/],
    [
      'config plus peer',
      ['--config', '/nonexistent', '--peer', '198.18.0.2'],
      /cannot be combined with --peer/,
    ],
    ['missing config', ['--config', '/nonexistent/bfd.json'], /cannot read --config/],
  ];
  for (const [name, args, message] of cases) {
    void it(`rejects: ${name}`, () => usageError(args, message));
  }
});

void describe('mcgw bfd config file', () => {
  void it('applies defaults and per-session settings', () => {
    const p = parseConfig(
      JSON.stringify({
        ttlCheck: 'off',
        multihopMinTtl: 240,
        defaults: { txMs: 50, rxMs: 50, auth: { type: 'sha1', keyId: 2, secret: 's' } },
        sessions: [
          { local: '198.18.0.1', peer: '198.18.0.2' },
          {
            local: '198.18.0.1',
            peer: '198.18.4.2',
            multihop: true,
            txMs: 100,
            mult: 5,
            auth: { type: 'none' },
          },
        ],
      }),
    );
    assert.equal(p.ttlCheck, 'off');
    assert.equal(p.multihopMinTtl, 240);
    assert.deepEqual(p.sessions[0]?.auth, { type: 'sha1', keyId: 2, secret: 's' });
    assert.equal(p.sessions[0]?.txMs, 50);
    const s1 = p.sessions[1]!;
    assert.deepEqual([s1.txMs, s1.rxMs, s1.mult, s1.multihop, s1.auth], [100, 50, 5, true, undefined]);
  });

  const bad: Array<[string, unknown, RegExp]> = [
    ['not JSON', '{', /not valid JSON/],
    ['not an object', [], /must be a JSON object/],
    ['unknown top-level key', { sessions: [], peers: [] }, /unknown key "peers"/],
    ['empty sessions', { sessions: [] }, /"sessions" must be a non-empty array/],
    ['missing peer', { sessions: [{ local: '198.18.0.1' }] }, /sessions\[0\]: "peer" is required/],
    [
      'typo in a session',
      { sessions: [{ local: '198.18.0.1', peer: '198.18.0.2', txms: 5 }] },
      /unknown key "txms"/,
    ],
    [
      'string interval',
      { sessions: [{ local: '198.18.0.1', peer: '198.18.0.2', txMs: '50' }] },
      /"txMs" must be an integer/,
    ],
    [
      'bad address',
      { sessions: [{ local: '198.18.0.1', peer: 'peer-1' }] },
      /"peer" "peer-1" is not an IP address/,
    ],
    [
      'bad auth',
      { sessions: [{ local: '198.18.0.1', peer: '198.18.0.2', auth: { type: 'sha1' } }] },
      /auth.secret/,
    ],
    [
      'bad ttlCheck',
      { ttlCheck: 'yes', sessions: [{ local: '198.18.0.1', peer: '198.18.0.2' }] },
      /"ttlCheck"/,
    ],
  ];
  for (const [name, doc, message] of bad) {
    void it(`rejects: ${name}`, () => {
      assert.throws(
        () => parseConfig(typeof doc === 'string' ? doc : JSON.stringify(doc), 'bfd.json'),
        (err: Error) =>
          err instanceof UsageError && message.test(err.message) && err.message.includes('bfd.json'),
      );
    });
  }

  void it('reads the file named by --config', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mcgwt-cli-'));
    try {
      const file = join(dir, 'bfd.json');
      await writeFile(
        file,
        JSON.stringify({ sessions: [{ local: '198.18.0.1', peer: '198.18.0.2', multihop: true }] }),
      );
      const p = await planOf(['--config', file, '--min-ttl', '200']);
      assert.equal(p.sessions[0]?.multihop, true);
      assert.equal(p.multihopMinTtl, 200);
      await writeFile(
        file,
        JSON.stringify({
          sessions: [
            { local: '198.18.0.1', peer: '198.18.0.2' },
            { local: '198.18.0.1', peer: '198.18.0.2' },
          ],
        }),
      );
      await usageError(['--config', file], /two sessions for peer 198.18.0.2/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

void describe('mcgw bfd as a process', () => {
  void it('prints help with the config format, and is listed by mcgw', () => {
    const r = spawnSync(process.execPath, [MCGW, 'bfd', '--help'], { encoding: 'utf8', cwd: ROOT });
    assert.equal(r.status, 0);
    assert.match(r.stdout, /Usage: mcgw bfd --local ADDR --peer ADDR/);
    assert.match(r.stdout, /Config file:/);
    assert.match(r.stdout, /"sessions"/);
    const top = spawnSync(process.execPath, [MCGW, '--help'], { encoding: 'utf8', cwd: ROOT });
    assert.match(top.stdout, /\n {2}bfd +run BFD sessions/);
  });

  void it('exits 2 with a one-line message for a bad flag', () => {
    const r = spawnSync(process.execPath, [MCGW, 'bfd', ...BASE, '--mult', '0'], {
      encoding: 'utf8',
      cwd: ROOT,
    });
    assert.equal(r.status, 2);
    assert.equal(r.stderr.trim(), 'mcgw bfd: --mult must be an integer from 1 to 255, got "0"');
    assert.equal(r.stdout, '');
  });
});

const labUnavailable = await NetLab.available();

void describe('mcgw bfd between two processes', { skip: labUnavailable, timeout: 60_000 }, () => {
  let lab: NetLab;
  const procs: ChildProcess[] = [];
  before(async () => {
    lab = await NetLab.create();
  });
  after(async () => {
    await lab.cleanup();
    const left = (await listLabNamespaces()).filter((n) => n.includes(lab.id));
    assert.deepEqual(left, []);
  });

  const exitOf = (c: ChildProcess) =>
    c.exitCode !== null || c.signalCode !== null
      ? Promise.resolve(c.exitCode)
      : new Promise<number | null>((res) => c.once('exit', (code) => res(code)));

  void it('prints one JSON line per state change; SIGTERM sends AdminDown and the peer sees diag 3', async () => {
    const a = await lab.namespace('clia');
    const b = await lab.namespace('clib');
    await lab.veth(a, '198.18.40.1/30', b, '198.18.40.2/30');
    const timers = ['--tx-ms', '50', '--rx-ms', '50'];
    const pa = a.spawnNode([MCGW, 'bfd', '--local', '198.18.40.1', '--peer', '198.18.40.2', ...timers], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const pb = b.spawnNode([MCGW, 'bfd', '--local', '198.18.40.2', '--peer', '198.18.40.1', ...timers], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    procs.push(pa, pb);
    const outA = new LineCollector(pa.stdout);
    const outB = new LineCollector(pb.stdout);
    const up = (l: unknown) => (l as { new?: string }).new === 'Up';
    await outA.waitFor(up, 10_000);
    await outB.waitFor(up, 10_000);

    const t0 = Date.now();
    pa.kill('SIGTERM');
    assert.equal(await exitOf(pa), 0);
    const last = outA.lines.at(-1) as Record<string, unknown>;
    assert.deepEqual(Object.keys(last).sort(), ['diag', 'diagName', 'new', 'old', 'peer', 'ts']);
    assert.deepEqual(
      { ...last, ts: 0 },
      { peer: '198.18.40.2', old: 'Up', new: 'AdminDown', diag: 7, diagName: 'Administratively Down', ts: 0 },
    );
    assert.ok(typeof last.ts === 'number' && Math.abs(last.ts - t0) < 5_000, 'ts is ms since the epoch');

    const down = await outB.waitFor<Record<string, unknown>>(
      (l) => (l as { new?: string }).new === 'Down',
      2000,
    );
    assert.equal(down.diag, 3);
    assert.equal(down.diagName, 'Neighbor Signaled Session Down');
    assert.equal(down.old, 'Up');
    for (const line of [...outA.lines, ...outB.lines])
      assert.equal(typeof line, 'object', `not JSON: ${String(line)}`);

    pb.kill('SIGINT');
    assert.equal(await exitOf(pb), 0);
  });

  void it('exits 1 with a clear message when the local address is not configured', async () => {
    const ns = await lab.namespace('clic');
    const p = ns.spawnNode([MCGW, 'bfd', '--local', '198.18.41.1', '--peer', '198.18.41.2'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const err = new LineCollector(p.stderr);
    assert.equal(await exitOf(p), 1);
    await err.waitFor(() => true, 1000).catch(() => undefined);
    const text = err.lines.map(String).join('\n');
    assert.match(text, /mcgw bfd: cannot bind BFD single-hop port 198\.18\.41\.1:3784/);
    assert.match(text, /not configured on this host or network namespace/);
  });
});
