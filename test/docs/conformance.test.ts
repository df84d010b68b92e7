// docs/conformance.md cannot rot: scripts/check-conformance.mjs finds every test the table cites
// (file and test name) and a status and a reason on every row. It passes the real table, and it
// fails a table that cites a missing file, a test its file does not declare, a tested row
// without a test, a row without a reason, an unknown status.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
// @ts-expect-error: a plain .mjs script without declarations
import { checkConformance, declaredTitles } from '../../scripts/check-conformance.mjs';

type Check = { problems: string[]; rows: number; citations: number; byStatus: Record<string, number> };
const check = checkConformance as (text: string, root?: string) => Check;
const titles = declaredTitles as (src: string) => { title: string; matches: (name: string) => boolean }[];
const script = resolve(import.meta.dirname, '../../scripts/check-conformance.mjs');

test('docs/conformance.md: every cited test exists in its file, every row has a status and a reason', () => {
  const r = spawnSync(process.execPath, [script], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^check-conformance: \d+ requirements \(.*\), \d+ test citations, all found$/m);
  const n = Number(/(\d+) test citations/.exec(r.stdout)![1]);
  assert.ok(n >= 100, `only ${n} citations`);
});

test('titles: string and template literals of test/it/describe, guestSuite scenarios; not other calls', () => {
  const src = [
    "test('plain title', () => {});",
    'it("double \\"quoted\\"", () => {});',
    'describe(`template ${a.b} and ${`nested ${c}`} end`, () => {});',
    "latest('not a test', () => {});",
    "guestSuite(\n  'gateway.ts',\n  {\n    'xfrm-psk': (ev) => {\n      if (x) { y('inner'); }\n    },\n    'dpd-dead-peer': (ev) => {},\n  },\n  { timeoutS: 1 },\n);",
  ].join('\n');
  const t = titles(src);
  const has = (name: string) => t.some((x) => x.matches(name));
  assert.ok(has('plain title'));
  assert.ok(has('double "quoted"'));
  assert.ok(has('template X and nested Y end'));
  assert.ok(!has('template X and end'), 'a template part that is not there');
  assert.ok(!has('not a test'));
  assert.ok(has('guest (user-mode-linux, kernel ESP): gateway xfrm-psk'));
  assert.ok(has('guest (user-mode-linux, kernel ESP): gateway dpd-dead-peer'));
  assert.ok(!has('guest (user-mode-linux, kernel ESP): gateway inner'));
  assert.equal(t.length, 5);
});

test('table-driven tests: test(c.name, ...) declares the name entries of the file', () => {
  const t = titles("const CASES = [{ name: 'Backup + Shutdown -> Initialize', x: 1 }];\nfor (const c of CASES) test(c.name, () => {});\n");
  assert.ok(t.some((x) => x.matches('Backup + Shutdown -> Initialize')));
  assert.ok(!t.some((x) => x.matches('Backup + Shutdown')));
  assert.equal(titles("const o = { name: 'not a test' };\ntest('real', () => {});\n").length, 1, 'name entries count only beside test(c.name)');
});

test('a table with a missing file, an unknown test, a tested row without a test or an unexplained row fails, naming each', () => {
  const root = mkdtempSync(join(tmpdir(), 'segw-conf-'));
  try {
    mkdirSync(join(root, 'test', 'x'), { recursive: true });
    writeFileSync(join(root, 'test', 'x', 'a.test.ts'), "test('it works \\| really', () => {});\ntest(`case ${n}: ok`, () => {});\n");
    const doc = [
      '| ID | § | Requirement | Status | Evidence |',
      '|---|---|---|---|---|',
      '| R1 | 1 | good | tested | `test/x/a.test.ts` «it works \\| really» and `test/x/a.test.ts` «case 7: ok» |',
      '| R2 | 1 | missing file | tested | `test/x/none.test.ts` «it works» |',
      '| R3 | 1 | unknown test | tested | `test/x/a.test.ts` «it fails» |',
      '| R4 | 1 | no test | tested | see the code |',
      '| R5 | 1 | no reason | n/a | - |',
      '| R6 | 1 | odd status | done | `test/x/a.test.ts` «it works \\| really» |',
      '| R1 | 1 | twice | n/a | a reason long enough |',
    ].join('\n');
    const r = check(doc, root);
    assert.deepEqual(r.problems, [
      'line 4: test/x/none.test.ts does not exist',
      'line 5: test/x/a.test.ts declares no test «it fails»',
      'line 6: row R4 is "tested" but cites no test',
      'line 7: row R5 is "n/a" and must say why',
      'line 8: row R6 has status "done"; use one of: tested, partly tested, untested, not implemented, n/a',
      'line 9: row R1 appears twice',
    ]);
    assert.equal(r.rows, 7);
    assert.equal(check(doc.split('\n').slice(0, 3).join('\n'), root).problems.length, 0);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
