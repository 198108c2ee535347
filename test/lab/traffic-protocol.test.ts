// What the traffic endpoint accepts (src/lab/traffic-protocol.mjs): its command line, old and new,
// and the lines of its control protocol, with a clear error for everything else.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseArgs, parseCommand } from '../../src/lab/traffic-protocol.mjs';

describe('traffic endpoint command line', () => {
  test('SELF PORT RATE PEER... as before, and --control PORT with no peers', () => {
    assert.deepEqual(parseArgs(['198.18.0.1', '9100', '1000', '198.18.0.2', '198.18.0.3']), {
      control: null,
      self: '198.18.0.1',
      port: 9100,
      rate: 1000,
      peers: ['198.18.0.2', '198.18.0.3'],
    });
    assert.deepEqual(parseArgs(['--control', '9101', '0.0.0.0', '9100', '2.5']), {
      control: 9101,
      self: '0.0.0.0',
      port: 9100,
      rate: 2.5,
      peers: [],
    });
    assert.equal(parseArgs(['--control=9101', '198.18.0.1', '9100', '1000']).control, 9101);
    // A peer named twice is sent to once.
    assert.deepEqual(parseArgs(['198.18.0.1', '9100', '1', '198.18.0.2', '198.18.0.2']).peers, [
      '198.18.0.2',
    ]);
  });

  test('bad arguments are named', () => {
    const bad: [string[], RegExp][] = [
      [[], /SELF must be an IPv4 address/],
      [['--control'], /--control must be a port number/],
      [['--control', 'x', '198.18.0.1', '9100', '1'], /--control must be a port number.*"x"/],
      [['--verbose', '198.18.0.1', '9100', '1'], /unknown option --verbose/],
      [['198.18.0', '9100', '1000'], /SELF must be an IPv4 address.*"198.18.0"/],
      [['198.18.0.1', '0', '1000'], /PORT must be a port number/],
      [['198.18.0.1', '65536', '1000'], /PORT must be a port number/],
      [['198.18.0.1', '9100', '0'], /RATE must be a positive number/],
      [['198.18.0.1', '9100', '1e3'], /RATE must be a positive number/],
      [['198.18.0.1', '9100', '1000', 'b.example'], /a peer must be an IPv4 address.*"b.example"/],
      [['198.18.0.1', '9100', '1000', '0.0.0.0'], /a peer cannot be 0.0.0.0/],
    ];
    for (const [argv, message] of bad) assert.throws(() => parseArgs(argv), message, JSON.stringify(argv));
  });
});

describe('traffic endpoint control lines', () => {
  test('mark, report and peers, blanks around them ignored', () => {
    assert.deepEqual(parseCommand('mark m1'), { cmd: 'mark', id: 'm1' });
    assert.deepEqual(parseCommand('  report   m1 \r'), { cmd: 'report', id: 'm1' });
    assert.deepEqual(parseCommand('peers 198.18.0.2 198.18.0.3 198.18.0.2'), {
      cmd: 'peers',
      peers: ['198.18.0.2', '198.18.0.3'],
    });
    // No peers at all: send to nobody.
    assert.deepEqual(parseCommand('peers'), { cmd: 'peers', peers: [] });
  });

  test('anything else is an error that says what is wrong', () => {
    const bad: [string, RegExp][] = [
      ['', /empty command/],
      ['hello', /unknown command "hello"/],
      ['MARK m', /unknown command "MARK"/],
      ['mark', /mark takes one ID, not 0/],
      ['report a b', /report takes one ID, not 2/],
      ['peers 198.18.0.2 198.18.0.300', /a peer must be an IPv4 address.*"198.18.0.300"/],
      ['peers 198.18.0', /a peer must be an IPv4 address/],
      ['peers 0.0.0.0', /a peer cannot be 0.0.0.0/],
      ['peers ::1', /a peer must be an IPv4 address/],
    ];
    for (const [line, message] of bad) assert.throws(() => parseCommand(line), message, JSON.stringify(line));
  });
});
