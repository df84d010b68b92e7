/**
 * The control socket as a client meets it: mode 0600, answers matched by id, every kind of bad
 * input answered with its stable code while the server keeps serving, a line too long closes
 * only that connection, a stale socket file is replaced and a live one is not.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ControlServer } from '../../src/control/server.js';
import { ControlClient } from '../../src/control/client.js';
import { ControlError, ControlErrorCode, MAX_INFLIGHT_PER_CONNECTION, MAX_REQUEST_BYTES } from '../../src/control/protocol.js';
import { IkeDaemon } from '../../src/ike/daemon.js';
import { StubKernelIpsec } from '../../src/kernel/stub/ipsec.js';
import { logger } from '../../src/log/index.js';
import { gwConfig } from '../exchange/harness.js';

let dir: string;
let daemon: IkeDaemon;
/** What `status` adds to the target's own status: the stub data plane's drops (none). */
const NO_DROPS = { available: true, in: { replay: 0, integrity: 0, other: 0 }, out: {}, totalIn: 0, totalOut: 0 };
const target = () => ({ daemon, status: () => ({ node: 'gw-test', ikeSas: daemon.manager.ikeSaCount }) });

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'segw-ctl-'));
  daemon = new IkeDaemon({ connections: [gwConfig(false)], kernel: new StubKernelIpsec() });
});
after(() => rmSync(dir, { recursive: true, force: true }));

async function withServer(fn: (s: ControlServer, path: string) => Promise<void>, name = 'gw.sock'): Promise<void> {
  const path = join(dir, name);
  const s = await ControlServer.listen({ path, target: target(), log: logger('control') });
  try {
    await fn(s, path);
  } finally {
    await s.close();
  }
}

/** Writes raw bytes and collects `n` response lines. */
function rawExchange(path: string, data: string, n: number): Promise<{ lines: Record<string, unknown>[]; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const c = createConnection(path);
    let buf = '';
    const lines: Record<string, unknown>[] = [];
    const timer = setTimeout(() => {
      c.destroy();
      reject(new Error(`only ${lines.length} of ${n} answers: ${buf}`));
    }, 5000);
    const done = (closed: boolean) => {
      clearTimeout(timer);
      c.destroy();
      resolve({ lines, closed });
    };
    c.setEncoding('utf8');
    c.on('data', (d: string) => {
      buf += d;
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        lines.push(JSON.parse(buf.slice(0, nl)) as Record<string, unknown>);
        buf = buf.slice(nl + 1);
      }
      if (lines.length >= n) done(false);
    });
    c.on('end', () => done(true));
    c.on('error', () => done(true));
    c.write(data);
  });
}

test('the socket is created mode 0600 and removed at close', async () => {
  let path = '';
  await withServer(async (_s, p) => {
    path = p;
    const st = statSync(p);
    assert.ok(st.isSocket());
    assert.equal(st.mode & 0o777, 0o600);
  });
  assert.throws(() => statSync(path), /ENOENT/);
});

test('methods, status and list-sas answer; ids are echoed; responses match calls', async () => {
  await withServer(async (_s, path) => {
    const c = await ControlClient.connect(path);
    const [m, st, l] = await Promise.all([
      c.call<{ methods: { name: string }[] }>('methods'),
      c.call('status'),
      c.call('list-sas'),
    ]);
    assert.deepEqual(
      m.methods.map((x) => x.name),
      ['methods', 'status', 'list-sas', 'initiate', 'terminate-ike', 'terminate-child', 'rekey-ike', 'rekey-child', 'dpd', 'members', 'vrrp'],
    );
    assert.deepEqual(st, { node: 'gw-test', ikeSas: 0, espDrops: NO_DROPS });
    assert.deepEqual(l, { ikeSas: [] });
    c.close();
  });
});

test('bad requests get their stable codes and the daemon keeps answering on the same connection', async () => {
  await withServer(async (s, path) => {
    const lines = [
      'garbage\n',
      '{"id":1}\n',
      '{"id":2,"method":"no-such"}\n',
      '{"id":3,"method":"__proto__"}\n',
      '{"id":4,"method":"terminate-ike","params":{}}\n',
      '{"id":5,"method":"terminate-ike","params":{"ike":"zz"}}\n',
      '{"id":6,"method":"terminate-ike","params":{"ike":"0123456789abcdef"}}\n',
      '{"id":7,"method":"terminate-child","params":{"child":"12345678"}}\n',
      '{"id":8,"method":"initiate","params":{"connection":"nope"}}\n',
      '{"id":9,"method":"initiate","params":{"connection":"gw"}}\n',
      '{"id":10,"method":"dpd","params":{"ike":"0123456789abcdef","timeoutMs":-1}}\n',
      '{"id":11,"method":"list-sas","params":{"counters":"yes"}}\n',
      '\n\r\n',
      '{"id":12,"method":"status"}\r\n',
    ].join('');
    const { lines: answers } = await rawExchange(path, lines, 13);
    const byId = new Map(answers.map((a) => [a.id, a]));
    const code = (id: unknown) => (byId.get(id)?.error as { code?: string } | undefined)?.code;
    assert.equal((answers.find((a) => a.id === null)?.error as { code: string }).code, ControlErrorCode.PARSE_ERROR);
    assert.equal(code(1), ControlErrorCode.INVALID_REQUEST);
    assert.equal(code(2), ControlErrorCode.UNKNOWN_METHOD);
    assert.equal(code(3), ControlErrorCode.UNKNOWN_METHOD);
    assert.equal(code(4), ControlErrorCode.INVALID_PARAMS);
    assert.equal(code(5), ControlErrorCode.INVALID_PARAMS);
    assert.equal(code(6), ControlErrorCode.NOT_FOUND);
    assert.equal(code(7), ControlErrorCode.NOT_FOUND);
    assert.equal(code(8), ControlErrorCode.NOT_FOUND);
    assert.equal(code(9), ControlErrorCode.INVALID_PARAMS, 'a responder-only connection names no peer to initiate to');
    assert.equal(code(10), ControlErrorCode.INVALID_PARAMS);
    assert.equal(code(11), ControlErrorCode.INVALID_PARAMS);
    assert.deepEqual(byId.get(12)?.result, { node: 'gw-test', ikeSas: 0, espDrops: NO_DROPS });
    assert.equal(s.stats.errors.INTERNAL, undefined);
  });
});

