// `mcgw bfd`: runs BFD sessions (RFC 5880, over RFC 5881 single-hop or RFC 5883 multihop UDP) and
// prints one JSON line per state change on stdout, for scripts and for the data-plane tests.
import { readFile } from 'node:fs/promises';
import type { BfdAuthConfig, BfdWireAuthType } from '../bfd/auth.ts';
import { BFD_STATE_NAMES, diagName } from '../bfd/constants.ts';
import { BfdRunner } from '../bfd/runner.ts';
import type { BfdPeerConfig, BfdRunnerOptions, BfdRunnerStateChange } from '../bfd/runner.ts';
import type { BfdTtlCheck } from '../bfd/transport.ts';
import { parseIP } from '../util/ip.ts';
import { UsageError, intFlag, loggerFrom, parse, untilSignal } from './args.ts';

export const help = `mcgw bfd: run BFD sessions and print their state changes

Usage: mcgw bfd --local ADDR --peer ADDR [--peer ADDR ...] [flags]
       mcgw bfd --config FILE [flags]

Sessions from flags (one per --peer, all alike):
  --local ADDR          our address; the sockets bind to it (required)
  --peer ADDR           a peer; repeat for more sessions (at least one)
  --tx-ms N             desired min TX interval, ms (default 300)
  --rx-ms N             required min RX interval, ms (default 300)
  --mult N              detection multiplier, 1-255 (default 3)
  --multihop            RFC 5883 multihop, port 4784 (default: RFC 5881 single-hop, port 3784)
  --passive             stay silent until the peer speaks (RFC 5880 6.1)
  --auth-type TYPE      none, simple, md5, meticulous-md5, sha1 or meticulous-sha1 (default none)
  --auth-key-id N       authentication key id, 0-255 (default 1)
  --auth-secret S       password or key: 1-16 bytes (simple, md5), 1-20 bytes (sha1)

Either way:
  --config FILE         read sessions from a JSON file (below) instead of the flags above
  --ttl-check MODE      nftables (default): an nftables rule in this network namespace drops
                        single-hop packets whose TTL is not 255 (RFC 5881 5; needs CAP_NET_ADMIN);
                        off: no check
  --min-ttl N           multihop: also drop packets with a TTL below N (RFC 5883 5)
  --port N              single-hop port instead of 3784 (labs only)
  --multihop-port N     multihop port instead of 4784 (labs only)
  --log-level LEVEL     debug, info, warn or error (logs are JSON lines on stderr)

Output: one JSON line on stdout per state change, ts in ms since the epoch:
  {"peer":"198.18.0.2","old":"Down","new":"Up","diag":0,"diagName":"No Diagnostic","ts":1764000000000}

Signals: SIGTERM or SIGINT sets every Up session AdminDown with diag 7 (Administratively Down),
tells the peer, and exits 0. SIGUSR2 logs each session's state, timers and counters to stderr.

Config file:
  {
    "ttlCheck": "nftables",                     optional, as --ttl-check
    "multihopMinTtl": 250,                      optional, as --min-ttl
    "defaults": { "txMs": 300, "rxMs": 300 },   optional, for every session
    "sessions": [
      { "local": "198.18.0.1", "peer": "198.18.0.2" },
      { "local": "198.18.0.1", "peer": "198.18.8.2", "multihop": true, "txMs": 100, "rxMs": 100,
        "mult": 5, "auth": { "type": "sha1", "keyId": 1, "secret": "s3cret" } }
    ]
  }
  Session keys (also allowed in "defaults"): local, peer, txMs, rxMs, mult, multihop, passive, auth.
`;

const AUTH_TYPES: Readonly<Record<string, BfdWireAuthType>> = {
  simple: 1,
  md5: 2,
  'meticulous-md5': 3,
  sha1: 4,
  'meticulous-sha1': 5,
};

const DEFAULT_TX_MS = 300;
const DEFAULT_RX_MS = 300;
const DEFAULT_MULT = 3;
/** 60 s: slower than any sane liveness check; the wire allows up to ~71 minutes. */
const MAX_INTERVAL_MS = 60_000;

interface AuthSpec {
  type: string;
  keyId: number;
  secret: string;
}

interface SessionSpec {
  local: string;
  peer: string;
  txMs: number;
  rxMs: number;
  mult: number;
  multihop: boolean;
  passive: boolean;
  auth?: AuthSpec;
}

const SESSION_KEYS = ['local', 'peer', 'txMs', 'rxMs', 'mult', 'multihop', 'passive', 'auth'] as const;

function fail(msg: string): never {
  throw new UsageError(`mcgw bfd: ${msg}`);
}

function checkAddress(what: string, v: string): string {
  if (!parseIP(v)) fail(`${what} "${v}" is not an IP address`);
  return v;
}

