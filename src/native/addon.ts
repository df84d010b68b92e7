/**
 * Loads the segw native addon (native/, built by `npm ci` through scripts/build-native.mjs).
 * Only src/kernel, src/netlink and src/lab may import this; IKE and VRRP code reach the OS
 * through the kernel interfaces (STYLE.md habit 4).
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { NativeAddonError } from '../errors.js';

/** The addon's exports; components extend this interface in their own typed wrappers. */
export interface NativeAddon {
  readonly components: readonly string[];
  opensslVersion(): string;
  readonly opensslHeaderVersion: string;
  [name: string]: unknown;
}

let cached: NativeAddon | undefined;

function findRepoRoot(): string {
  // src/native/addon.ts and dist/native/addon.js both sit two levels below the root.
  return resolve(import.meta.dirname, '..', '..');
}

export function loadAddon(): NativeAddon {
  if (cached) return cached;
  const root = findRepoRoot();
  const path = process.env.SEGW_ADDON ?? join(root, 'build', 'Release', 'segw.node');
  if (!existsSync(path)) {
    throw new NativeAddonError(`native addon not found at ${path}: run \`npm ci\` (or \`npm run build:native\`)`);
  }
  try {
    cached = createRequire(import.meta.url)(path) as NativeAddon;
  } catch (err) {
    throw new NativeAddonError(
      `native addon at ${path} failed to load (built for another Node? run \`npm run build:native\`): ${String(err)}`,
      { cause: err },
    );
  }
  return cached;
}
