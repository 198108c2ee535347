import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { BfdDiag, BfdState, diagName } from '../../src/bfd/constants.ts';
import type { BfdSessionOptions, BfdStep } from '../../src/bfd/session.ts';
import { BfdSession } from '../../src/bfd/session.ts';
import { newSession, peerPacket } from './helpers.ts';

const { AdminDown, Down, Init, Up } = BfdState;

/** A session brought to `state` at t=0, with the change log cleared. Peer Detection Time is 300 ms. */
function sessionIn(state: BfdState, overrides: Partial<BfdSessionOptions> = {}) {
  const t = newSession(overrides);
  const { session } = t;
  session.poll(0);
  if (state === Init || state === Up) session.receive(peerPacket({ state: Down, yourDiscriminator: 0 }), 0);
  if (state === Up) session.receive(peerPacket({ state: Up }), 0);
  if (state === AdminDown) session.setAdminDown(undefined, 0);
  assert.equal(session.sessionState, state);
  t.changes.length = 0;
  return t;
}

/** An Up session whose Poll for leaving the 1 s floor has been acknowledged: P is clear again. */
function settledUp(overrides: Partial<BfdSessionOptions> = {}) {
  const t = sessionIn(Up, overrides);
  t.session.receive(peerPacket({ final: true }), 0);
  t.session.receive(peerPacket(), 0);
  assert.equal(t.session.snapshot().pollActive, false);
  return t;
}

const only = (step: BfdStep) => {
  assert.equal(step.send.length, 1, `expected one packet, got ${step.send.length}`);
  return step.send[0]!.packet;
};

void describe('BFD session: the RFC 5880 6.8.6 state machine, transition by transition', () => {
  type Row = [from: BfdState, event: string, to: BfdState, diag: number | null];
  // diag null: no transition happens.
  const table: Row[] = [
    [Down, 'rx AdminDown', Down, null],
    [Down, 'rx Down', Init, BfdDiag.NoDiagnostic],
    [Down, 'rx Init', Up, BfdDiag.NoDiagnostic],
    [Down, 'rx Up', Down, null],
    [Down, 'detection timeout', Down, null],
    [Init, 'rx AdminDown', Down, BfdDiag.NeighborSignaledSessionDown],
    [Init, 'rx Down', Init, null],
    [Init, 'rx Init', Up, BfdDiag.NoDiagnostic],
    [Init, 'rx Up', Up, BfdDiag.NoDiagnostic],
    [Init, 'detection timeout', Down, BfdDiag.ControlDetectionTimeExpired],
    [Up, 'rx AdminDown', Down, BfdDiag.NeighborSignaledSessionDown],
    [Up, 'rx Down', Down, BfdDiag.NeighborSignaledSessionDown],
    [Up, 'rx Init', Up, null],
    [Up, 'rx Up', Up, null],
    [Up, 'detection timeout', Down, BfdDiag.ControlDetectionTimeExpired],
    [AdminDown, 'rx AdminDown', AdminDown, null],
    [AdminDown, 'rx Down', AdminDown, null],
    [AdminDown, 'rx Init', AdminDown, null],
    [AdminDown, 'rx Up', AdminDown, null],
    [AdminDown, 'enable', Down, BfdDiag.NoDiagnostic],
    [Down, 'admin down', AdminDown, BfdDiag.AdministrativelyDown],
    [Init, 'admin down', AdminDown, BfdDiag.AdministrativelyDown],
    [Up, 'admin down', AdminDown, BfdDiag.AdministrativelyDown],
    [AdminDown, 'admin down', AdminDown, null],
    [Down, 'enable', Down, null],
    [Up, 'enable', Up, null],
  ];
  const names = ['AdminDown', 'Down', 'Init', 'Up'];

  for (const [from, event, to, diag] of table) {
    void it(`${names[from]} + ${event} -> ${names[to]}${diag === null ? ' (no change)' : `, diag ${diag} (${diagName(diag)})`}`, () => {
      const { session, changes } = sessionIn(from);
      let at = 10;
      if (event.startsWith('rx ')) {
        const rxState = { AdminDown, Down, Init, Up }[event.slice(3) as 'Up'];
        session.receive(peerPacket({ state: rxState, yourDiscriminator: rxState <= Down ? 0 : 0xaaaa }), at);
      } else if (event === 'detection timeout') {
        if (from === Down) session.receive(peerPacket({ state: Up }), 0); // heard, yet still Down
        at = 300; // 3 * max(100 ms, 100 ms) after the last packet at t=0
        assert.equal(session.poll(299.9).changes.length, 0, 'not before the Detection Time');
        session.poll(at);
        assert.equal(session.snapshot().remoteDiscr, 0, 'the peer is forgotten (RFC 5880 6.8.1)');
      } else if (event === 'admin down') {
        session.setAdminDown(undefined, at);
      } else if (event === 'enable') {
        session.enable(at);
      }
      assert.equal(session.sessionState, to);
      if (diag === null) {
        assert.deepEqual(changes, []);
      } else {
        assert.deepEqual(changes, [{ old: from, new: to, diag, atMs: at }]);
        assert.equal(session.snapshot().localDiag, diag);
      }
    });
  }

  void it('keeps the diag of the last failure while Init, and carries it in packets', () => {
    const { session } = sessionIn(Up);
    session.receive(peerPacket({ state: Down }), 1);
    const p = only(session.receive(peerPacket({ state: Down, yourDiscriminator: 0 }), 2));
    assert.equal(p.state, Init);
    assert.equal(p.diag, BfdDiag.NeighborSignaledSessionDown);
  });

  void it('reports changes both in the returned step and through onStateChange', () => {
    const { session, changes } = sessionIn(Down);
    const step = session.receive(peerPacket({ state: Down, yourDiscriminator: 0 }), 5);
    assert.deepEqual(step.changes, [{ old: Down, new: Init, diag: 0, atMs: 5 }]);
    assert.deepEqual(changes, step.changes);
    assert.equal(session.snapshot().counters.stateChanges, 1);
  });

  void it('sends a packet at once on every state change (RFC 5880 6.8.7)', () => {
    const { session } = sessionIn(Down);
    assert.equal(only(session.receive(peerPacket({ state: Down, yourDiscriminator: 0 }), 5)).state, Init);
    assert.equal(only(session.receive(peerPacket({ state: Up }), 6)).state, Up);
    const down = only(session.receive(peerPacket({ state: AdminDown, diag: 7 }), 7));
    assert.equal(down.state, Down);
    assert.equal(down.diag, BfdDiag.NeighborSignaledSessionDown);
  });
});

