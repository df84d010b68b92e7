// Prints the addon's C++ sources for binding.gyp (space separated, relative to the repo root).
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

function walk(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(join(dir, e.name)) : e.name.endsWith('.cc') ? [join(dir, e.name)] : []);
}
process.stdout.write(walk('native/src').sort().join(' '));
