// node:test reporter that writes a one-line JSON count of what ran, for run-tests.mjs, which
// refuses a run of zero tests. Only leaf tests count. When a file has no test of its own,
// Node 20 reports the file itself as a passing test (name === file): that is not a test, and
// the file is listed in `empty` so the runner can fail on it.
//
// The count is written synchronously to $SEGW_TEST_SUMMARY after every event: the runner uses
// --test-force-exit, which may end the process before a reporter stream is flushed.
import { writeFileSync } from 'node:fs';

export default async function* countReporter(source) {
  const out = process.env.SEGW_TEST_SUMMARY;
  const s = { pass: 0, fail: 0, skip: 0, todo: 0, files: 0, empty: [] };
  const files = new Set();
  for await (const event of source) {
    if (event.type !== 'test:pass' && event.type !== 'test:fail') continue;
    const d = event.data ?? {};
    if (d.file) files.add(d.file);
    const isFileItself = d.file !== undefined && d.name === d.file;
    const isSuite = d.details?.type === 'suite';
    if (event.type === 'test:fail') {
      // a leaf test, or a suite/file that failed outside its tests (hook, load error)
      if (!isSuite || d.details?.error?.failureType !== 'subtestsFailed') s.fail++;
    } else if (isFileItself) {
      s.empty.push(d.file);
    } else if (!isSuite) {
      if (d.skip) s.skip++;
      else if (d.todo) s.todo++;
      else s.pass++;
    }
    s.files = files.size;
    if (out) writeFileSync(out, JSON.stringify(s));
  }
  // an empty run still writes its zero count
  s.files = files.size;
  if (out) writeFileSync(out, JSON.stringify(s));
  yield '';
}
