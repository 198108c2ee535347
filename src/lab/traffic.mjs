// The lab's traffic endpoint, one per test pod (plain JavaScript: it starts fast and stays small).
// `node traffic.mjs SELF PORT RATE PEER...` sends a numbered UDP stream at RATE packets per second
// to every PEER and records which numbers arrive from each. Commands on stdin, answers on stdout
// as one JSON line each:
//   mark ID     remember, per source, the highest number received so far
//   report ID   per source since the mark: received, lost, and the longest run of lost numbers in
//               ms of stream time (a run of k numbers at RATE is k * 1000 / RATE ms), or the
//               silence since the latest packet if the stream is still cut (ongoingMs)
// Numbers a stream has not reached yet are not losses: a report covers up to the highest received.
import { Buffer } from 'node:buffer';
import { createSocket } from 'node:dgram';
import { createInterface } from 'node:readline';

const [self, portArg, rateArg, ...peers] = process.argv.slice(2);
const port = Number(portArg);
const rate = Number(rateArg);
if (!self || !(port > 0) || !(rate > 0) || peers.length === 0) {
  process.stderr.write('usage: traffic.mjs SELF PORT RATE PEER...\n');
  process.exit(2);
}
const gapMs = 1000 / rate;

/** Received sequence numbers of one source, as a growable bitset. */
class Seen {
  bits = new Uint8Array(1 << 16);
  max = -1;
  count = 0;
  /** When the latest packet arrived (performance.now()), to see a stream that is still cut. */
  lastAt = 0;
  add(n) {
    if (n >= this.bits.length * 8) {
      const grown = new Uint8Array(Math.max(this.bits.length * 2, (n >> 3) + 1));
      grown.set(this.bits);
      this.bits = grown;
    }
    const b = 1 << (n & 7);
    if (this.bits[n >> 3] & b) return;
    this.bits[n >> 3] |= b;
    this.count++;
    if (n > this.max) this.max = n;
  }
  has(n) {
    return (this.bits[n >> 3] & (1 << (n & 7))) !== 0;
  }
}

const seen = new Map(peers.map((p) => [p, new Seen()]));
const marks = new Map();
const sock = createSocket('udp4');
let malformed = 0;
let sendErrors = 0;
sock.on('message', (m, r) => {
  const s = seen.get(r.address);
  if (!s || m.length < 4) return void malformed++;
  s.add(m.readUInt32BE(0));
  s.lastAt = performance.now();
});
// Sends fail while a path is unreachable (that is the loss being measured): counted, not fatal.
sock.on('error', () => sendErrors++);

function report(id) {
  const mark = marks.get(id) ?? new Map();
  const sources = {};
  for (const [peer, s] of seen) {
    const from = (mark.get(peer) ?? -1) + 1;
    let lost = 0;
    let run = 0;
    let longest = 0;
    for (let n = from; n <= s.max; n++) {
      if (s.has(n)) run = 0;
      else {
        lost++;
        longest = Math.max(longest, ++run);
      }
    }
    const span = Math.max(0, s.max - from + 1);
    // A stream cut right now has no gap yet (nothing arrived after it): count the silence since
    // its latest packet, beyond a few packets' worth, as a window still open.
    const silentMs = s.lastAt ? performance.now() - s.lastAt - gapMs : 0;
    const ongoingMs = silentMs > Math.max(100, 5 * gapMs) ? Math.round(silentMs) : 0;
    sources[peer] = {
      from,
      to: s.max,
      received: span - lost,
      lost,
      lossWindowMs: Math.max(Math.round(longest * gapMs * 10) / 10, ongoingMs),
      ongoingMs,
    };
  }
  return { id, gapMs, malformed, sendErrors, sources };
}

createInterface({ input: process.stdin }).on('line', (line) => {
  const [cmd, id = ''] = line.trim().split(/\s+/);
  if (cmd === 'mark') {
    marks.set(id, new Map([...seen].map(([p, s]) => [p, s.max])));
    process.stdout.write(JSON.stringify({ id, marked: true }) + '\n');
  } else if (cmd === 'report') process.stdout.write(JSON.stringify(report(id)) + '\n');
});
process.stdin.on('end', () => process.exit(0));

sock.bind(port, self, () => {
  const t0 = performance.now();
  let n = 0;
  // Catch up after timer lateness, so the rate is the rate asked for.
  const tick = () => {
    const due = Math.floor((performance.now() - t0) / gapMs) + 1;
    for (; n < due; n++) {
      // A fresh buffer each time: send() is asynchronous and must not see the next number.
      const buf = Buffer.alloc(16);
      buf.writeUInt32BE(n >>> 0, 0);
      for (const p of peers) sock.send(buf, port, p);
    }
    setTimeout(tick, Math.max(1, gapMs));
  };
  tick();
  process.stdout.write(JSON.stringify({ ready: true, self, rate, peers }) + '\n');
});
