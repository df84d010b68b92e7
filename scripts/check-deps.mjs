#!/usr/bin/env node
// segw import-graph check (STYLE habit 9: every import runs one way, down the layers).
//
//   npm run lint:deps                 checks src/ of this checkout
//   node scripts/check-deps.mjs DIR   checks DIR/src (the tests run it on small fixture trees)
//
// It reads every src/**/*.ts with the TypeScript parser (no type checking), resolves the relative
// imports and re-exports (static and dynamic `import()`), and fails (exit 1, one line per finding)
// when:
//   1. the runtime import graph has a cycle. `import type` / `export type` are erased, so they do
//      not count here; `import { type X }` does (verbatimModuleSyntax keeps it as a load);
//   2. the whole graph, type-only imports included, has a cycle that crosses folders (two classes
//      of one folder may name each other's types; two folders may not need each other);
//   3. an import breaks a layer rule below (type-only imports included: a type names a layer too).
//
// The layers, lowest first (a module imports only from its own layer or below):
//   leaves     src/errors.ts, src/log, src/net          import nothing else of segw
//   native     src/native (the addon loader)             only kernel, netlink and lab load it
//   netlink    src/netlink
//   kernel     src/kernel (interfaces in types.ts; xfrm/, userspace/, net/, stub/)
//   protocols  src/ike, src/vrrp, src/cluster            side by side; reach the OS only through
//                                                        the src/kernel/types.ts interfaces
//   config     src/config
//   control    src/control, src/metrics                 side by side (metrics reads the protocols' snapshots)
//   nodes      src/gateway, src/initiator, src/lab
//   cli        src/cli
// and inside src/ike: codec and crypto below sa, sa below tasks (sa sees only the task contract,
// tasks/task.ts; the exchanges are handed in through SaContext.tasks), tasks below daemon.ts.
import { readdirSync, readFileSync, statSync, existsSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';

const root = resolve(process.argv[2] ?? join(import.meta.dirname, '..'));
const srcDir = join(root, 'src');

/** A path relative to src/, with forward slashes. */
const rel = (abs) => relative(srcDir, abs).split(sep).join('/');

const inside = (dir) => (p) => p === dir || p.startsWith(`${dir}/`);
const anyOf = (...dirs) => {
  const tests = dirs.map((d) => (d.endsWith('.ts') ? (p) => p === d : inside(d)));
  return (p) => tests.some((t) => t(p));
};

const LEAVES = anyOf('errors.ts', 'log', 'net');
const PROTOCOLS = anyOf('ike', 'vrrp', 'cluster');
const ABOVE_KERNEL = anyOf('ike', 'vrrp', 'cluster', 'config', 'control', 'metrics', 'gateway', 'initiator', 'lab', 'cli');
/**
 * The kernel layer's interfaces (KernelIpsec, KernelNet and their types): the only files of
 * src/kernel that IKE, VRRP and cluster code may import. A new interface goes into one of these
 * (or its file is added here, with the reason).
 */
const KERNEL_INTERFACES = new Set(['kernel/types.ts']);
const ABOVE_PROTOCOLS = anyOf('config', 'control', 'metrics', 'gateway', 'initiator', 'lab', 'cli');

/** Each rule: which importer it covers, which targets it forbids, and why (printed on a violation). */
export const RULES = [
  {
    name: 'leaves-stay-leaves',
    from: LEAVES,
    to: (p) => !LEAVES(p),
    why: 'src/errors.ts, src/log and src/net are leaves: everything may import them, they import nothing else of segw',
  },
  {
    name: 'addon-only-below',
    from: (p) => !anyOf('kernel', 'netlink', 'lab', 'native')(p),
    to: inside('native'),
    why: 'only src/kernel, src/netlink and src/lab load the addon (CONTRIBUTING.md)',
  },
  {
    name: 'native-below-netlink',
    from: inside('native'),
    to: (p) => !LEAVES(p) && !inside('native')(p),
    why: 'src/native is the addon loader; it sits below netlink and the kernel',
  },
  {
    name: 'netlink-below-kernel',
    from: inside('netlink'),
    to: (p) => !LEAVES(p) && !anyOf('netlink', 'native')(p),
    why: 'src/netlink is a socket and declared messages; the kernel layer builds on it, not the reverse',
  },
  {
    name: 'kernel-below-protocols',
    from: inside('kernel'),
    to: ABOVE_KERNEL,
    why: 'src/kernel implements the KernelIpsec/KernelNet interfaces for the layers above; it never imports them (shared types belong in src/net or src/kernel/types.ts)',
  },
  {
    name: 'protocols-use-kernel-interfaces',
    from: PROTOCOLS,
    to: (p) => anyOf('netlink', 'native')(p) || (inside('kernel')(p) && !KERNEL_INTERFACES.has(p)),
    why: 'IKE, VRRP and cluster code reach the OS only through the kernel interfaces, src/kernel/types.ts (STYLE habit 4); the implementation is handed in',
  },
  {
    name: 'protocols-below-nodes',
    from: PROTOCOLS,
    to: ABOVE_PROTOCOLS,
    why: 'src/ike, src/vrrp and src/cluster sit below config, control, the nodes (gateway, initiator, lab) and the CLI',
  },
  {
    name: 'config-below-control',
    from: inside('config'),
    to: anyOf('control', 'metrics', 'gateway', 'initiator', 'lab', 'cli'),
    why: 'src/config reads and checks configuration; control, the nodes and the CLI use it, not the reverse',
  },
  {
    name: 'control-below-nodes',
    from: inside('control'),
    to: anyOf('gateway', 'initiator', 'lab', 'cli'),
    why: 'src/control serves what a node hands it (ControlTarget); the nodes and the CLI sit above it',
  },
  {
    name: 'metrics-below-nodes',
    from: inside('metrics'),
    to: anyOf('control', 'gateway', 'initiator', 'lab', 'cli'),
    why: 'src/metrics reads snapshots the nodes hand it (addSource); the nodes and the CLI sit above it',
  },
  {
    name: 'cli-on-top',
    from: (p) => !inside('cli')(p),
    to: inside('cli'),
    why: 'src/cli is the top layer: nothing imports it',
  },
  {
    name: 'ike-codec-crypto-below-sa',
    from: anyOf('ike/codec', 'ike/crypto', 'ike/redirect'),
    to: anyOf('ike/sa', 'ike/tasks', 'ike/daemon.ts'),
    why: 'the IKE codec, crypto and redirect decisions sit below the SA layer and the exchanges',
  },
  {
    name: 'ike-sa-below-tasks',
    from: inside('ike/sa'),
    to: (p) => (inside('ike/tasks')(p) && p !== 'ike/tasks/task.ts') || p === 'ike/daemon.ts',
    why: 'src/ike/sa runs tasks but never names one: it sees the contract (tasks/task.ts) and gets the exchanges through SaContext.tasks',
  },
  {
    name: 'ike-tasks-below-daemon',
    from: inside('ike/tasks'),
    to: (p) => p === 'ike/daemon.ts',
    why: 'the exchanges do not know the daemon; it hands them what they need through SaContext',
  },
];

function listTs(dir) {
  return readdirSync(dir).sort().flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return listTs(p);
    return name.endsWith('.ts') && !name.endsWith('.d.ts') ? [p] : [];
  });
}