void describe('BFD session: administrative control (RFC 5880 6.8.16)', () => {
  void it('AdminDown packets carry the diag, keep going at the slow rate, and ignore the peer', () => {
    const { session } = settledUp();
    const first = only(session.setAdminDown(BfdDiag.PathDown, 10));
    assert.equal(first.state, AdminDown);
    assert.equal(first.diag, BfdDiag.PathDown);
    assert.equal(first.desiredMinTxUs, 1_000_000);
    const rx = session.receive(peerPacket({ state: Up, poll: true }), 20);
    assert.deepEqual(rx.send, [], 'discarded before the Poll is looked at, so no Final');
    assert.equal(session.snapshot().counters.rxWhileAdminDown, 1);
    assert.deepEqual(session.poll(1009).send, []);
    assert.equal(only(session.poll(1010)).state, AdminDown);
  });

  void it('comes back up after enable()', () => {
    const { session } = sessionIn(AdminDown);
    assert.equal(only(session.enable(5)).state, Down);
    session.receive(peerPacket({ state: Init }), 6);
    assert.equal(session.sessionState, Up);
  });

  void it('rejects an out-of-range diag', () => {
    const { session } = sessionIn(Up);
    assert.throws(() => session.setAdminDown(32), RangeError);
  });
});

void describe('BFD session: transmission timing', () => {
  void it('sends at once when active, then no faster than 1 s while not Up (RFC 5880 6.8.3)', () => {
    const { session } = newSession({ desiredMinTxUs: 10_000 });
    const p = only(session.poll(0));
    assert.equal(p.state, Down);
    assert.equal(p.desiredMinTxUs, 1_000_000);
    assert.equal(p.yourDiscriminator, 0);
    assert.equal(session.nextDeadline(), 1000);
    assert.deepEqual(session.poll(999).send, []);
    assert.equal(only(session.poll(1000)).state, Down);
    const down = { state: Down, yourDiscriminator: 0, desiredMinTxUs: 1_000_000, requiredMinRxUs: 10_000 };
    only(session.receive(peerPacket(down), 1500));
    assert.equal(session.snapshot().txIntervalUs, 1_000_000, 'still slow in Init');
    assert.equal(session.nextDeadline(), 2500);
  });

  void it('switches to the negotiated rate when Up: max(local DesiredMinTx, remote RequiredMinRx)', () => {
    const { session } = sessionIn(Init);
    const p = only(session.receive(peerPacket({ state: Up, requiredMinRxUs: 250_000 }), 100));
    assert.equal(p.desiredMinTxUs, 100_000);
    assert.equal(p.poll, true, 'leaving the 1 s floor changes DesiredMinTx, which needs a Poll');
    const snap = session.snapshot();
    assert.equal(snap.txIntervalUs, 250_000);
    assert.equal(session.nextDeadline(), 350);
    session.receive(peerPacket({ requiredMinRxUs: 20_000 }), 110);
    assert.equal(session.snapshot().txIntervalUs, 100_000);
  });

  void it('computes the Detection Time from the peer: its DetectMult * max(our RequiredMinRx, its DesiredMinTx)', () => {
    const { session } = settledUp({ requiredMinRxUs: 50_000 });
    session.receive(peerPacket({ detectMult: 5, desiredMinTxUs: 200_000 }), 1);
    assert.equal(session.snapshot().detectionTimeUs, 1_000_000);
    session.receive(peerPacket({ detectMult: 2, desiredMinTxUs: 20_000 }), 2);
    assert.equal(session.snapshot().detectionTimeUs, 100_000);
  });

  void it('honours a lower remote RequiredMinRx at once (RFC 5880 6.8.3)', () => {
    const { session } = settledUp(); // last packet sent at t=0
    session.receive(peerPacket({ requiredMinRxUs: 1_000_000 }), 0);
    assert.equal(session.snapshot().txIntervalUs, 1_000_000);
    session.receive(peerPacket({ requiredMinRxUs: 1_000_000 }), 200);
    assert.deepEqual(session.poll(200).send, [], 'slowed down: the packet due at 100 ms was moved');
    const step = session.receive(peerPacket({ requiredMinRxUs: 100_000 }), 250);
    assert.equal(only(step).poll, false, 'overdue under the new interval, so sent at once');
    assert.equal(session.snapshot().txIntervalUs, 100_000);
    assert.equal(session.nextDeadline(), 350);
  });

  void it('stops periodic packets when the peer asks for none (Required Min RX 0) but still answers a Poll', () => {
    const { session } = settledUp();
    session.receive(peerPacket({ requiredMinRxUs: 0 }), 50);
    assert.deepEqual(session.poll(200).send, []);
    assert.equal(session.nextDeadline(), 350, 'only the Detection Time is left');
    const p = only(session.receive(peerPacket({ requiredMinRxUs: 0, poll: true }), 250));
    assert.equal(p.final, true);
    only(session.receive(peerPacket({ requiredMinRxUs: 100_000 }), 260)); // periodic packets resume at once
    assert.equal(session.nextDeadline(), 360);
  });

  void it('passive role: silent until the peer is heard, silent again once it is forgotten (RFC 5880 6.1, 6.8.7)', () => {
    const { session } = newSession({ passive: true });
    assert.deepEqual(session.poll(0).send, []);
    assert.equal(session.nextDeadline(), null);
    assert.deepEqual(session.poll(10_000).send, []);
    const p = only(
      session.receive(peerPacket({ state: Down, yourDiscriminator: 0, desiredMinTxUs: 1e6 }), 10_000),
    );
    assert.equal(p.state, Init);
    assert.equal(p.yourDiscriminator, 0xbbbb);
    session.poll(13_000); // Detection Time 3 s passes: Down, peer forgotten
    assert.equal(session.sessionState, Down);
    assert.deepEqual(session.poll(20_000).send, []);
    assert.equal(session.nextDeadline(), null);
  });

  void it('stops periodic packets while the peer runs Demand mode, except to carry a Poll (RFC 5880 6.8.7)', () => {
    const { session } = settledUp();
    session.receive(peerPacket({ demand: true }), 0);
    assert.deepEqual(session.poll(100).send, []);
    session.receive(peerPacket({ demand: true }), 150);
    const p = only(session.setTimers({ desiredMinTxUs: 80_000 }, 160));
    assert.equal(p.poll, true);
    session.receive(peerPacket({ demand: true, final: true }), 170);
    assert.deepEqual(session.poll(400).send, []);
    const resumed = only(session.receive(peerPacket({ demand: false }), 420));
    assert.equal(resumed.poll, false, 'periodic packets resume at once when Demand ends');
  });

  void it('jitters every interval to 75-100 % of the negotiated one, 75-90 % when DetectMult is 1 (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), {
          minLength: 1,
          maxLength: 20,
        }),
        fc.constantFrom(1, 2, 3, 5),
        (randoms, detectMult) => {
          let i = 0;
          const { session } = newSession({ detectMult, random: () => randoms[i++ % randoms.length]! });
          const times: number[] = [];
          let now = 0;
          for (let n = 0; n < 15; n++) {
            if (session.poll(now).send.length > 0) times.push(now);
            now = session.nextDeadline()!;
          }
          const ceiling = detectMult === 1 ? 900 : 1000;
          for (let k = 1; k < times.length; k++) {
            const gap = times[k]! - times[k - 1]!;
            assert.ok(gap >= 750 - 1e-9 && gap <= ceiling + 1e-9, `gap ${gap} with DetectMult ${detectMult}`);
          }
          assert.ok(times.length >= 14);
        },
      ),
      { numRuns: 200 },
    );
  });

  void it('nextDeadline is the earlier of the next transmission and the Detection Time', () => {
    const { session } = settledUp({ desiredMinTxUs: 500_000 });
    session.receive(peerPacket({ desiredMinTxUs: 50_000, requiredMinRxUs: 10_000 }), 0);
    assert.equal(session.nextDeadline(), 300); // detection 3 * 100 ms before tx at 500 ms
    session.receive(peerPacket({ desiredMinTxUs: 400_000, requiredMinRxUs: 10_000 }), 10);
    assert.equal(session.nextDeadline(), 500);
  });
});

