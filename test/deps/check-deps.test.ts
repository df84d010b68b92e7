// scripts/check-deps.mjs (npm run lint:deps): the import-graph check fails on a cycle and on an
// import against the layers, and passes a tree that follows them (and this repository's src/).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { tmpdir } from 'node:os';

const script = resolve(import.meta.dirname, '../../scripts/check-deps.mjs');

function run(root?: string): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, root ? [script, root] : [script], { encoding: 'utf8' });
  return { status: r.status, out: r.stdout + r.stderr };
}

function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'segw-deps-'));
  for (const [path, text] of Object.entries(files)) {
    const p = join(root, 'src', path);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, text);
  }
  return root;
}

const clean = {
  'net/endpoint.ts': 'export interface Endpoint { address: string; port: number }\n',
  'kernel/types.ts': "import type { Endpoint } from '../net/endpoint.js';\nexport interface KernelIpsec { peer(): Endpoint }\n",
  'kernel/stub/ipsec.ts': "import type { KernelIpsec } from '../types.js';\nexport const stub = {} as KernelIpsec;\n",
  // Two classes of one folder may name each other's types.
  'ike/sa/ike-sa.ts': "import type { ChildSa } from './child-sa.js';\nexport class IkeSa { children: ChildSa[] = [] }\n",
  'ike/sa/child-sa.ts': "import type { IkeSa } from './ike-sa.js';\nexport class ChildSa { constructor(readonly ike: IkeSa) {} }\n",
  'ike/tasks/task.ts': 'export const Status = { SUCCESS: 1 } as const;\n',
  'ike/tasks/ike-init.ts': "import { IkeSa } from '../sa/ike-sa.js';\nimport type { KernelIpsec } from '../../kernel/types.js';\nexport const make = (k: KernelIpsec) => [new IkeSa(), k];\n",
  'gateway/gateway.ts': "import { make } from '../ike/tasks/ike-init.js';\nimport { stub } from '../kernel/stub/ipsec.js';\nexport const g = make(stub);\n",
};

test('a tree whose imports follow the layers passes', () => {
  const root = tree(clean);
  try {
    const r = run(root);
    assert.equal(r.status, 0, r.out);
    assert.match(r.out, /no cycle, every import follows the layers/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('a runtime import cycle fails, naming the loop', () => {
  const root = tree({
    ...clean,
    'ike/sa/task-manager.ts': "import { IkeSa } from './ike-sa.js';\nexport const tm = () => new IkeSa();\n",
    'ike/sa/ike-sa.ts': "import { tm } from './task-manager.js';\nexport class IkeSa { t = tm }\n",
  });
  try {
    const r = run(root);
    assert.equal(r.status, 1, r.out);
    assert.match(r.out, /import cycle at run time \[no-cycles\]: src\/ike\/sa\/\S+ -> src\/ike\/sa\/\S+ -> src\/ike\/sa\/\S+/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('a cycle across folders through a type-only import fails', () => {
  const root = tree({
    ...clean,
    'ike/sa/ike-sa.ts': "import { type Status } from '../tasks/task.js';\nimport type { Make } from '../tasks/ike-init.js';\nexport class IkeSa { s?: Status; m?: Make }\n",
    'ike/tasks/ike-init.ts': "import { IkeSa } from '../sa/ike-sa.js';\nexport type Make = () => IkeSa;\n",
  });
  try {
    const r = run(root);
    assert.equal(r.status, 1, r.out);
    assert.match(r.out, /\[no-cross-folder-cycles\]/);
    assert.match(r.out, /src\/ike\/sa\/ike-sa\.ts:\d+: imports src\/ike\/tasks\/ike-init\.ts \[ike-sa-below-tasks\]/);
    // The contract module is allowed; the type-only import of it does not count as a load either.
    assert.doesNotMatch(r.out, /imports src\/ike\/tasks\/task\.ts/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('upward imports fail with the rule they break', () => {
  const root = tree({
    ...clean,
    'kernel/userspace/socket.ts': "import type { IkeSa } from '../../ike/sa/ike-sa.js';\nexport type S = IkeSa;\n",
    'vrrp/instance.ts': "import { stub } from '../kernel/stub/ipsec.js';\nexport const v = stub;\n",
    'cluster/drain.ts': "export const d = import('../gateway/gateway.js');\n",
    'net/ip.ts': "import type { KernelIpsec } from '../kernel/types.js';\nexport type K = KernelIpsec;\n",
  });
  try {
    const r = run(root);
    assert.equal(r.status, 1, r.out);
    assert.match(r.out, /src\/kernel\/userspace\/socket\.ts:1: imports src\/ike\/sa\/ike-sa\.ts \[kernel-below-protocols\]/);
    assert.match(r.out, /src\/vrrp\/instance\.ts:1: imports src\/kernel\/stub\/ipsec\.ts \[protocols-use-kernel-interfaces\]/);
    assert.match(r.out, /src\/cluster\/drain\.ts:1: imports src\/gateway\/gateway\.ts \[protocols-below-nodes\]/);
    assert.match(r.out, /src\/net\/ip\.ts:1: imports src\/kernel\/types\.ts \[leaves-stay-leaves\]/);
    assert.match(r.out, /4 import problem\(s\)/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("this repository's src/ passes", () => {
  const r = run();
  assert.equal(r.status, 0, r.out);
});