/** The relative imports of one file: { target (abs), typeOnly, line }. */
function importsOf(file) {
  const text = readFileSync(file, 'utf8');
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const out = [];
  const add = (spec, typeOnly, node) => {
    if (!spec.startsWith('.')) return;
    let target = resolve(dirname(file), spec);
    if (target.endsWith('.js')) target = `${target.slice(0, -3)}.ts`;
    else if (!target.endsWith('.ts')) target = existsSync(`${target}.ts`) ? `${target}.ts` : join(target, 'index.ts');
    out.push({ target, typeOnly, line: sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1 });
  };
  const visit = (node) => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      add(node.moduleSpecifier.text, node.importClause?.isTypeOnly === true, node);
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      add(node.moduleSpecifier.text, node.isTypeOnly, node);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      add(node.argument.literal.text, true, node);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && node.arguments[0] && ts.isStringLiteral(node.arguments[0])) {
      add(node.arguments[0].text, false, node);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

/** Strongly connected components with more than one module, or a module importing itself (Tarjan). */
function cycles(nodes, edgesOf) {
  let index = 0;
  const idx = new Map();
  const low = new Map();
  const stack = [];
  const onStack = new Set();
  const found = [];
  const strong = (v) => {
    idx.set(v, index);
    low.set(v, index);
    index++;
    stack.push(v);
    onStack.add(v);
    for (const w of edgesOf(v)) {
      if (!idx.has(w)) {
        strong(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v), idx.get(w)));
      }
    }
    if (low.get(v) === idx.get(v)) {
      const scc = [];
      let w;
      do {
        w = stack.pop();
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || edgesOf(v).includes(v)) found.push(scc.sort());
    }
  };
  for (const v of nodes) if (!idx.has(v)) strong(v);
  return found;
}