void describe('BFD session: detection timeout', () => {
  void it('goes Down with diag 1 exactly one Detection Time after the last packet', () => {
    const { session, changes } = settledUp();
    session.receive(peerPacket(), 50);
    for (const t of [100, 200, 300]) {
      assert.equal(session.nextDeadline(), t, 'transmissions come first');
      only(session.poll(t));
    }
    assert.equal(session.nextDeadline(), 350);
    assert.deepEqual(session.poll(349.99).changes, []);
    const step = session.poll(350);
    assert.deepEqual(step.changes, [
      { old: Up, new: Down, diag: BfdDiag.ControlDetectionTimeExpired, atMs: 350 },
    ]);
    assert.deepEqual(changes, step.changes);
    const p = only(step);
    assert.equal(p.state, Down);
    assert.equal(p.diag, 1);
    assert.equal(p.yourDiscriminator, 0);
    assert.equal(p.desiredMinTxUs, 1_000_000);
    const snap = session.snapshot();
    assert.equal(snap.counters.detectionTimeouts, 1);
    assert.equal(snap.remoteMinRxUs, 1, 'reset so we may send at our own rate (RFC 5880 6.8.18)');
  });

  void it('a late poll() still reports the expiry at the deadline, before a late packet is processed', () => {
    const { session, changes } = settledUp();
    session.receive(peerPacket({ state: Up }), 5000);
    assert.equal(session.sessionState, Down);
    assert.deepEqual(changes[0], { old: Up, new: Down, diag: 1, atMs: 300 });
  });
});

