/**
 * A small declarative validator for configuration files: each field is a `Field<T>` that turns
 * parsed YAML into a typed value or throws ConfigError naming the exact path
 * (`connections.bs.children.s1.esp[1]`) and what would be accepted. Unknown keys are errors
 * (with a suggestion), because a misspelt key silently ignored is how gateways get
 * misconfigured.
 */
import { isIP } from 'node:net';
import { ConfigError } from '../errors.js';

/** A JSON Schema (draft 2020-12) fragment. */
export type JsonSchema = Record<string, unknown>;

export interface Field<T> {
  readonly describe: string;
  /** Set by optional(): the key may be absent. */
  readonly optional?: boolean;
  /**
   * The JSON Schema of what parse() accepts, made by the same combinator (so the published
   * schema, docs/config.schema.json, cannot drift from the validator). A hand-written Field
   * without one is published as `{ description }` only (test/config/schema-json.test.ts lists them).
   */
  readonly jsonSchema?: JsonSchema;
  /** The default optional() fills in (for the schema and docs). */
  readonly dflt?: unknown;
  parse(value: unknown, path: string): T;
}

/**
 * A ConfigError at a key: `key` is the path (`connections.bs.remote.auth`), `detail` what is
 * wrong. The loader (load.ts) adds the file, line and column of the key.
 */
export class ConfigKeyError extends ConfigError {
  constructor(
    readonly key: string,
    readonly detail: string,
    options?: { cause?: unknown },
  ) {
    super(`${key || '(top level)'}: ${detail}`, options);
    this.name = 'ConfigError'; // what users and scripts see; `code` stays SEGW_CONFIG
  }
}

function fail(path: string, msg: string): never {
  throw new ConfigKeyError(path, msg);
}

/** The JSON Schema of a field (with its description). */
export function jsonSchemaOf(f: Field<unknown>): JsonSchema {
  return { description: f.describe, ...(f.jsonSchema ?? {}) };
}

function show(v: unknown): string {
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

export function str(opts: { pattern?: RegExp; hint?: string; nonEmpty?: boolean } = {}): Field<string> {
  return {
    describe: opts.hint ?? 'a string',
    // Numbers are taken as strings too (YAML reads `name: 1234` as a number).
    jsonSchema: {
      type: ['string', 'number'],
      ...((opts.nonEmpty ?? true) && { minLength: 1 }),
      ...(opts.pattern && { pattern: opts.pattern.source }),
    },
    parse(v, path) {
      if (typeof v === 'number') v = String(v);
      if (typeof v !== 'string') fail(path, `expected ${this.describe}, got ${show(v)}`);
      if ((opts.nonEmpty ?? true) && v === '') fail(path, 'must not be empty');
      if (opts.pattern && !opts.pattern.test(v)) fail(path, `expected ${this.describe}, got ${show(v)}`);
      return v;
    },
  };
}

export function num(opts: { min?: number; max?: number; integer?: boolean } = {}): Field<number> {
  const range = `${opts.min ?? '-inf'}..${opts.max ?? 'inf'}`;
  return {
    describe: `${opts.integer ? 'an integer' : 'a number'} in ${range}`,
    jsonSchema: {
      type: opts.integer ? 'integer' : 'number',
      ...(opts.min !== undefined && { minimum: opts.min }),
      ...(opts.max !== undefined && { maximum: opts.max }),
    },
    parse(v, path) {
      if (typeof v !== 'number' || Number.isNaN(v)) fail(path, `expected ${this.describe}, got ${show(v)}`);
      if (opts.integer && !Number.isInteger(v)) fail(path, `expected ${this.describe}, got ${v}`);
      if ((opts.min !== undefined && v < opts.min) || (opts.max !== undefined && v > opts.max)) {
        fail(path, `${v} is outside ${range}`);
      }
      return v;
    },
  };
}

export function bool(): Field<boolean> {
  return {
    describe: 'true or false',
    jsonSchema: { type: 'boolean' },
    parse(v, path) {
      if (typeof v !== 'boolean') fail(path, `expected true or false, got ${show(v)}`);
      return v;
    },
  };
}

export function oneOf<const T extends string>(values: readonly T[]): Field<T> {
  return {
    describe: `one of ${values.join(', ')}`,
    jsonSchema: { enum: [...values] },
    parse(v, path) {
      if (typeof v !== 'string' || !values.includes(v as T)) fail(path, `expected ${this.describe}, got ${show(v)}`);
      return v as T;
    },
  };
}

const UNITS: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 };