/**
 * One concrete loop through an SCC, for the message: a -> b -> ... -> a. With `crossing`, the
 * loop goes through an edge that leaves its folder (so it shows why folders need each other).
 */
function loopIn(scc, edgesOf, crossing) {
  const set = new Set(scc);
  let from = scc[0];
  let to;
  if (crossing) {
    outer: for (const u of scc) {
      for (const w of edgesOf(u)) {
        if (set.has(w) && crossing(u, w)) {
          from = u;
          to = w;
          break outer;
        }
      }
    }
  }
  // Shortest path from `to` (or any successor of `from`) back to `from`, breadth first.
  const starts = to ? [to] : edgesOf(from).filter((w) => set.has(w));
  const prev = new Map(starts.map((w) => [w, from]));
  const queue = [...starts];
  while (queue.length) {
    const v = queue.shift();
    if (v === from) {
      const path = [];
      for (let p = prev.get(v); p !== from; p = prev.get(p)) path.unshift(p);
      return [from, ...path, from];
    }
    for (const w of edgesOf(v)) {
      if (set.has(w) && !prev.has(w)) {
        prev.set(w, v);
        queue.push(w);
      }
    }
  }
  return [...scc, scc[0]];
}

/** The whole strongly connected set, when it is larger than the one loop shown. */
function members(scc) {
  return scc.length > 2 ? ` (${scc.length} modules need each other: ${scc.map((m) => `src/${m}`).join(', ')})` : '';
}

export function check() {
  if (!existsSync(srcDir)) throw new Error(`no src/ under ${root}`);
  const files = listTs(srcDir).map(rel);
  const all = new Map();
  const runtime = new Map();
  const problems = [];
  for (const f of files) {
    const imps = importsOf(join(srcDir, f));
    all.set(f, [...new Set(imps.map((i) => rel(i.target)))]);
    runtime.set(f, [...new Set(imps.filter((i) => !i.typeOnly).map((i) => rel(i.target)))]);
    for (const i of imps) {
      const to = rel(i.target);
      if (!existsSync(i.target)) {
        problems.push(`src/${f}:${i.line}: imports src/${to}, which does not exist`);
        continue;
      }
      for (const r of RULES) {
        if (r.from(f) && r.to(to)) problems.push(`src/${f}:${i.line}: imports src/${to} [${r.name}]: ${r.why}`);
      }
    }
  }
  const known = (m) => (v) => (m.get(v) ?? []).filter((w) => m.has(w));
  for (const scc of cycles(files, known(runtime))) {
    problems.push(`import cycle at run time [no-cycles]: ${loopIn(scc, known(runtime)).map((m) => `src/${m}`).join(' -> ')}${members(scc)}`);
  }
  const folder = (m) => m.slice(0, m.lastIndexOf('/') + 1);
  for (const scc of cycles(files, known(all))) {
    if (new Set(scc.map(folder)).size <= 1) continue;
    const crossing = (u, w) => folder(u) !== folder(w);
    problems.push(`import cycle across folders (type imports included) [no-cross-folder-cycles]: ${loopIn(scc, known(all), crossing).map((m) => `src/${m}`).join(' -> ')}${members(scc)}`);
  }
  return { files: files.length, problems };
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('check-deps.mjs')) {
  const { files, problems } = check();
  for (const p of problems) console.error(p);
  if (problems.length > 0) {
    console.error(`check-deps: ${problems.length} import problem(s) in ${files} modules under ${relative(process.cwd(), srcDir) || 'src'}`);
    process.exit(1);
  }
  console.log(`check-deps: ${files} modules under ${relative(process.cwd(), srcDir) || 'src'}: no cycle, every import follows the layers`);
}
