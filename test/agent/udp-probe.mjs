// A sequenced UDP stream for loss-window tests. `echo PORT NAME`: answers every datagram with NAME
// and the sequence number. `send SRC DST PORT RATE_PER_S SECONDS [FLOWS]`: sends numbered datagrams
// on FLOWS sockets (one source port, so one ECMP flow, each) and prints one JSON line at the end:
// per flow, who answered each sequence number.
import { createSocket } from 'node:dgram';

const [mode, ...args] = process.argv.slice(2);
if (mode === 'echo') {
  const [port, name] = args;
  const s = createSocket('udp4');
  s.on('message', (m, r) => s.send(`${name} ${m.toString()}`, r.port, r.address));
  s.bind(Number(port), '0.0.0.0', () => process.stdout.write('ready\n'));
} else if (mode === 'send') {
  const [src, dst, port, rate, seconds, nflows = '1'] = args;
  const total = Math.round(Number(rate) * Number(seconds));
  const gap = 1000 / Number(rate);
  const flows = Array.from({ length: Number(nflows) }, () => ({ sock: createSocket('udp4'), answers: {} }));
  for (const f of flows)
    f.sock.on('message', (m) => {
      const [who, seq] = m.toString().split(' ');
      f.answers[seq] = who;
    });
  let bound = 0;
  for (const f of flows)
    f.sock.bind(0, src, () => {
      if (++bound < flows.length) return;
      const t0 = performance.now();
      let n = 0;
      const tick = () => {
        // Catch up after timer lateness, so the rate is the rate asked for.
        const due = Math.min(total, Math.floor((performance.now() - t0) / gap) + 1);
        for (; n < due; n++) for (const g of flows) g.sock.send(String(n), Number(port), dst);
        if (n < total) setTimeout(tick, gap);
        else
          setTimeout(() => {
            const out = flows.map((g) => ({ sent: total, gapMs: gap, answers: g.answers }));
            process.stdout.write(JSON.stringify(flows.length === 1 ? out[0] : { flows: out }) + '\n');
            for (const g of flows) g.sock.close();
          }, 300);
      };
      process.stdout.write('sending\n');
      tick();
    });
}
