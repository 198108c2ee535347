// The lab's traffic endpoint, one per test pod (plain JavaScript: it starts fast and stays small).
//   node traffic.mjs [--control PORT] SELF PORT RATE [PEER...]
// binds UDP SELF:PORT (SELF may be 0.0.0.0: sources are told apart by their address, not ours),
// sends a numbered, timestamped stream at RATE packets per second to every peer's PORT and records
// what arrives from each (stream.mjs holds the packet, the pacing and the arithmetic). The peers
// may be none at the start and be set later, for a pod whose peers' addresses are known only once
// they are scheduled. It prints one line, {"ready":true,...}, once it listens.
//
// Commands, one a line, each answered with one JSON line (traffic-protocol.mjs parses them):
//   mark ID      remember, per source, the highest number received so far, and our own sending
//   report ID    per source since the mark: received, lost, the longest loss window in ms of the
//                sender's clock (the send-time span around a run of lost numbers, less one
//                interval), whether the sender stalled within it, or the silence since the latest
//                packet if the stream is still cut (ongoingMs); and our own sender's stalls
//   peers IP...  the peers from now on: new ones get a fresh record and are sent to, removed ones
//                are no longer sent to and their record is dropped, the others keep theirs;
//                answers {"peers":[...]}
// Bad input (an unknown command, a missing ID, an address that is not IPv4) is answered
// {"error":"..."} and changes nothing. Numbers a stream has not reached yet are not losses: a
// report covers up to the highest received.
//
// Commands come on stdin, answered on stdout, and the end of stdin stops the endpoint (the lab's
// processes). With --control PORT they also come on every connection to TCP SELF:PORT, each answer
// to the connection that asked, and the end of stdin stops nothing: in a Kubernetes pod stdin is
// closed from the start. SIGTERM (or SIGINT) ends it, with status 0.
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { GapTrack, Pacer, decodePacket, encodePacket, stallThresholdMs } from './stream.mjs';
import { USAGE, parseArgs, parseCommand } from './traffic-protocol.mjs';

let args;
try {
  args = parseArgs(process.argv.slice(2));
} catch (err) {
  process.stderr.write(`traffic.mjs: ${err.message}\n${USAGE}\n`);
  process.exit(2);
}
const { control, self, port, rate } = args;
const gapMs = 1000 / rate;
/** CLOCK_MONOTONIC in ms: the same clock in the sender and the receiver, whatever process they are. */
const now = () => Number(process.hrtime.bigint()) / 1e6;

/** What arrived from each peer; its keys are also where the stream goes. */
let tracks = new Map(args.peers.map((p) => [p, new GapTrack()]));
const marks = new Map();
const sock = createSocket('udp4');
let malformed = 0;
let notFromPeers = 0;
let sendErrors = 0;
let late = 0;
let duplicates = 0;
sock.on('message', (m, r) => {
  const p = decodePacket(m);
  if (!p) return void malformed++;
  // A peer not (yet, or any more) ours: its stream is not recorded.
  const t = tracks.get(r.address);
  if (!t) return void notFromPeers++;
  const kind = t.add(p);
  if (kind === 'late') late++;
  // Copies the sender sent again (see send()) count here too.
  else if (kind === 'duplicate') duplicates++;
});
// Sends fail while a path is unreachable (that is the loss being measured): counted, not fatal. A
// send's error comes to its callback (send()); this catches whatever else the socket reports.
sock.on('error', () => sendErrors++);

/**
 * A packet is stamped before dgram writes it (asynchronously), so a sender stopped in between would
 * send, after the stop, a packet stamped before it, and a receiver would end a window at that stamp
 * and miss the stop. The send callback runs once the write is done: Pacer.wrote reads the clock
 * there (a sign of life, so a stop in between is a stall the following stamps carry) and, if the
 * write may have come more than an interval after the stamp, the same number goes again with a
 * fresh stamp, which receivers take as the end of a window (GapTrack.add). Why not only stamp
 * closer to the write: however close, a stop can land between the two, and only a clock reading
 * after the write bounds the delay. Why not only count the delay as a stall that the next packets
 * carry: the late packet itself would still close the window at its early stamp, with the stall
 * after it. At most MAX_COPIES copies of a packet: each needs its own late write, and a socket that
 * stayed slow would otherwise multiply the stream.
 */
const MAX_COPIES = 2;

function send(seq, stamp, peer, copies) {
  sock.send(encodePacket({ seq, ...stamp }), port, peer, (err) => {
    if (err) return void sendErrors++;
    const at = now();
    if (copies >= MAX_COPIES || !tracks.has(peer)) return void pacer.seen(at);
    const again = pacer.wrote(stamp.sentMs, at);
    if (again) send(seq, again, peer, copies + 1);
  });
}

function report(id) {
  const mark = marks.get(id);
  const at = now();
  const sources = {};
  for (const [peer, t] of tracks) sources[peer] = t.report(mark?.sources.get(peer) ?? null, at, gapMs);
  return {
    id,
    gapMs,
    stallThresholdMs: stallThresholdMs(gapMs),
    malformed,
    notFromPeers,
    sendErrors,
    late,
    duplicates,
    sources,
    sending: mark ? pacer.since(mark.sending) : null,
  };
}

/** The answer to one line of the control protocol; bad input changes nothing. */
function answer(line) {
  let c;
  try {
    c = parseCommand(line);
  } catch (err) {
    return { error: err.message };
  }
  if (c.cmd === 'mark') {
    marks.set(c.id, {
      sources: new Map([...tracks].map(([p, t]) => [p, t.mark()])),
      sending: pacer.mark(),
    });
    return { id: c.id, marked: true };
  }
  if (c.cmd === 'report') return report(c.id);
  tracks = new Map(c.peers.map((p) => [p, tracks.get(p) ?? new GapTrack()]));
  return { peers: [...tracks.keys()] };
}

const line = (a) => JSON.stringify(a) + '\n';

function bindUdp() {
  return new Promise((resolve, reject) => {
    sock.once('error', reject);
    sock.bind(port, self, () => {
      sock.off('error', reject);
      resolve();
    });
  });
}

function listenControl() {
  const server = createServer((conn) => {
    // A client that goes away mid-answer is its own business, never the endpoint's end.
    conn.on('error', () => conn.destroy());
    createInterface({ input: conn }).on('line', (l) => {
      if (conn.writable) conn.write(line(answer(l)));
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(control, self, () => {
      server.off('error', reject);
      server.on('error', (err) => process.stderr.write(`traffic.mjs: control port: ${err.message}\n`));
      resolve(server);
    });
  });
}

try {
  await bindUdp();
  if (control !== null) await listenControl();
} catch (err) {
  process.stderr.write(`traffic.mjs: ${err.message}\n`);
  process.exit(1);
}

// Created once the sockets are up: the schedule starts now, and the send callbacks and answers that
// use it come only after.
const pacer = new Pacer(now(), gapMs);
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
// Whoever reads stdout may be gone (a pod's log is not needed to keep sending): not fatal.
process.stdout.on('error', () => {});
process.stdin.on('error', () => {});
createInterface({ input: process.stdin }).on('line', (l) => process.stdout.write(line(answer(l))));
if (control === null) process.stdin.on('end', () => process.exit(0));

const tick = () => {
  const { from, to, stamp } = pacer.tick(now());
  for (let n = from; n < to; n++) for (const p of tracks.keys()) send(n, stamp, p, 0);
  setTimeout(tick, Math.max(1, gapMs));
};
tick();
process.stdout.write(line({ ready: true, self, rate, peers: args.peers }));