function authConfig(where: string, spec: AuthSpec): BfdAuthConfig {
  const type = AUTH_TYPES[spec.type];
  if (type === undefined) {
    fail(
      `${where}auth type must be one of ${Object.keys(AUTH_TYPES).join(', ')} or none, got "${spec.type}"`,
    );
  }
  const bytes = Buffer.byteLength(spec.secret, 'utf8');
  const max = type === 1 || type === 2 || type === 3 ? 16 : 20;
  if (bytes < 1 || bytes > max)
    fail(`${where}auth secret must be 1-${max} bytes for ${spec.type}, got ${bytes}`);
  return { type, keys: [{ id: spec.keyId, secret: spec.secret }] };
}

function toPeerConfig(s: SessionSpec, where = ''): BfdPeerConfig {
  const local = parseIP(s.local);
  const peer = parseIP(s.peer);
  if (local && peer && local.family !== peer.family) {
    fail(`${where}peer ${s.peer} and local ${s.local} are not of the same address family`);
  }
  return {
    local: s.local,
    peer: s.peer,
    multihop: s.multihop,
    passive: s.passive,
    desiredMinTxUs: s.txMs * 1000,
    requiredMinRxUs: s.rxMs * 1000,
    detectMult: s.mult,
    ...(s.auth ? { auth: authConfig(where, s.auth) } : {}),
  };
}

// --- the JSON config file ---

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function configInt(where: string, key: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    fail(`${where}"${key}" must be an integer from ${min} to ${max}, got ${JSON.stringify(v)}`);
  }
  return v;
}

/** A session or the defaults as written; `auth: null` is an explicit "none" that beats defaults. */
type PartialSession = Omit<Partial<SessionSpec>, 'auth'> & { auth?: AuthSpec | null };

function partialSession(where: string, raw: unknown): PartialSession {
  if (!isObject(raw)) fail(`${where}must be an object`);
  for (const k of Object.keys(raw)) {
    if (!(SESSION_KEYS as readonly string[]).includes(k)) {
      fail(`${where}unknown key "${k}" (allowed: ${SESSION_KEYS.join(', ')})`);
    }
  }
  const out: PartialSession = {};
  for (const k of ['local', 'peer'] as const) {
    const v = raw[k];
    if (v === undefined) continue;
    if (typeof v !== 'string') fail(`${where}"${k}" must be a string`);
    out[k] = checkAddress(`${where}"${k}"`, v);
  }
  if (raw.txMs !== undefined) out.txMs = configInt(where, 'txMs', raw.txMs, 1, MAX_INTERVAL_MS);
  if (raw.rxMs !== undefined) out.rxMs = configInt(where, 'rxMs', raw.rxMs, 0, MAX_INTERVAL_MS);
  if (raw.mult !== undefined) out.mult = configInt(where, 'mult', raw.mult, 1, 255);
  for (const k of ['multihop', 'passive'] as const) {
    const v = raw[k];
    if (v === undefined) continue;
    if (typeof v !== 'boolean') fail(`${where}"${k}" must be true or false`);
    out[k] = v;
  }
  if (raw.auth !== undefined) {
    const a = raw.auth;
    if (!isObject(a)) fail(`${where}"auth" must be an object {type, keyId, secret}`);
    for (const k of Object.keys(a)) {
      if (!['type', 'keyId', 'secret'].includes(k)) fail(`${where}unknown auth key "${k}"`);
    }
    if (typeof a.type !== 'string') fail(`${where}"auth.type" must be a string`);
    if (a.type === 'none') out.auth = null;
    else {
      if (typeof a.secret !== 'string') fail(`${where}"auth.secret" must be a string`);
      out.auth = {
        type: a.type,
        keyId: a.keyId === undefined ? 1 : configInt(where, 'auth.keyId', a.keyId, 0, 255),
        secret: a.secret,
      };
    }
  }
  return out;
}

interface Plan {
  sessions: SessionSpec[];
  ttlCheck: BfdTtlCheck;
  multihopMinTtl: number | undefined;
}