test('a line beyond the size limit is refused and only that connection closes', async () => {
  await withServer(async (_s, path) => {
    const big = `{"id":1,"method":"status","params":{"x":"${'a'.repeat(MAX_REQUEST_BYTES)}"}}\n`;
    const r = await rawExchange(path, big, 1);
    assert.equal((r.lines[0]?.error as { code: string }).code, ControlErrorCode.REQUEST_TOO_LARGE);
    // A stream that never sends a newline is cut off too.
    const r2 = await rawExchange(path, 'x'.repeat(MAX_REQUEST_BYTES + 10), 1);
    assert.equal((r2.lines[0]?.error as { code: string }).code, ControlErrorCode.REQUEST_TOO_LARGE);
    const c = await ControlClient.connect(path);
    assert.deepEqual(await c.call('status'), { node: 'gw-test', ikeSas: 0, espDrops: NO_DROPS });
    c.close();
  });
});

test('more requests in flight than the bound are answered BUSY, the rest complete', async () => {
  await withServer(async (_s, path) => {
    const c = await ControlClient.connect(path);
    // N+4 requests written back to back: each is answered, either with its result or BUSY.
    const n = MAX_INFLIGHT_PER_CONNECTION + 4;
    const calls = Array.from({ length: n }, () => c.call('list-sas').then(() => 'ok', (e: ControlError) => e.controlCode));
    const codes = await Promise.all(calls);
    assert.equal(codes.length, n);
    assert.ok(codes.every((x) => x === 'ok' || x === ControlErrorCode.BUSY));
    assert.ok(codes.filter((x) => x === 'ok').length >= MAX_INFLIGHT_PER_CONNECTION);
    c.close();
  });
});

test('a client that disconnects mid-request does not disturb the server', async () => {
  await withServer(async (_s, path) => {
    const c = createConnection(path);
    await new Promise((r) => c.once('connect', r));
    // The answer to the first request shows the server has read the chunk with the cut one.
    const answered = new Promise((r) => c.once('data', r));
    c.write('{"id":1,"method":"list-sas"}\n{"id":2,"meth');
    await answered;
    const closed = new Promise((r) => c.once('close', r));
    c.destroy();
    await closed;
    const c2 = await ControlClient.connect(path);
    assert.deepEqual(await c2.call('list-sas'), { ikeSas: [] });
    c2.close();
  });
});

test('a stale socket file is replaced; a live socket or a non-socket file is not touched', async () => {
  // Stale: a socket file nobody listens on (a crashed daemon's).
  const stalePath = join(dir, 'stale.sock');
  const s1 = await ControlServer.listen({ path: stalePath, target: target(), log: logger('control') });
  // Simulate a crash: close the listener without the cleanup close() does.
  await new Promise<void>((r) => (s1 as unknown as { server: { close(cb: () => void): void } }).server.close(() => r()));
  writeFileSync(join(dir, 'marker'), '');
  await withServer(async (_s, path) => {
    const c = await ControlClient.connect(path);
    assert.deepEqual(await c.call('list-sas'), { ikeSas: [] });
    c.close();
    // Live: a second daemon on the same path is refused, and the first keeps serving.
    await assert.rejects(ControlServer.listen({ path, target: target(), log: logger('control') }), /another daemon answers/);
    const c2 = await ControlClient.connect(path);
    assert.deepEqual(await c2.call('list-sas'), { ikeSas: [] });
    c2.close();
  }, 'stale.sock');
  await assert.rejects(ControlServer.listen({ path: join(dir, 'marker'), target: target(), log: logger('control') }), /not a socket/);
});

test('a bug inside a method is answered INTERNAL and the server keeps serving', async () => {
  const path = join(dir, 'buggy.sock');
  const buggy = { daemon, status: (): unknown => { throw new TypeError('boom'); } };
  const s = await ControlServer.listen({ path, target: buggy, log: logger('control') });
  try {
    const c = await ControlClient.connect(path);
    await assert.rejects(c.call('status'), (e: ControlError) => e.controlCode === ControlErrorCode.INTERNAL && /boom/.test(e.message));
    assert.deepEqual(await c.call('list-sas'), { ikeSas: [] });
    c.close();
    assert.equal(s.stats.errors.INTERNAL, 1);
  } finally {
    await s.close();
  }
});

test('a node adds its own methods; `methods` lists them with the built-in ones', async () => {
  const path = join(dir, 'extra.sock');
  const s = await ControlServer.listen({
    path,
    target: target(),
    log: logger('control'),
    methods: { drain: { description: 'stop taking new tunnels', params: '{}', run: async () => ({ draining: true }) } },
  });
  try {
    const c = await ControlClient.connect(path);
    assert.deepEqual(await c.call('drain'), { draining: true });
    const { methods } = await c.call<{ methods: { name: string }[] }>('methods');
    assert.ok(methods.some((m) => m.name === 'drain') && methods.some((m) => m.name === 'list-sas'));
    c.close();
  } finally {
    await s.close();
  }
});
