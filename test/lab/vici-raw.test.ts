import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseViciRaw, childSas, ikeSas } from '../../src/lab/peers/vici-raw.js';

test('swanctl --raw output: sections, values and lists (both list spellings)', () => {
  const ev = parseViciRaw(
    ' {gw {uniqueid=3 state=ESTABLISHED child-sas {s1-4 {state=INSTALLED spi-in=c1a2b3c4 local-ts=[192.0.2.0/25 2001:db8::/64] remote-ts [192.0.2.128/25]}}}}',
  );
  const [[name, ike]] = ikeSas(ev);
  assert.equal(name, 'gw');
  assert.equal(ike.state, 'ESTABLISHED');
  const [child] = childSas(ike);
  assert.equal(child.state, 'INSTALLED');
  assert.deepEqual(child['local-ts'], ['192.0.2.0/25', '2001:db8::/64']);
  assert.deepEqual(child['remote-ts'], ['192.0.2.128/25']);
});
