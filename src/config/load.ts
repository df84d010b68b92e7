/**
 * Reads a YAML config file into plain data; syntax errors name the file, line and column, and so
 * do validation errors (ConfigKeyError): `gw.yaml:12:5: connections.bs.remote.auth: ...`.
 */
import { readFileSync } from 'node:fs';
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, visit, type Document, type Node } from 'yaml';
import { ConfigError } from '../errors.js';
import { ConfigKeyError } from './schema.js';

export interface YamlFile {
  data: unknown;
  /** 1-based line and column of the key at `key` (`connections.bs.remote.auth`, `esp[1]`), or of its nearest existing parent. */
  locate(key: string): { line: number; col: number } | undefined;
}

export function readYaml(path: string): unknown {
  return readYamlFile(path).data;
}

export function readYamlFile(path: string): YamlFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config ${path}: ${(err as Error).message}`, { cause: err });
  }
  return parseYamlFile(text, path);
}

/** The YAML text of config file `path` as plain data (readYaml without the read; fuzzed alone). */
export function parseYamlText(text: string, path: string): unknown {
  return parseYamlFile(text, path).data;
}

function parseYamlFile(text: string, path: string): YamlFile {
  const lines = new LineCounter();
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true, lineCounter: lines });
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    const where = e.linePos ? `:${e.linePos[0].line}:${e.linePos[0].col}` : '';
    throw new ConfigError(`${path}${where}: ${e.message.split('\n')[0]}`);
  }
  checkKeys(doc, lines, path);
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    // An alias to an undefined anchor, or one expanding past maxAliasCount (the yaml library
    // throws ReferenceError for both; found by test/fuzz/targets/config.ts).
    throw new ConfigError(`${path}: ${(err as Error).message.split('\n')[0]}`, { cause: err });
  }
  if (data === null || data === undefined) throw new ConfigError(`${path}: the file is empty`);
  return {
    data,
    locate(key) {
      const offset = offsetOf(doc, key);
      return offset === undefined ? undefined : lines.linePos(offset);
    },
  };
}

/**
 * Every mapping key must be a name on one line: YAML also allows a mapping or a sequence as a
 * key (`? {a: 1}`, `{x: y}: z`), an empty one, or a quoted key with line breaks. No segw key is
 * any of those, and the library would turn them into text (a mapping key becomes its own YAML,
 * lines and comments included) that makes an "unknown key" error unreadable. Found by
 * test/fuzz/targets/config.ts.
 */
function checkKeys(doc: Document, lines: LineCounter, path: string): void {
  visit(doc, {
    Pair(_, pair) {
      const k = pair.key as Node | null;
      const what = isMap(k)
        ? 'a mapping'
        : isSeq(k)
          ? 'a sequence'
          : !isScalar(k) || k.value === null || k.value === ''
            ? 'empty'
            : typeof k.value === 'string' && /[\r\n]/.test(k.value)
              ? 'text with a line break'
              : undefined;
      if (what === undefined) return;
      // A block mapping's range starts after its first key: point at that key instead.
      const first = (isMap(k) || isSeq(k)) && !k.flow ? ((isMap(k) ? k.items[0]?.key : k.items[0]) as Node | null | undefined) : undefined;
      const offset = first?.range?.[0] ?? k?.range?.[0] ?? (pair.value as Node | null)?.range?.[0];
      const at = offset === undefined ? undefined : lines.linePos(offset);
      throw new ConfigError(`${path}${at ? `:${at.line}:${at.col}` : ''}: a key must be a name on one line, not ${what}`);
    },
  });
}

/**
 * Runs `fn` (validation of the file's data); a ConfigKeyError from it is rethrown with the
 * file's name, line and column in front: `gw.yaml:12:5: connections.bs.remote.auth: ...`.
 */
export function withLocation<T>(file: string, yaml: YamlFile, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (!(err instanceof ConfigKeyError)) throw err;
    const at = yaml.locate(err.key);
    const where = at ? `${file}:${at.line}:${at.col}` : file;
    throw new LocatedConfigError(`${where}: ${err.message}`, err, file, at);
  }
}

/** A validation error with where it is in the file (for editors and CI annotations). */
export class LocatedConfigError extends ConfigKeyError {
  constructor(
    message: string,
    inner: ConfigKeyError,
    readonly file: string,
    readonly position: { line: number; col: number } | undefined,
  ) {
    super(inner.key, inner.detail, { cause: inner.cause });
    this.message = message;
  }
}

/**
 * The source offset for a key path. Names may contain dots (`connections.bs.1`), so at each
 * mapping the longest key that prefixes the rest of the path wins. A key that is absent (a
 * required key missing) points at the deepest mapping that exists.
 */
function offsetOf(doc: Document, key: string): number | undefined {
  let node: unknown = doc.contents;
  let at = (doc.contents as Node | null)?.range?.[0];
  let rest = key;
  while (rest !== '') {
    const idx = /^\[(\d+)\]\.?/.exec(rest);
    if (idx) {
      if (!isSeq(node)) return at;
      const item = node.items[Number(idx[1])] as Node | undefined;
      if (!item) return at;
      node = item;
      at = item.range?.[0] ?? at;
      rest = rest.slice(idx[0].length);
      continue;
    }
    if (!isMap(node)) return at;
    let best: { pair: (typeof node.items)[number]; len: number } | undefined;
    for (const pair of node.items) {
      const k = isScalar(pair.key) ? String(pair.key.value) : undefined;
      if (k === undefined || !rest.startsWith(k)) continue;
      const next = rest[k.length];
      if ((next === undefined || next === '.' || next === '[') && (!best || k.length > best.len)) best = { pair, len: k.length };
    }
    if (!best || !isPair(best.pair)) return at;
    at = (best.pair.key as Node | null)?.range?.[0] ?? at;
    node = best.pair.value;
    rest = rest.slice(best.len).replace(/^\./, '');
  }
  return at;
}