/** A duration in seconds: a number (seconds) or "500ms", "30s", "5m", "4h", "1d". */
export function duration(opts: { min?: number; max?: number } = {}): Field<number> {
  return {
    describe: 'a duration (seconds, or like "30s", "5m", "4h", "500ms")',
    jsonSchema: {
      anyOf: [
        { type: 'number', minimum: opts.min ?? 0, ...(opts.max !== undefined && { maximum: opts.max }) },
        { type: 'string', pattern: '^\\s*\\d+(\\.\\d+)?(ms|s|m|h|d)\\s*$' },
      ],
    },
    parse(v, path) {
      let secs: number;
      if (typeof v === 'number') secs = v;
      else if (typeof v === 'string' && /^\d+(\.\d+)?(ms|s|m|h|d)$/.test(v.trim())) {
        const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(v.trim())!;
        secs = Number(m[1]) * UNITS[m[2]];
      } else fail(path, `expected ${this.describe}, got ${show(v)}`);
      if (secs < (opts.min ?? 0) || (opts.max !== undefined && secs > opts.max)) {
        fail(path, `${show(v)} is outside ${opts.min ?? 0}..${opts.max ?? 'inf'} seconds`);
      }
      return secs;
    },
  };
}

export function ipAddress(family?: 4 | 6): Field<string> {
  return {
    describe: family ? `an IPv${family} address` : 'an IP address',
    jsonSchema: family === 4 ? { type: 'string', format: 'ipv4' } : family === 6 ? { type: 'string', format: 'ipv6' } : { type: 'string', anyOf: [{ format: 'ipv4' }, { format: 'ipv6' }] },
    parse(v, path) {
      if (typeof v !== 'string' || !isIP(v) || (family && isIP(v) !== family)) {
        fail(path, `expected ${this.describe}, got ${show(v)}`);
      }
      return v;
    },
  };
}

/** "203.0.113.10/24" or "2001:db8::1/64". */
export function cidr(): Field<string> {
  return {
    describe: 'an address with prefix length, like 203.0.113.10/24',
    jsonSchema: { type: 'string', pattern: '^[0-9A-Fa-f:.]+/[0-9]{1,3}$' },
    parse(v, path) {
      if (typeof v !== 'string') fail(path, `expected ${this.describe}, got ${show(v)}`);
      const [a, l, extra] = v.split('/');
      const fam = isIP(a);
      const len = Number(l);
      if (!fam || extra !== undefined || l === undefined || !Number.isInteger(len) || len < 0 || len > (fam === 4 ? 32 : 128)) {
        fail(path, `expected ${this.describe}, got ${show(v)}`);
      }
      return v;
    },
  };
}

export function list<T>(item: Field<T>, opts: { min?: number; max?: number; single?: boolean } = {}): Field<T[]> {
  return {
    describe: `a list of ${item.describe}`,
    get jsonSchema(): JsonSchema {
      const arr: JsonSchema = {
        type: 'array',
        items: jsonSchemaOf(item),
        ...(opts.min !== undefined && { minItems: opts.min }),
        ...(opts.max !== undefined && { maxItems: opts.max }),
      };
      // A single value is taken as a one-entry list.
      return opts.single ? { anyOf: [arr, jsonSchemaOf(item)] } : arr;
    },
    parse(v, path) {
      // A single value where a list is expected is accepted when `single` (e.g. one proposal).
      if (!Array.isArray(v)) {
        if (opts.single && v !== undefined && v !== null) v = [v];
        else fail(path, `expected ${this.describe}, got ${show(v)}`);
      }
      const arr = v as unknown[];
      if (opts.min !== undefined && arr.length < opts.min) fail(path, `needs at least ${opts.min} entries`);
      if (opts.max !== undefined && arr.length > opts.max) fail(path, `takes at most ${opts.max} entries`);
      return arr.map((x, i) => item.parse(x, `${path}[${i}]`));
    },
  };
}

