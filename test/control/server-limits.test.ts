/**
 * The control socket's admission rules as an operator meets them: idle clients can never lock
 * `segw ctl` out (the longest idle connection makes room, idle ones time out), only root and the
 * daemon's user get in even when the socket file is world-writable (SO_PEERCRED), and a socket
 * path that cannot be used fails with one line naming control.socket.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ControlServer } from '../../src/control/server.js';
import { ControlClient } from '../../src/control/client.js';
import { ControlError, ControlErrorCode, MAX_CONNECTIONS } from '../../src/control/protocol.js';
import type { MethodSpec } from '../../src/control/methods.js';
import { IkeDaemon } from '../../src/ike/daemon.js';
import { StubKernelIpsec } from '../../src/kernel/stub/ipsec.js';
import { logger } from '../../src/log/index.js';
import { gwConfig } from '../exchange/harness.js';
import { eventually } from '../support/eventually.js';

let dir: string;
let daemon: IkeDaemon;
const target = () => ({ daemon, status: () => ({ node: 'gw-limits' }) });

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'segw-ctl-limits-'));
  daemon = new IkeDaemon({ connections: [gwConfig(false)], kernel: new StubKernelIpsec() });
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** A raw connection that records the lines it receives and whether the daemon closed it. */
async function idleConnection(path: string): Promise<{ sock: Socket; lines: string[]; closed: () => boolean }> {
  const sock = createConnection(path);
  const lines: string[] = [];
  let closed = false;
  sock.setEncoding('utf8');
  sock.on('data', (d: string) => lines.push(...d.split('\n').filter(Boolean)));
  sock.on('close', () => (closed = true));
  sock.on('error', () => {});
  await new Promise((r) => sock.once('connect', r));
  return { sock, lines, closed: () => closed };
}

test(`${MAX_CONNECTIONS} idle connections do not lock out a new client: the longest idle one is closed`, async () => {
  const path = join(dir, 'full.sock');
  const server = await ControlServer.listen({ path, target: target(), log: logger('control') });
  const idle: Awaited<ReturnType<typeof idleConnection>>[] = [];
  try {
    for (let i = 0; i < MAX_CONNECTIONS; i++) idle.push(await idleConnection(path));
    // Every slot is taken; a new operator's command still gets in, twice in a row.
    for (let round = 0; round < 2; round++) {
      const c = await ControlClient.connect(path);
      try {
        assert.equal((await c.call<{ node: string }>('status')).node, 'gw-limits');
      } finally {
        c.close();
      }
    }
    await eventually(() => idle[0]!.closed(), { what: 'the longest idle connection closed' });
    assert.match(idle[0]!.lines[0] ?? '', /"code":"IDLE_CLOSED"/);
    assert.equal(idle.at(-1)!.closed(), false, 'the newest idle connections stay');
    assert.ok(server.stats.idleClosed >= 1);
  } finally {
    for (const c of idle) c.sock.destroy();
    await server.close();
  }
});

test('an idle connection is closed after the idle timeout; one waiting for a long request is not', async () => {
  const path = join(dir, 'idle.sock');
  let release!: () => void;
  const slow: MethodSpec = {
    description: 'waits until the test releases it',
    params: '{}',
    run: () => new Promise((r) => (release = () => r({ done: true }))),
  };
  const server = await ControlServer.listen({ path, target: target(), log: logger('control'), idleTimeoutMs: 150, methods: { slow } });
  const busy = await ControlClient.connect(path);
  try {
    const quiet = await idleConnection(path);
    const pending = busy.call('slow');
    await eventually(() => quiet.closed(), { what: 'the idle connection closed by the timeout' });
    assert.match(quiet.lines[0] ?? '', /"code":"IDLE_CLOSED"/);
    // A second quiet connection timing out proves more idle periods passed; the busy one,
    // silent all along with its request in flight, is still open and gets its answer.
    const quiet2 = await idleConnection(path);
    await eventually(() => quiet2.closed(), { what: 'a second idle connection closed' });
    assert.equal(server.stats.idleClosed, 2);
    release();
    assert.deepEqual(await pending, { done: true });
  } finally {
    busy.close();
    await server.close();
  }
});

test('when every connection has a request in flight a new one is refused BUSY (and told so)', async () => {
  const path = join(dir, 'busy.sock');
  const releases: (() => void)[] = [];
  const slow: MethodSpec = { description: 'waits', params: '{}', run: () => new Promise((r) => releases.push(() => r(null))) };
  const server = await ControlServer.listen({ path, target: target(), log: logger('control'), maxConnections: 2, methods: { slow } });
  const clients = [await ControlClient.connect(path), await ControlClient.connect(path)];
  try {
    const calls = clients.map((c) => c.call('slow'));
    await eventually(() => releases.length === 2, { what: 'both slow requests running' });
    const late = await ControlClient.connect(path);
    await assert.rejects(late.call('status'), (err: ControlError) => err.controlCode === ControlErrorCode.BUSY);
    late.close();
    for (const r of releases) r();
    await Promise.all(calls);
  } finally {
    for (const c of clients) c.close();
    await server.close();
  }
});

/** Runs a tiny client as uid/gid 65534 (nobody): prints the first line the daemon sends. */
function connectAsNobody(path: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const script = `const s=require('node:net').createConnection(${JSON.stringify(path)});s.setEncoding('utf8');let out='';` +
    `s.on('data',d=>out+=d);s.on('connect',()=>s.write(JSON.stringify({id:1,method:'status'})+'\\n'));` +
    `s.on('close',()=>{process.stdout.write(out);});s.on('error',e=>{process.stderr.write(e.code+'\\n');process.exit(3);});`;
  return new Promise((res) => {
    execFile('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '-e', script], { timeout: 10_000 }, (err, stdout, stderr) =>
      res({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

test('SO_PEERCRED: a non-root user is refused even when the socket file is world-writable', async () => {
  const open = mkdtempSync(join(tmpdir(), 'segw-ctl-open-'));
  chmodSync(open, 0o755);
  const path = join(open, 'gw.sock');
  const server = await ControlServer.listen({ path, target: target(), log: logger('control') });
  try {
    chmodSync(path, 0o666); // what a permissive umask or an operator's chmod would leave
    const r = await connectAsNobody(path);
    assert.equal(r.code, 0, r.stderr);
    const line = JSON.parse(r.stdout.split('\n')[0]!) as { id: unknown; error?: { code: string; message: string }; result?: unknown };
    assert.equal(line.result, undefined, 'nobody got an answer');
    assert.equal(line.error?.code, ControlErrorCode.PERMISSION_DENIED);
    assert.match(line.error!.message, /uid 65534 may not use this control socket/);
    assert.equal(server.stats.refused, 1);
    // Root (the daemon's user here) still gets in.
    const c = await ControlClient.connect(path);
    assert.equal((await c.call<{ node: string }>('status')).node, 'gw-limits');
    c.close();
  } finally {
    await server.close();
    rmSync(open, { recursive: true, force: true });
  }
});

test('a control socket path that cannot be used fails with one line naming control.socket', async () => {
  await assert.rejects(ControlServer.listen({ path: '/dev/null/x.sock', target: target(), log: logger('control') }), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'SEGW_CONTROL_SOCKET');
    assert.match(err.message, /^control\.socket: cannot create the directory of \/dev\/null\/x\.sock \(E[A-Z]+\): name a path in a directory$/);
    assert.doesNotMatch(err.message, /\n/);
    return true;
  });
});
