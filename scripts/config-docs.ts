/**
 * Writes docs/config.schema.json and docs/configuration.md from the configuration's own
 * definitions (src/config/json-schema.ts). With --check, writes nothing and exits 1 when a
 * committed file is not what the definitions generate.
 *
 *   node --import tsx scripts/config-docs.ts [--check]
 */
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { configurationMarkdown, gatewayJsonSchema } from '../src/config/json-schema.js';

const docs = resolve(import.meta.dirname, '..', 'docs');

export function generated(): Record<string, string> {
  return {
    'config.schema.json': `${JSON.stringify(gatewayJsonSchema(), null, 2)}\n`,
    'configuration.md': configurationMarkdown(),
  };
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  const check = process.argv.includes('--check');
  let stale = 0;
  mkdirSync(docs, { recursive: true });
  for (const [name, text] of Object.entries(generated())) {
    const path = join(docs, name);
    let current: string | undefined;
    try {
      current = readFileSync(path, 'utf8');
    } catch {
      current = undefined;
    }
    if (current === text) continue;
    if (check) {
      process.stderr.write(`docs/${name} is not current: run node --import tsx scripts/config-docs.ts\n`);
      stale++;
    } else {
      writeFileSync(path, text);
      process.stdout.write(`wrote docs/${name}\n`);
    }
  }
  process.exitCode = stale > 0 ? 1 : 0;
}
