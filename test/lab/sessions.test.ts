// sessionsNotUp: how the lab reads from an agent's /metrics whether its BFD sessions have settled.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sessionsNotUp } from '../../src/lab/scenarios.ts';

void describe('sessionsNotUp', () => {
  it('counts every session outside Up, and nothing else', () => {
    const text = [
      '# HELP mcgw_agent_bfd_sessions BFD sessions of this agent by state.',
      '# TYPE mcgw_agent_bfd_sessions gauge',
      'mcgw_agent_bfd_sessions{state="AdminDown"} 1',
      'mcgw_agent_bfd_sessions{state="Down"} 2',
      'mcgw_agent_bfd_sessions{state="Init"} 0',
      'mcgw_agent_bfd_sessions{state="Up"} 5',
      'mcgw_agent_bfd_transitions_total{state="Down",diag="ControlDetectionTimeExpired"} 7',
    ].join('\n');
    assert.equal(sessionsNotUp(text), 3);
    assert.equal(sessionsNotUp(text.replace(/Down"\} \d/g, 'Down"} 0')), 0);
    assert.equal(sessionsNotUp(''), 0, 'an agent without sessions (the baseline) has none to wait for');
  });
});