type Shape = Record<string, Field<unknown>>;
type Parsed<S extends Shape> = { [K in keyof S]: S[K] extends Field<infer T> ? T : never };

/** Marks a field optional (the key may be absent); `dflt` fills it in. */
export function optional<T>(f: Field<T>): Field<T | undefined>;
export function optional<T>(f: Field<T>, dflt: T): Field<T>;
export function optional<T>(f: Field<T>, dflt?: T): Field<T | undefined> {
  return {
    describe: f.describe,
    optional: true,
    jsonSchema: { ...f.jsonSchema, ...(dflt !== undefined && !(dflt instanceof Map) && { default: dflt }) },
    dflt,
    parse(v, path) {
      return v === undefined || v === null ? dflt : f.parse(v, path);
    },
  };
}

function closest(key: string, keys: string[]): string | undefined {
  let best: string | undefined;
  let bestD = Math.max(2, Math.floor(key.length / 3)) + 1;
  for (const k of keys) {
    const d = editDistance(key.toLowerCase(), k.toLowerCase());
    if (d < bestD) {
      best = k;
      bestD = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length];
}

/** An object with exactly these keys (unknown keys are errors). Missing keys are errors unless optional(). */
export function obj<S extends Shape>(shape: S): Field<Parsed<S>> {
  return {
    describe: 'a mapping',
    get jsonSchema(): JsonSchema {
      const keys = Object.keys(shape);
      return {
        type: 'object',
        properties: Object.fromEntries(keys.map((k) => [k, jsonSchemaOf(shape[k])])),
        required: keys.filter((k) => !shape[k].optional),
        additionalProperties: false,
      };
    },
    parse(v, path) {
      if (v === null || typeof v !== 'object' || Array.isArray(v)) fail(path, `expected a mapping, got ${show(v)}`);
      const input = v as Record<string, unknown>;
      const keys = Object.keys(shape);
      for (const k of Object.keys(input)) {
        if (!(k in shape)) {
          const hint = closest(k, keys);
          fail(join(path, k), `unknown key${hint ? ` (did you mean "${hint}"?)` : ''}; allowed: ${keys.join(', ')}`);
        }
      }
      const out: Record<string, unknown> = {};
      for (const k of keys) {
        const val = input[k];
        const p = join(path, k);
        if ((val === undefined || val === null) && !shape[k].optional) fail(p, `is required (${shape[k].describe})`);
        const parsed = shape[k].parse(val, p);
        if (parsed !== undefined) out[k] = parsed;
      }
      return out as Parsed<S>;
    },
  };
}

/** A mapping of user-chosen names to values (e.g. connections by name). */
export function dict<T>(item: Field<T>, opts: { keyPattern?: RegExp } = {}): Field<Map<string, T>> {
  return {
    describe: `a mapping of names to ${item.describe}`,
    get jsonSchema(): JsonSchema {
      return {
        type: 'object',
        ...(opts.keyPattern && { propertyNames: { pattern: opts.keyPattern.source } }),
        additionalProperties: jsonSchemaOf(item),
      };
    },
    parse(v, path) {
      if (v === null || typeof v !== 'object' || Array.isArray(v)) fail(path, `expected ${this.describe}, got ${show(v)}`);
      const out = new Map<string, T>();
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
        if (opts.keyPattern && !opts.keyPattern.test(k)) fail(join(path, k), `bad name (allowed: ${opts.keyPattern.source})`);
        out.set(k, item.parse(x, join(path, k)));
      }
      return out;
    },
  };
}

/** Maps a parsed value (for cross-field checks or conversions); errors keep the path. */
export function map<A, B>(f: Field<A>, fn: (a: A, path: string) => B): Field<B> {
  return {
    describe: f.describe,
    optional: f.optional,
    get jsonSchema() {
      return f.jsonSchema;
    },
    parse(v, path) {
      return fn(f.parse(v, path), path);
    },
  };
}

function join(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

/** Throws a ConfigError at `path` (for checks in map()). */
export function configFail(path: string, msg: string): never {
  fail(path, msg);
}