export function parseConfig(text: string, file = 'config'): Plan {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    fail(`${file}: not valid JSON: ${(err as Error).message}`);
  }
  if (!isObject(doc)) fail(`${file}: must be a JSON object with "sessions"`);
  for (const k of Object.keys(doc)) {
    if (!['ttlCheck', 'multihopMinTtl', 'defaults', 'sessions'].includes(k)) {
      fail(`${file}: unknown key "${k}" (allowed: ttlCheck, multihopMinTtl, defaults, sessions)`);
    }
  }
  const defaults: PartialSession =
    doc.defaults === undefined ? {} : partialSession(`${file}: defaults: `, doc.defaults);
  if (!Array.isArray(doc.sessions) || doc.sessions.length === 0) {
    fail(`${file}: "sessions" must be a non-empty array`);
  }
  const sessions = doc.sessions.map((raw, i): SessionSpec => {
    const where = `${file}: sessions[${i}]: `;
    const s = { ...defaults, ...partialSession(where, raw) };
    if (!s.local) fail(`${where}"local" is required`);
    if (!s.peer) fail(`${where}"peer" is required`);
    const spec: SessionSpec = {
      local: s.local,
      peer: s.peer,
      txMs: s.txMs ?? DEFAULT_TX_MS,
      rxMs: s.rxMs ?? DEFAULT_RX_MS,
      mult: s.mult ?? DEFAULT_MULT,
      multihop: s.multihop ?? false,
      passive: s.passive ?? false,
      ...(s.auth ? { auth: s.auth } : {}),
    };
    toPeerConfig(spec, where); // validates family and auth now, with the session's position
    return spec;
  });
  const ttlCheck = doc.ttlCheck ?? 'nftables';
  if (ttlCheck !== 'nftables' && ttlCheck !== 'off') {
    fail(`${file}: "ttlCheck" must be "nftables" or "off", got ${JSON.stringify(ttlCheck)}`);
  }
  const multihopMinTtl =
    doc.multihopMinTtl === undefined
      ? undefined
      : configInt(`${file}: `, 'multihopMinTtl', doc.multihopMinTtl, 1, 255);
  return { sessions, ttlCheck, multihopMinTtl };
}

