// Builds the native addon with node-gyp against the headers of the node binary that runs this
// script. The node directory is passed explicitly: node-gyp would otherwise look for headers in
// its cache or download them, and these machines are offline.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const prefix = dirname(dirname(process.execPath));
const nodedir = process.env.SEGW_NODEDIR ?? prefix;
const header = join(nodedir, 'include', 'node', 'node_api.h');
if (!existsSync(header)) {
  console.error(`segw: cannot build the native addon: no Node headers at ${header}.\n` +
    `Install the headers that match ${process.version} (e.g. the nodejs tarball's include/) ` +
    `and point SEGW_NODEDIR at the directory that holds include/node.`);
  process.exit(1);
}
const gyp = require.resolve('node-gyp/bin/node-gyp.js');
const jobs = process.env.JOBS ?? 'max';
const r = spawnSync(process.execPath, [gyp, 'rebuild', `--nodedir=${nodedir}`, `--jobs=${jobs}`, '--release'],
  { stdio: 'inherit' });
if (r.status !== 0) {
  console.error('segw: native addon build failed (see the compiler output above)');
  process.exit(r.status ?? 1);
}
