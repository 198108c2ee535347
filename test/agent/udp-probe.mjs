// A sequenced UDP stream for loss-window tests. `echo PORT NAME`: answers every datagram with NAME
// and the sequence number. `send SRC DST PORT RATE_PER_S SECONDS`: sends numbered datagrams and prints
// one JSON line at the end: for every answered sequence number, who answered.
import { createSocket } from 'node:dgram';

const [mode, ...args] = process.argv.slice(2);
if (mode === 'echo') {
  const [port, name] = args;
  const s = createSocket('udp4');
  s.on('message', (m, r) => s.send(`${name} ${m.toString()}`, r.port, r.address));
  s.bind(Number(port), '0.0.0.0', () => process.stdout.write('ready\n'));
} else if (mode === 'send') {
  const [src, dst, port, rate, seconds] = args;
  const s = createSocket('udp4');
  const answers = {};
  s.on('message', (m) => {
    const [who, seq] = m.toString().split(' ');
    answers[seq] = who;
  });
  s.bind(0, src, () => {
    const total = Math.round(Number(rate) * Number(seconds));
    const gap = 1000 / Number(rate);
    const t0 = performance.now();
    let n = 0;
    const tick = () => {
      // Catch up after timer lateness, so the rate is the rate asked for.
      const due = Math.min(total, Math.floor((performance.now() - t0) / gap) + 1);
      for (; n < due; n++) s.send(String(n), Number(port), dst);
      if (n < total) setTimeout(tick, gap);
      else
        setTimeout(() => {
          process.stdout.write(
            JSON.stringify({
              sent: total,
              gapMs: gap,
              startedAt: Date.now() - (performance.now() - t0),
              answers,
            }) + '\n',
          );
          s.close();
        }, 300);
    };
    process.stdout.write('sending\n');
    tick();
  });
}
