/** Reads a YAML config file into plain data; syntax errors name the file, line and column. */
import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { ConfigError } from '../errors.js';

export function readYaml(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config ${path}: ${(err as Error).message}`, { cause: err });
  }
  return parseYamlText(text, path);
}

/** The YAML text of config file `path` as plain data (readYaml without the read; fuzzed alone). */
export function parseYamlText(text: string, path: string): unknown {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    const where = e.linePos ? `:${e.linePos[0].line}:${e.linePos[0].col}` : '';
    throw new ConfigError(`${path}${where}: ${e.message.split('\n')[0]}`);
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    // An alias to an undefined anchor, or one expanding past maxAliasCount (the yaml library
    // throws ReferenceError for both; found by test/fuzz/targets/config.ts).
    throw new ConfigError(`${path}: ${(err as Error).message.split('\n')[0]}`, { cause: err });
  }
  if (data === null || data === undefined) throw new ConfigError(`${path}: the file is empty`);
  return data;
}