void describe('BFD session: Poll sequences (RFC 5880 6.5, 6.8.3)', () => {
  void it('answers a received Poll at once with a Final and no P; that packet also serves as the periodic one', () => {
    const { session } = settledUp();
    const p = only(session.receive(peerPacket({ poll: true }), 42));
    assert.equal(p.final, true);
    assert.equal(p.poll, false);
    assert.equal(session.nextDeadline(), 142);
    assert.equal(session.snapshot().counters.txFinals, 1);
  });

  void it('answers a Poll while its own Poll is out, keeping P off the Final', () => {
    const { session } = settledUp();
    session.setTimers({ desiredMinTxUs: 90_000 }, 1);
    const f = only(session.receive(peerPacket({ poll: true }), 2));
    assert.deepEqual([f.poll, f.final], [false, true]);
    const next = only(session.poll(session.nextDeadline()!));
    assert.deepEqual([next.poll, next.final], [true, false]);
  });

  void it('a faster DesiredMinTx applies at once and is polled on the next scheduled packet, with no extra packet', () => {
    const { session } = settledUp();
    only(session.poll(100));
    const step = session.setTimers({ desiredMinTxUs: 50_000 }, 120);
    assert.deepEqual(step.send, [], 'RFC 5880 6.5: P goes on scheduled packets only');
    assert.equal(session.snapshot().txIntervalUs, 100_000, 'peer RequiredMinRx still 100 ms');
    session.receive(peerPacket({ requiredMinRxUs: 10_000 }), 125);
    assert.equal(session.snapshot().txIntervalUs, 50_000);
    const p = only(session.poll(150));
    assert.equal(p.poll, true);
    assert.equal(p.desiredMinTxUs, 50_000);
  });

  void it('a slower DesiredMinTx is advertised at once but used only after the Final', () => {
    const { session } = settledUp();
    session.setTimers({ desiredMinTxUs: 400_000 }, 0);
    const snap = session.snapshot();
    assert.equal(snap.desiredMinTxUs, 400_000);
    assert.equal(snap.txIntervalUs, 100_000);
    assert.equal(snap.pollActive, true);
    const p = only(session.poll(100));
    assert.equal(p.poll, true);
    assert.equal(p.desiredMinTxUs, 400_000);
    only(session.poll(200));
    session.receive(peerPacket({ final: true }), 250);
    const after = session.snapshot();
    assert.equal(after.pollActive, false);
    assert.equal(after.txIntervalUs, 400_000);
    assert.equal(after.counters.pollSequencesCompleted, 2);
    session.receive(peerPacket(), 500);
    assert.equal(session.nextDeadline(), 600, 'the pending packet moved to 400 ms after the last one');
    assert.equal(only(session.poll(600)).poll, false);
  });

  void it('a lower RequiredMinRx shortens the Detection Time only after the Final', () => {
    const { session } = settledUp();
    session.receive(peerPacket({ desiredMinTxUs: 10_000 }), 0);
    assert.equal(session.snapshot().detectionTimeUs, 300_000);
    session.setTimers({ requiredMinRxUs: 20_000 }, 1);
    const p = only(session.poll(100));
    assert.equal(p.requiredMinRxUs, 20_000);
    assert.equal(p.poll, true);
    session.receive(peerPacket({ desiredMinTxUs: 10_000 }), 101);
    assert.equal(session.snapshot().detectionTimeUs, 300_000, 'held until the Final');
    session.receive(peerPacket({ desiredMinTxUs: 10_000, final: true }), 102);
    assert.equal(session.snapshot().detectionTimeUs, 60_000);
  });

  void it('a higher RequiredMinRx lengthens the Detection Time at once', () => {
    const { session } = settledUp();
    session.setTimers({ requiredMinRxUs: 200_000 }, 1);
    assert.equal(session.snapshot().detectionTimeUs, 600_000);
  });

  void it('a change during a Poll waits for that Poll to end and a packet without F (RFC 5880 6.8.3)', () => {
    const { session } = settledUp();
    const started = session.snapshot().counters.pollSequencesStarted;
    session.setTimers({ desiredMinTxUs: 200_000 }, 1);
    session.setTimers({ requiredMinRxUs: 300_000 }, 2);
    assert.equal(session.snapshot().requiredMinRxUs, 100_000, 'second change not yet advertised');
    session.receive(peerPacket({ final: true }), 3);
    assert.equal(session.snapshot().requiredMinRxUs, 100_000, 'still waiting for a packet without F');
    assert.equal(session.snapshot().txIntervalUs, 200_000, 'first change complete');
    session.receive(peerPacket(), 4);
    const snap = session.snapshot();
    assert.equal(snap.requiredMinRxUs, 300_000);
    assert.equal(snap.desiredMinTxUs, 200_000);
    assert.equal(snap.pollActive, true);
    assert.equal(snap.counters.pollSequencesStarted, started + 2);
  });

  void it('timer changes while not Up apply at once (the holds are for Up only)', () => {
    const { session } = sessionIn(Init);
    session.setTimers({ desiredMinTxUs: 2_000_000, requiredMinRxUs: 10_000 }, 1);
    const snap = session.snapshot();
    assert.equal(snap.desiredMinTxUs, 2_000_000);
    assert.equal(snap.txIntervalUs, 2_000_000);
    assert.equal(snap.detectionTimeUs, 300_000);
  });

  void it('no change on the wire, no Poll', () => {
    const { session } = settledUp();
    session.setTimers({ desiredMinTxUs: 100_000 }, 1);
    assert.equal(session.snapshot().pollActive, false);
    const { session: down } = sessionIn(Down);
    down.setTimers({ desiredMinTxUs: 500_000 }, 1); // still floored at 1 s
    assert.equal(down.snapshot().pollActive, false);
  });

  void it('rejects invalid timer values', () => {
    const { session } = settledUp();
    assert.throws(() => session.setTimers({ desiredMinTxUs: 0 }), RangeError);
    assert.throws(() => session.setTimers({ requiredMinRxUs: -1 }), RangeError);
    assert.throws(() => session.setTimers({ requiredMinRxUs: 2 ** 32 }), RangeError);
  });
});

