// Two BfdSession objects wired together over a simulated link and clock.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BfdDiag, BfdState } from '../../src/bfd/constants.ts';
import { SimLink } from './helpers.ts';

const { Down, Up, AdminDown } = BfdState;

function assertWellFormed(sim: SimLink): void {
  for (const who of ['a', 'b'] as const) {
    for (const { packet } of sim.sent[who]) {
      assert.ok(!(packet.poll && packet.final), 'P and F never together (RFC 5880 6.5)');
      if (packet.state !== Up)
        assert.ok(packet.desiredMinTxUs >= 1_000_000, 'slow while not Up (RFC 5880 6.8.3)');
    }
  }
}

void describe('BFD two-session simulation', () => {
  void it('comes Up, then goes Down within DetectMult * interval when one direction drops, and recovers', () => {
    const sim = new SimLink({}, {});
    sim.runUntil(100);
    assert.equal(sim.a.sessionState, Up);
    assert.equal(sim.b.sessionState, Up);
    assert.ok(
      sim.changes.filter((c) => c.change.new === Up).every((c) => c.change.atMs <= 5),
      'up within a few ms',
    );

    // Steady state: both Polls (leaving the 1 s floor) completed, 50 ms negotiated, 150 ms detection.
    sim.runUntil(2_000);
    for (const s of [sim.a, sim.b]) {
      const snap = s.snapshot();
      assert.equal(snap.pollActive, false);
      assert.equal(snap.txIntervalUs, 50_000);
      assert.equal(snap.detectionTimeUs, 150_000);
    }
    const upSent = sim.sent.a.filter((s) => s.atMs > 500 && !s.packet.final);
    for (let i = 1; i < upSent.length; i++) {
      const gap = upSent[i]!.atMs - upSent[i - 1]!.atMs;
      assert.ok(gap >= 37.5 - 1e-9 && gap <= 50 + 1e-9, `periodic gap ${gap} ms outside 75-100 % of 50 ms`);
    }

    // Drop A -> B. B must declare Down, diag 1, exactly its Detection Time after the last packet it got.
    const dropAt = 2_000;
    sim.dropAtoB = true;
    const lastRxAtB = sim.b.snapshot().lastRxMs!;
    sim.runUntil(3_000);
    const bDown = sim.changes.find((c) => c.who === 'b' && c.change.atMs > dropAt);
    assert.ok(bDown);
    assert.deepEqual(
      { old: bDown.change.old, new: bDown.change.new, diag: bDown.change.diag },
      { old: Up, new: Down, diag: BfdDiag.ControlDetectionTimeExpired },
    );
    assert.equal(bDown.change.atMs, lastRxAtB + 150);
    assert.ok(bDown.change.atMs - dropAt <= 3 * 50, 'within DetectMult * interval of the failure');
    // B's Down packet still reaches A, which goes Down with "Neighbor Signaled Session Down".
    const aDown = sim.changes.find((c) => c.who === 'a' && c.change.atMs > dropAt);
    assert.ok(aDown);
    assert.equal(aDown.change.new, Down);
    assert.equal(aDown.change.diag, BfdDiag.NeighborSignaledSessionDown);
    assert.ok(aDown.change.atMs <= bDown.change.atMs + sim.latencyMs + 1e-9);

    // While the link is half broken, nothing comes Up and B, now Down, sends slowly.
    const bSentWhileDown = sim.sent.b.filter((s) => s.atMs > bDown.change.atMs + 1 && s.atMs <= 3_000);
    assert.ok(bSentWhileDown.length <= 2, `${bSentWhileDown.length} packets in < 1 s while Down`);
    assert.equal(sim.b.sessionState, Down);

    sim.dropAtoB = false;
    sim.runUntil(6_000);
    assert.equal(sim.a.sessionState, Up);
    assert.equal(sim.b.sessionState, Up);
    assertWellFormed(sim);
  });

  void it('stays Up for a minute with DetectMult 1 and jitter (75-90 %), with no flaps', () => {
    const sim = new SimLink(
      { detectMult: 1, desiredMinTxUs: 20_000, requiredMinRxUs: 20_000 },
      { detectMult: 1 },
      1,
      7,
    );
    sim.runUntil(60_000);
    const flaps = sim.changes.filter((c) => c.change.old === Up);
    assert.deepEqual(flaps, []);
    const tail = sim.sent.a.filter((s) => s.atMs > 1_000 && !s.packet.final);
    for (let i = 1; i < tail.length; i++) {
      const gap = tail[i]!.atMs - tail[i - 1]!.atMs;
      assert.ok(gap >= 37.5 - 1e-9 && gap <= 45 + 1e-9, `gap ${gap}`); // negotiated 50 ms (B's RequiredMinRx)
    }
    assertWellFormed(sim);
  });

  for (const type of [1, 2, 3, 4, 5] as const) {
    void it(`comes Up and stays Up with authentication type ${type}`, () => {
      const auth = { type, keys: [{ id: 3, secret: 'shared-secret' }] };
      const sim = new SimLink({ auth }, { auth });
      sim.runUntil(5_000);
      assert.equal(sim.a.sessionState, Up);
      assert.equal(sim.b.sessionState, Up);
      assert.equal(sim.changes.filter((c) => c.change.old === Up).length, 0);
      assert.equal(sim.a.snapshot().counters.rxAuthFailures, 0);
      assert.ok(sim.sent.a.every((s) => s.packet.auth?.type === type));
    });
  }

  void it('admin down on one side takes the other Down with diag 3; enable brings both back', () => {
    const sim = new SimLink({}, {});
    sim.runUntil(1_000);
    sim.deliverFrom('a', sim.a.setAdminDown(undefined, sim.now).send);
    sim.runUntil(1_010);
    assert.equal(sim.a.sessionState, AdminDown);
    assert.equal(sim.b.sessionState, Down);
    assert.equal(sim.b.snapshot().localDiag, BfdDiag.NeighborSignaledSessionDown);
    assert.equal(sim.b.snapshot().remoteDiag, BfdDiag.AdministrativelyDown);
    sim.runUntil(10_000);
    assert.equal(sim.b.sessionState, Down, 'stays down while the peer is AdminDown');
    sim.deliverFrom('a', sim.a.enable(sim.now).send);
    sim.runUntil(13_000);
    assert.equal(sim.a.sessionState, Up);
    assert.equal(sim.b.sessionState, Up);
    assertWellFormed(sim);
  });

  void it('timer changes while Up go through a Poll without a false Down', () => {
    const sim = new SimLink({}, {});
    sim.runUntil(1_000);
    sim.deliverFrom('a', sim.a.setTimers({ desiredMinTxUs: 300_000, requiredMinRxUs: 10_000 }, sim.now).send);
    sim.runUntil(3_000);
    assert.equal(sim.a.snapshot().pollActive, false);
    assert.equal(sim.a.snapshot().txIntervalUs, 300_000);
    // B now detects A with 3 * 300 ms, and A asks B for 10 ms but B will not go below its own 50 ms.
    assert.equal(sim.b.snapshot().detectionTimeUs, 900_000);
    assert.equal(sim.a.snapshot().detectionTimeUs, 150_000);
    sim.deliverFrom('a', sim.a.setTimers({ desiredMinTxUs: 20_000 }, sim.now).send);
    sim.runUntil(5_000);
    assert.equal(sim.a.snapshot().txIntervalUs, 50_000);
    assert.deepEqual(
      sim.changes.filter((c) => c.change.old === Up),
      [],
    );
    assertWellFormed(sim);
  });

  void it('an active and a passive session come Up; the passive one never speaks first', () => {
    const sim = new SimLink({}, { passive: true });
    sim.runUntil(0.5);
    assert.equal(sim.sent.b.length, 0);
    sim.runUntil(1_000);
    assert.equal(sim.a.sessionState, Up);
    assert.equal(sim.b.sessionState, Up);
    assert.ok(sim.sent.b[0]!.atMs >= sim.sent.a[0]!.atMs + sim.latencyMs);
  });
});
