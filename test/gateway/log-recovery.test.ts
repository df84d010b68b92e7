/**
 * log.file on a file system that fills up (a 64 KiB tmpfs; root, as every namespace test): the
 * write that fails moves logging to stderr, and once space returns logging goes back to the file,
 * whose first line then says since when the log went to stderr. Every line in the file stays one
 * JSON object, even the one the full disk cut short.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { startLogging } from '../../src/gateway/run.js';
import { logger, rootLogger, setRootLogger } from '../../src/log/index.js';
import { eventually } from '../support/eventually.js';

test('a full disk under log.file: stderr meanwhile, the file again once space returns', { timeout: 60_000 }, async (t) => {
  if (process.getuid?.() !== 0) return t.skip('needs root to mount a tmpfs');
  const dir = mkdtempSync(join(tmpdir(), 'segw-log-full-'));
  const disk = join(dir, 'disk');
  mkdirSync(disk);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'segw-log-full', disk]);
  const before = rootLogger();
  const stderrWrite = process.stderr.write.bind(process.stderr);
  const notices: string[] = [];
  process.stderr.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    if (String(chunk).startsWith('segw: ')) notices.push(String(chunk));
    return (stderrWrite as (c: string | Uint8Array, ...r: unknown[]) => boolean)(chunk, ...rest);
  }) as typeof process.stderr.write;
  try {
    const file = join(disk, 'gw.log');
    startLogging({ log: { level: 'warn', file } }, { retryMs: 100 });
    const onFile = rootLogger();
    const log = logger('test');
    log.warn('first line');
    await eventually(() => readFileSync(file, 'utf8').includes('"msg":"first line"'), 'the first line in the file');

    const fill = join(disk, 'fill');
    assert.throws(() => writeFileSync(fill, Buffer.alloc(1024 * 1024)), /ENOSPC/);
    const pad = 'x'.repeat(2000);
    await eventually(() => {
      log.warn({ pad }, 'while the disk fills');
      return rootLogger() !== onFile;
    }, 'the write failure noticed');
    assert.match(notices.join(''), /^segw: log\.file .*gw\.log: write failed \(ENOSPC\); logging to standard error until it can be written again/m);

    unlinkSync(fill);
    await eventually(() => readFileSync(file, 'utf8').includes('log.file writable again'), { what: 'the recovery line in the file', timeoutMs: 10_000 });
    log.warn('after the recovery');
    await eventually(() => readFileSync(file, 'utf8').includes('"msg":"after the recovery"'), 'later lines in the file');
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n').filter((l) => l.length > 0);
    const at = lines.findIndex((l) => l.includes('log.file writable again'));
    // Only the line the full disk cut short (just before the recovery line) may be partial; it
    // ends there, so the recovery line and every later one is whole.
    lines.forEach((l, i) => {
      if (i !== at - 1) assert.doesNotThrow(() => JSON.parse(l), `one JSON object per line: ${l.slice(0, 80)}`);
    });
    const recovery = JSON.parse(lines[at]!) as Record<string, unknown>;
    assert.equal(recovery.sub, 'log');
    assert.equal(recovery.error, 'ENOSPC');
    assert.match(notices.join(''), /writable again; logging there/);
  } finally {
    process.stderr.write = stderrWrite;
    setRootLogger(before);
    execFileSync('umount', ['-l', disk]);
    rmSync(dir, { recursive: true, force: true });
  }
});