void describe('BFD session: construction and snapshot', () => {
  void it('validates its options', () => {
    const base = { localDiscr: 1, desiredMinTxUs: 1, requiredMinRxUs: 0, detectMult: 1 };
    assert.doesNotThrow(() => new BfdSession(base));
    for (const bad of [
      { localDiscr: 0 },
      { localDiscr: 2 ** 32 },
      { desiredMinTxUs: 0 },
      { requiredMinRxUs: -1 },
      { detectMult: 0 },
      { detectMult: 256 },
    ]) {
      assert.throws(() => new BfdSession({ ...base, ...bad }), RangeError, JSON.stringify(bad));
    }
  });

  void it('starts from the RFC 5880 6.8.1 initial values', () => {
    const snap = new BfdSession({
      localDiscr: 7,
      desiredMinTxUs: 10_000,
      requiredMinRxUs: 20_000,
      detectMult: 4,
    }).snapshot();
    assert.equal(snap.state, Down);
    assert.equal(snap.remoteState, Down);
    assert.equal(snap.remoteDiscr, 0);
    assert.equal(snap.localDiag, 0);
    assert.equal(snap.remoteMinRxUs, 1);
    assert.equal(snap.desiredMinTxUs, 1_000_000);
    assert.equal(snap.requiredMinRxUs, 20_000);
    assert.equal(snap.detectionTimeUs, 0);
    assert.equal(snap.authType, 0);
  });

  void it('exposes the negotiated values and counters', () => {
    const { session } = settledUp();
    session.receive(peerPacket({ detectMult: 4, diag: 0, requiredMinRxUs: 150_000 }), 1);
    const snap = session.snapshot();
    assert.equal(snap.state, Up);
    assert.equal(snap.remoteState, Up);
    assert.equal(snap.localDiscr, 0xaaaa);
    assert.equal(snap.remoteDiscr, 0xbbbb);
    assert.equal(snap.txIntervalUs, 150_000);
    assert.equal(snap.detectionTimeUs, 400_000);
    assert.equal(snap.remoteDetectMult, 4);
    assert.equal(snap.lastRxMs, 1);
    assert.ok(snap.counters.rxPackets >= 5);
    assert.ok(snap.counters.txPackets >= 3);
    // A snapshot is a copy.
    (snap.counters as { rxPackets: number }).rxPackets = -1;
    assert.notEqual(session.snapshot().counters.rxPackets, -1);
  });

  void it('uses the injected clock when a method gets no time', () => {
    const { session, clock } = newSession();
    clock.now = 5000;
    only(session.poll());
    assert.equal(session.nextDeadline(), 6000);
    clock.now = 5500;
    session.receive(peerPacket({ state: Down, yourDiscriminator: 0 }));
    assert.equal(session.snapshot().lastRxMs, 5500);
  });
});
