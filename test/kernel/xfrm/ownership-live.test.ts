/**
 * segw's reqid range (src/kernel/xfrm/ownership.ts) on this kernel's XFRM policies (SAs need
 * ESP: the same path with SAs runs in the guest, test/kernel-esp sigkill-restart): a backend with
 * reqidBase installs base + reqid; a later backend's removeStale() deletes exactly those, and
 * leaves another daemon's policies.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Lab, type Host } from '../../../src/lab/lab.js';
import { XfrmKernelIpsec } from '../../../src/kernel/xfrm/backend.js';
import { ReqidMap, SEGW_REQID_BASE } from '../../../src/kernel/xfrm/ownership.js';
import type { PolicyParams } from '../../../src/kernel/types.js';

let lab: Lab;
let gw: Host;
before(async () => {
  lab = await Lab.create('xfrmown');
  gw = await lab.host('gw');
});
after(async () => {
  await lab?.close();
});

const ts = (startAddr: string, endAddr: string) => ({ family: 4 as const, protocol: 0, startAddr, endAddr, startPort: 0, endPort: 65535 });
const out: PolicyParams = {
  direction: 'out',
  src: ts('192.0.2.128', '192.0.2.255'),
  dst: ts('192.0.2.0', '192.0.2.127'),
  tmplSrc: '198.51.100.2',
  tmplDst: '198.51.100.1',
  reqid: 3,
  mode: 'tunnel',
  priority: 2000,
};

test('ReqidMap: base + reqid, 0 stays 0, ownership of the range only', () => {
  const m = new ReqidMap(SEGW_REQID_BASE);
  assert.equal(m.toKernel(0), 0);
  assert.equal(m.toKernel(3), SEGW_REQID_BASE + 3);
  assert.ok(m.owns(SEGW_REQID_BASE + 3));
  assert.ok(!m.owns(3) && !m.owns(SEGW_REQID_BASE) && !m.owns(16384));
  assert.throws(() => m.toKernel(m.span), RangeError);
  assert.equal(new ReqidMap(0).toKernel(3), 3);
  assert.ok(!new ReqidMap(0).owns(3));
});

test('removeStale: a killed run\'s policies (segw reqids) go, another daemon\'s stay', async () => {
  const first = XfrmKernelIpsec.open({ netns: `/run/netns/${gw.ns}`, reqidBase: SEGW_REQID_BASE });
  try {
    for (const direction of ['out', 'in', 'fwd'] as const) {
      const flip = direction !== 'out';
      await first.addPolicy({ ...out, direction, ...(flip ? { src: out.dst, dst: out.src, tmplSrc: out.tmplDst, tmplDst: out.tmplSrc } : {}) });
    }
  } finally {
    await first.close(); // as if killed: nothing removed
  }
  await gw.exec('ip', ['xfrm', 'policy', 'add', 'src', '192.0.2.240/28', 'dst', '192.0.2.224/28', 'dir', 'out',
    'tmpl', 'src', '198.51.100.2', 'dst', '203.0.113.7', 'proto', 'esp', 'reqid', '7', 'mode', 'tunnel']);
  const shown = (await gw.exec('ip', ['xfrm', 'policy'])).stdout;
  assert.equal(shown.match(new RegExp(`reqid ${SEGW_REQID_BASE + 3} mode tunnel`, 'g'))?.length, 3, 'installed with base + reqid');

  const next = XfrmKernelIpsec.open({ netns: `/run/netns/${gw.ns}`, reqidBase: SEGW_REQID_BASE });
  try {
    const removed = await next.removeStale();
    assert.deepEqual(removed.policies.map((p) => `${p.direction} ${p.src} ${p.dst}`).sort(), [
      'fwd 192.0.2.0/25 192.0.2.128/25',
      'in 192.0.2.0/25 192.0.2.128/25',
      'out 192.0.2.128/25 192.0.2.0/25',
    ]);
    assert.deepEqual(removed.sas, []);
    const left = await next.listPolicies();
    assert.deepEqual(left.map((p) => `${p.direction} ${p.src} ${p.dst} ${p.templates[0]?.reqid}`), ['out 192.0.2.240/28 192.0.2.224/28 7']);
    assert.deepEqual(await next.removeStale(), { sas: [], policies: [] }, 'nothing more to remove');
  } finally {
    await next.close();
  }
});
