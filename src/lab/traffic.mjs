// The lab's traffic endpoint, one per test pod (plain JavaScript: it starts fast and stays small).
// `node traffic.mjs SELF PORT RATE PEER...` sends a numbered, timestamped UDP stream at RATE packets
// per second to every PEER and records what arrives from each (stream.mjs holds the packet, the
// pacing and the arithmetic). Commands on stdin, answers on stdout as one JSON line each:
//   mark ID     remember, per source, the highest number received so far, and our own sending
//   report ID   per source since the mark: received, lost, the longest loss window in ms of the
//               sender's clock (the send-time span around a run of lost numbers, less one
//               interval), whether the sender stalled within it, or the silence since the latest
//               packet if the stream is still cut (ongoingMs); and our own sender's stalls
// Numbers a stream has not reached yet are not losses: a report covers up to the highest received.
import { createSocket } from 'node:dgram';
import { createInterface } from 'node:readline';
import { GapTrack, Pacer, decodePacket, encodePacket, stallThresholdMs } from './stream.mjs';

const [self, portArg, rateArg, ...peers] = process.argv.slice(2);
const port = Number(portArg);
const rate = Number(rateArg);
if (!self || !(port > 0) || !(rate > 0) || peers.length === 0) {
  process.stderr.write('usage: traffic.mjs SELF PORT RATE PEER...\n');
  process.exit(2);
}
const gapMs = 1000 / rate;
/** CLOCK_MONOTONIC in ms: the same clock in the sender and the receiver, whatever process they are. */
const now = () => Number(process.hrtime.bigint()) / 1e6;

const tracks = new Map(peers.map((p) => [p, new GapTrack()]));
const marks = new Map();
const sock = createSocket('udp4');
let malformed = 0;
let sendErrors = 0;
let late = 0;
let duplicates = 0;
sock.on('message', (m, r) => {
  const t = tracks.get(r.address);
  const p = decodePacket(m);
  if (!t || !p) return void malformed++;
  const kind = t.add(p);
  if (kind === 'late') late++;
  else if (kind === 'duplicate') duplicates++;
});
// Sends fail while a path is unreachable (that is the loss being measured): counted, not fatal.
sock.on('error', () => sendErrors++);

let pacer;

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
    sendErrors,
    late,
    duplicates,
    sources,
    sending: pacer && mark ? pacer.since(mark.sending) : null,
  };
}

createInterface({ input: process.stdin }).on('line', (line) => {
  const [cmd, id = ''] = line.trim().split(/\s+/);
  if (cmd === 'mark') {
    marks.set(id, {
      sources: new Map([...tracks].map(([p, t]) => [p, t.mark()])),
      sending: pacer ? pacer.mark() : { stalls: 0, stalledMs: 0, sent: 0 },
    });
    process.stdout.write(JSON.stringify({ id, marked: true }) + '\n');
  } else if (cmd === 'report') process.stdout.write(JSON.stringify(report(id)) + '\n');
});
process.stdin.on('end', () => process.exit(0));

sock.bind(port, self, () => {
  pacer = new Pacer(now(), gapMs);
  const tick = () => {
    const { from, to, stamp } = pacer.tick(now());
    for (let n = from; n < to; n++) {
      // A fresh buffer each time: send() is asynchronous and must not see the next number.
      const buf = encodePacket({ seq: n, ...stamp });
      for (const p of peers) sock.send(buf, port, p);
    }
    setTimeout(tick, Math.max(1, gapMs));
  };
  tick();
  process.stdout.write(JSON.stringify({ ready: true, self, rate, peers }) + '\n');
});
