#!/usr/bin/env node
// The `segw` command. Runs the compiled CLI (dist/, built by `npm ci`); in a development
// checkout without dist/ it runs the TypeScript sources through tsx.
import { existsSync } from 'node:fs';

const dist = new URL('../dist/cli/main.js', import.meta.url);
if (existsSync(dist)) {
  const { main } = await import(dist.href);
  await main(process.argv.slice(2));
} else {
  const { register } = await import('tsx/esm/api');
  register();
  const { main } = await import(new URL('../src/cli/main.ts', import.meta.url).href);
  await main(process.argv.slice(2));
}
