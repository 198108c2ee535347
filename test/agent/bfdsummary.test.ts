// The BFD summary a Gateway's agent publishes on its Lease: peers listed, Node sessions counted.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseBfdSummary, summarizeSessions } from '../../src/agent/bfdsummary.ts';
import { BfdDiag, BfdState } from '../../src/bfd/constants.ts';
import type { BfdSessionSnapshot } from '../../src/bfd/session.ts';

const snap = (state: BfdState, diag: BfdDiag, txUs: number, detectUs: number) =>
  ({ state, localDiag: diag, txIntervalUs: txUs, detectionTimeUs: detectUs }) as BfdSessionSnapshot;

describe('summarizeSessions', () => {
  test('remote peers one by one (sorted), local Node sessions by state; round trip through JSON', () => {
    const s = summarizeSessions(
      [
        {
          snapshot: snap(BfdState.Up, BfdDiag.NoDiagnostic, 50_000, 150_000),
          peer: { key: 'b/b-gw2', address: '198.19.222.83' },
          lastChangeMs: 1_000,
        },
        {
          snapshot: snap(BfdState.Down, BfdDiag.ControlDetectionTimeExpired, 1_000_000, 0),
          peer: { key: 'b/b-gw1', address: '198.19.222.84' },
        },
        { snapshot: snap(BfdState.Up, BfdDiag.NoDiagnostic, 50_000, 150_000) },
        { snapshot: snap(BfdState.Up, BfdDiag.NoDiagnostic, 50_000, 150_000) },
        { snapshot: snap(BfdState.Down, BfdDiag.ControlDetectionTimeExpired, 1_000_000, 0) },
      ],
      2_000,
    );
    assert.deepEqual(
      s.peers.map((p) => [p.peer, p.state, p.txMs, p.detectMs, p.lastChange]),
      [
        ['b/b-gw1', 'Down', 1000, 0, null],
        ['b/b-gw2', 'Up', 50, 150, '1970-01-01T00:00:01.000Z'],
      ],
    );
    assert.match(s.peers[0]!.diag, /Detection Time Expired/i);
    assert.deepEqual(s.nodes, { AdminDown: 0, Down: 1, Init: 0, Up: 2 });
    assert.equal(s.at, '1970-01-01T00:00:02.000Z');
    assert.deepEqual(parseBfdSummary(JSON.stringify(s)), s);
  });

  test('anything else reads as no summary', () => {
    for (const t of [
      undefined,
      '',
      '{',
      '[]',
      '{"at":1,"peers":[],"nodes":{}}',
      '{"at":"x","peers":{},"nodes":{}}',
    ])
      assert.equal(parseBfdSummary(t), undefined, String(t));
  });
});
