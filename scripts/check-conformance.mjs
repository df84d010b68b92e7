#!/usr/bin/env node
// Checks docs/conformance.md against the test suite, so the table cannot rot:
//
//   node scripts/check-conformance.mjs [FILE]       (default docs/conformance.md)
//
// Every citation in the table, written  `test/path/file.test.ts` «test name», must name a file
// that exists and a test declared in it: the first argument of test(...), it(...) or
// describe(...) when it is a string literal, or a scenario of guestSuite('module.ts', {...})
// (test/kernel-esp), whose host test is "guest (user-mode-linux, kernel ESP): module name",
// or, in a file with a table-driven test(c.name, ...), a `name: '...'` entry of its tables.
// A title written as a template literal matches any citation that fills its ${...} parts.
// Rows (lines starting with "| R") must have a known status, and a cited test when the status
// says tested; "not implemented" and "n/a" rows must say why. In a table cell "\|" stands
// for "|". Prints every problem and exits 1 if there is one; prints a summary line otherwise.
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
export const STATUSES = ['tested', 'partly tested', 'untested', 'not implemented', 'n/a'];

/** Reads the string literal starting at src[i] (a quote or backtick); returns it and where it ends. */
function readLiteral(src, i) {
  const q = src[i];
  let out = '';
  let template = false;
  let j = i + 1;
  while (j < src.length) {
    const c = src[j];
    if (c === '\\') {
      out += src[j + 1];
      j += 2;
      continue;
    }
    if (c === q) return { text: out, template, end: j + 1 };
    if (q === '`' && c === '$' && src[j + 1] === '{') {
      // Skip the expression, counting braces; its value is unknown here.
      let depth = 1;
      j += 2;
      while (j < src.length && depth > 0) {
        if (src[j] === '{') depth++;
        else if (src[j] === '}') depth--;
        j++;
      }
      out += '\u0000'; // a placeholder: matches anything
      template = true;
      continue;
    }
    out += c;
    j++;
  }
  return undefined;
}

/** The test titles a file declares, as matchers. */
export function declaredTitles(src) {
  const titles = [];
  const call = /(?<![\w.$])(?:test|it|describe)(?:\.(?:skip|only|todo))?\(\s*(['"`])/g;
  for (let m = call.exec(src); m; m = call.exec(src)) {
    const lit = readLiteral(src, m.index + m[0].length - 1);
    if (lit) titles.push(lit.text);
  }
  // A table-driven test, test(c.name, ...): the `name: '...'` entries of the file's tables.
  if (/(?<![\w.$])(?:test|it)\(\s*[A-Za-z_$][\w$]*\.name\s*,/.test(src)) {
    for (const m of src.matchAll(/\bname:\s*(['"`])/g)) {
      const lit = readLiteral(src, m.index + m[0].length - 1);
      if (lit && !lit.template) titles.push(lit.text);
    }
  }
  const suite = /guestSuite\(\s*'([^']+)'\s*,\s*\{/g;
  for (let m = suite.exec(src); m; m = suite.exec(src)) {
    const module = m[1].replace(/\.ts$/, '');
    // The scenario keys: '<name>': at the first level of the object that follows.
    let depth = 1;
    let j = m.index + m[0].length;
    const start = j;
    while (j < src.length && depth > 0) {
      if (src[j] === '{') depth++;
      else if (src[j] === '}') depth--;
      j++;
    }
    const body = src.slice(start, j);
    for (const k of body.matchAll(/^ {4}'([^']+)':/gm)) titles.push(`guest (user-mode-linux, kernel ESP): ${module} ${k[1]}`);
  }
  return titles.map((t) => {
    if (!t.includes('\u0000')) return { title: t, matches: (name) => name === t };
    const re = new RegExp(`^${t.split('\u0000').map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.+?')}$`, 's');
    return { title: t.replaceAll('\u0000', '${…}'), matches: (name) => re.test(name) };
  });
}

const CITATION = /`(test\/[^`\s]+\.ts)`\s*«([^»]+)»/g;

/** Checks a conformance document's text; returns { problems, rows, citations, byStatus }. */
export function checkConformance(text, repoRoot = root) {
  const problems = [];
  const byStatus = Object.fromEntries(STATUSES.map((s) => [s, 0]));
  const cache = new Map();
  let citations = 0;
  let rows = 0;
  const ids = new Set();
  text.split('\n').forEach((line, n) => {
    const where = `line ${n + 1}`;
    for (const m of line.matchAll(CITATION)) {
      citations++;
      const [, file, rawName] = m;
      const name = rawName.replaceAll('\\|', '|');
      if (!cache.has(file)) {
        const path = resolve(repoRoot, file);
        cache.set(file, existsSync(path) ? declaredTitles(readFileSync(path, 'utf8')) : undefined);
      }
      const titles = cache.get(file);
      if (!titles) problems.push(`${where}: ${file} does not exist`);
      else if (!titles.some((t) => t.matches(name))) problems.push(`${where}: ${file} declares no test «${name}»`);
    }
    if (!/^\|\s*R\d/.test(line)) return;
    rows++;
    const cells = line.split(/(?<!\\)\|/).slice(1, -1).map((c) => c.trim());
    const [id, , , status, evidence = ''] = cells;
    if (ids.has(id)) problems.push(`${where}: row ${id} appears twice`);
    ids.add(id);
    if (!STATUSES.includes(status)) {
      problems.push(`${where}: row ${id} has status "${status}"; use one of: ${STATUSES.join(', ')}`);
      return;
    }
    byStatus[status]++;
    const cites = [...evidence.matchAll(CITATION)].length;
    if ((status === 'tested' || status === 'partly tested') && cites === 0) problems.push(`${where}: row ${id} is "${status}" but cites no test`);
    if ((status === 'not implemented' || status === 'n/a' || status === 'untested') && evidence.replace(/[-–\s]/g, '').length < 10) {
      problems.push(`${where}: row ${id} is "${status}" and must say why`);
    }
  });
  if (rows === 0) problems.push('no requirement rows (lines starting with "| R<number>")');
  return { problems, rows, citations, byStatus };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const file = resolve(process.argv[2] ?? resolve(root, 'docs/conformance.md'));
  const r = checkConformance(readFileSync(file, 'utf8'));
  for (const p of r.problems) console.error(`check-conformance: ${file}: ${p}`);
  if (r.problems.length) process.exit(1);
  const counts = Object.entries(r.byStatus).map(([s, n]) => `${n} ${s}`).join(', ');
  console.log(`check-conformance: ${r.rows} requirements (${counts}), ${r.citations} test citations, all found`);
}