const FLAG_OPTIONS = {
  local: { type: 'string' },
  peer: { type: 'string', multiple: true },
  'tx-ms': { type: 'string' },
  'rx-ms': { type: 'string' },
  mult: { type: 'string' },
  multihop: { type: 'boolean' },
  passive: { type: 'boolean' },
  'auth-type': { type: 'string' },
  'auth-key-id': { type: 'string' },
  'auth-secret': { type: 'string' },
  config: { type: 'string' },
  'ttl-check': { type: 'string' },
  'min-ttl': { type: 'string' },
  port: { type: 'string' },
  'multihop-port': { type: 'string' },
  'log-level': { type: 'string', default: 'info' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

const SESSION_FLAGS = [
  'local',
  'peer',
  'tx-ms',
  'rx-ms',
  'mult',
  'multihop',
  'passive',
  'auth-type',
  'auth-key-id',
  'auth-secret',
] as const;

type Values = ReturnType<typeof parse<typeof FLAG_OPTIONS>>['values'];

function planFromFlags(values: Values): Plan {
  if (!values.local) fail('--local is required (or use --config FILE)');
  const peers = values.peer ?? [];
  if (peers.length === 0) fail('at least one --peer is required (or use --config FILE)');
  const local = checkAddress('--local', values.local);
  const seen = new Set<string>();
  for (const p of peers) {
    checkAddress('--peer', p);
    if (seen.has(p)) fail(`--peer ${p} given twice`);
    seen.add(p);
  }
  const authType = values['auth-type'] ?? 'none';
  let auth: AuthSpec | undefined;
  if (authType !== 'none') {
    if (values['auth-secret'] === undefined) fail(`--auth-type ${authType} needs --auth-secret`);
    auth = {
      type: authType,
      keyId: intFlag('bfd', 'auth-key-id', values['auth-key-id'], 0, 255) ?? 1,
      secret: values['auth-secret'],
    };
  } else if (values['auth-secret'] !== undefined || values['auth-key-id'] !== undefined) {
    fail('--auth-secret and --auth-key-id need --auth-type');
  }
  const sessions = peers.map(
    (peer): SessionSpec => ({
      local,
      peer,
      txMs: intFlag('bfd', 'tx-ms', values['tx-ms'], 1, MAX_INTERVAL_MS) ?? DEFAULT_TX_MS,
      rxMs: intFlag('bfd', 'rx-ms', values['rx-ms'], 0, MAX_INTERVAL_MS) ?? DEFAULT_RX_MS,
      mult: intFlag('bfd', 'mult', values.mult, 1, 255) ?? DEFAULT_MULT,
      multihop: values.multihop ?? false,
      passive: values.passive ?? false,
      ...(auth ? { auth } : {}),
    }),
  );
  for (const s of sessions) toPeerConfig(s);
  return { sessions, ttlCheck: 'nftables', multihopMinTtl: undefined };
}

/** Turns argv into what to run; throws UsageError with a message naming the bad flag. */
export async function plan(argv: string[]): Promise<{ plan: Plan; values: Values } | 'help'> {
  const { values, positionals } = parse('bfd', argv, FLAG_OPTIONS);
  if (values.help) return 'help';
  if (positionals.length > 0) fail(`unexpected argument "${positionals[0]}"`);
  let p: Plan;
  if (values.config !== undefined) {
    const clash = SESSION_FLAGS.filter((f) => values[f] !== undefined);
    if (clash.length > 0) fail(`--config cannot be combined with --${clash.join(', --')}`);
    let text: string;
    try {
      text = await readFile(values.config, 'utf8');
    } catch (err) {
      fail(`cannot read --config ${values.config}: ${(err as Error).message}`);
    }
    p = parseConfig(text, values.config);
  } else {
    p = planFromFlags(values);
  }
  const ttl = values['ttl-check'];
  if (ttl !== undefined) {
    if (ttl !== 'nftables' && ttl !== 'off') fail(`--ttl-check must be nftables or off, got "${ttl}"`);
    p.ttlCheck = ttl;
  }
  const minTtl = intFlag('bfd', 'min-ttl', values['min-ttl'], 1, 255);
  if (minTtl !== undefined) p.multihopMinTtl = minTtl;
  if (p.multihopMinTtl !== undefined) {
    if (!p.sessions.some((s) => s.multihop)) fail('--min-ttl applies to multihop sessions only');
    if (p.ttlCheck === 'off') fail('--min-ttl needs --ttl-check nftables');
  }
  const keys = new Set<string>();
  for (const s of p.sessions) {
    const k = `${s.multihop ? 'mh' : 'sh'} ${s.local} ${s.peer}`;
    if (keys.has(k)) fail(`two sessions for peer ${s.peer} from ${s.local}`);
    keys.add(k);
  }
  return { plan: p, values };
}

function stateLine(c: BfdRunnerStateChange): string {
  return JSON.stringify({
    peer: c.peer,
    old: BFD_STATE_NAMES[c.old],
    new: BFD_STATE_NAMES[c.new],
    diag: c.diag,
    diagName: diagName(c.diag),
    ts: Math.round(c.observedAtMs),
  });
}

export async function run(argv: string[]): Promise<number> {
  const planned = await plan(argv);
  if (planned === 'help') {
    process.stdout.write(help);
    return 0;
  }
  const { plan: p, values } = planned;
  const log = loggerFrom('bfd', values['log-level']);
  // Listen for signals before any socket opens, so a stop during startup still exits cleanly.
  const signal = untilSignal();
  // A reader that goes away (`| head -1`) must not crash the sessions: say so once and carry on.
  let stdoutBroken = false;
  process.stdout.on('error', (err) => {
    if (stdoutBroken) return;
    stdoutBroken = true;
    log.warn('stdout closed; state changes are no longer printed', { error: err.message });
  });
  const options: BfdRunnerOptions = {
    ttlCheck: p.ttlCheck,
    logger: log,
    onStateChange: (c) => {
      if (!stdoutBroken) process.stdout.write(`${stateLine(c)}\n`);
    },
    ...(p.multihopMinTtl !== undefined ? { multihopMinTtl: p.multihopMinTtl } : {}),
    ...(values.port !== undefined ? { singleHopPort: intFlag('bfd', 'port', values.port, 1, 65535) } : {}),
    ...(values['multihop-port'] !== undefined
      ? { multihopPort: intFlag('bfd', 'multihop-port', values['multihop-port'], 1, 65535) }
      : {}),
  };
  const runner = new BfdRunner(options);
  const status = async (ttlDrops?: number | null | string) => {
    log.info('bfd status', {
      sessions: runner.sessions().map((s) => ({
        peer: s.peer,
        local: s.local,
        multihop: s.multihop,
        ...s.snapshot,
        state: BFD_STATE_NAMES[s.snapshot.state],
        remoteState: BFD_STATE_NAMES[s.snapshot.remoteState],
      })),
      stats: runner.stats(),
      ttlDrops:
        ttlDrops !== undefined ? ttlDrops : await runner.readTtlDrops().catch((err: Error) => err.message),
    });
  };
  const onStatus = () => void status();
  process.on('SIGUSR2', onStatus);
  try {
    for (const s of p.sessions) await runner.addSession(toPeerConfig(s));
  } catch (err) {
    await runner.close({ adminDown: false });
    process.off('SIGUSR2', onStatus);
    process.stderr.write(`mcgw bfd: ${(err as Error).message}\n`);
    return 1;
  }
  log.info('bfd sessions started', {
    sessions: p.sessions.length,
    ttlCheck: p.ttlCheck,
    transports: runner.stats().transports.map((t) => ({
      local: t.local,
      mode: t.mode,
      port: t.port,
      sourcePort: t.sourcePort,
      ttlEnforced: t.ttlEnforced,
    })),
  });
  const sig = await signal;
  log.info('stopping: sending AdminDown to every Up peer', { signal: sig });
  // Read the TTL counters while their nftables rules still exist; close() removes them.
  const ttlDrops = await runner.readTtlDrops().catch((err: Error) => err.message);
  await runner.close({ adminDown: true });
  process.off('SIGUSR2', onStatus);
  await status(ttlDrops).catch(() => undefined);
  return 0;
}
