import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeControlPacket, encodeControlPacket } from '../../src/bfd/codec.ts';
import { BfdState } from '../../src/bfd/constants.ts';
import { SessionTable } from '../../src/bfd/session-table.ts';
import { newSession, packet } from './helpers.ts';

const stub = (localDiscr: number) => ({ localDiscr });

void describe('BFD demultiplexing (RFC 5880 6.3, 6.8.6)', () => {
  const build = () => {
    const table = new SessionTable<{ localDiscr: number }>();
    const s1 = stub(1);
    const s2 = stub(2);
    table.add(s1, { peer: '10.0.0.1', interface: 'eth0' });
    table.add(s2, { peer: '10.0.0.1', interface: 'eth1' });
    return { table, s1, s2 };
  };

  void it('selects by Your Discriminator when it is nonzero, whatever the source', () => {
    const { table, s2 } = build();
    const r = table.lookup(packet({ yourDiscriminator: 2 }), { peer: '192.0.2.99' });
    assert.deepEqual(r, { ok: true, session: s2 });
  });

  void it('discards an unknown nonzero Your Discriminator even if the source would match', () => {
    const { table } = build();
    const r = table.lookup(packet({ yourDiscriminator: 3 }), { peer: '10.0.0.1', interface: 'eth0' });
    assert.equal(r.ok ? 'ok' : r.reason, 'unknown-discriminator');
  });

  void it('selects by peer and interface when Your Discriminator is 0 and the state is Down or AdminDown', () => {
    const { table, s1, s2 } = build();
    for (const state of [BfdState.Down, BfdState.AdminDown]) {
      const p = packet({ state, yourDiscriminator: 0 });
      assert.deepEqual(table.lookup(p, { peer: '10.0.0.1', interface: 'eth0' }), { ok: true, session: s1 });
      assert.deepEqual(table.lookup(p, { peer: '10.0.0.1', interface: 'eth1' }), { ok: true, session: s2 });
      const miss = table.lookup(p, { peer: '10.0.0.1' });
      assert.equal(miss.ok ? 'ok' : miss.reason, 'unknown-peer');
      const other = table.lookup(p, { peer: '10.0.0.2', interface: 'eth0' });
      assert.equal(other.ok ? 'ok' : other.reason, 'unknown-peer');
    }
  });

  void it('discards Your Discriminator 0 in Init or Up', () => {
    const { table } = build();
    for (const state of [BfdState.Init, BfdState.Up]) {
      const r = table.lookup({ state, yourDiscriminator: 0 }, { peer: '10.0.0.1', interface: 'eth0' });
      assert.equal(r.ok ? 'ok' : r.reason, 'zero-your-discriminator');
    }
  });

  void it('keeps discriminators and peer keys unique, and forgets removed sessions', () => {
    const { table } = build();
    assert.throws(() => table.add(stub(1), { peer: '10.0.0.9' }), /discriminator 1/);
    assert.throws(() => table.add(stub(9), { peer: '10.0.0.1', interface: 'eth0' }), /already exists/);
    assert.equal(table.size, 2);
    assert.equal(table.remove(1), true);
    assert.equal(table.remove(1), false);
    assert.equal(table.get(1), undefined);
    assert.equal(table.getByPeer({ peer: '10.0.0.1', interface: 'eth0' }), undefined);
    table.add(stub(1), { peer: '10.0.0.1', interface: 'eth0' });
    assert.equal(table.size, 2);
    assert.deepEqual([...table.values()].map((s) => s.localDiscr).sort(), [1, 2]);
  });

  void it('does not confuse peer keys whose parts run together', () => {
    const table = new SessionTable<{ localDiscr: number }>();
    table.add(stub(1), { peer: 'a%b', interface: 'c' });
    table.add(stub(2), { peer: 'a', interface: 'b%c' });
    assert.equal(table.getByPeer({ peer: 'a%b', interface: 'c' })?.localDiscr, 1);
    assert.equal(table.getByPeer({ peer: 'a', interface: 'b%c' })?.localDiscr, 2);
  });

  void it('allocates nonzero discriminators not in use, even from a stuck random source', () => {
    const table = new SessionTable<{ localDiscr: number }>();
    const stuck = () => 0; // always proposes 1
    for (let i = 0; i < 5; i++) {
      const d = table.allocateDiscriminator(stuck);
      assert.ok(d >= 1 && d <= 0xffff_ffff);
      assert.equal(table.get(d), undefined);
      table.add(stub(d), { peer: `p${i}` });
    }
    const d = table.allocateDiscriminator(() => 0.999_999_999_9);
    assert.ok(d >= 1 && d <= 0xffff_ffff);
  });

  void it('routes a decoded first packet to its BfdSession, which then comes up', () => {
    const table = new SessionTable();
    const { session } = newSession();
    table.add(session, { peer: '10.1.1.1' });
    const bytes = encodeControlPacket(
      packet({ state: BfdState.Down, myDiscriminator: 77, yourDiscriminator: 0 }),
    );
    const decoded = decodeControlPacket(bytes);
    assert.ok(decoded.ok);
    const found = table.lookup(decoded.packet, { peer: '10.1.1.1' });
    assert.ok(found.ok);
    const r = found.session.handlePacket(bytes, decoded.packet, 0);
    assert.equal(r.auth.ok, true);
    assert.equal(session.sessionState, BfdState.Init);
    // From now on the peer addresses us by discriminator.
    const next = table.lookup(packet({ yourDiscriminator: session.localDiscr }), { peer: 'elsewhere' });
    assert.ok(next.ok && next.session === session);
  });
});
