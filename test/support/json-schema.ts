/**
 * A small JSON Schema (2020-12) checker for the keywords src/config/json-schema.ts emits: type,
 * enum, pattern, minLength, minimum, exclusiveMinimum, maximum, minItems, maxItems, items,
 * properties, required, additionalProperties, propertyNames, anyOf, format ipv4/ipv6. An
 * unknown keyword is an error, so a new kind of fragment cannot pass unchecked.
 */
import { isIP } from 'node:net';

type Schema = Record<string, unknown>;

const ANNOTATIONS = new Set(['$schema', '$id', 'title', 'description', 'default']);
const KNOWN = new Set([
  'type', 'enum', 'pattern', 'minLength', 'minimum', 'exclusiveMinimum', 'maximum', 'minItems', 'maxItems', 'items',
  'properties', 'required', 'additionalProperties', 'propertyNames', 'anyOf', 'format',
]);

function typeOf(v: unknown): string {
  if (Array.isArray(v)) return 'array';
  if (v === null) return 'null';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

/** Errors as `path: what`; empty when `v` is valid. */
export function validate(s: Schema, v: unknown, path = ''): string[] {
  const errs: string[] = [];
  const at = path || '(top level)';
  for (const k of Object.keys(s)) if (!KNOWN.has(k) && !ANNOTATIONS.has(k)) errs.push(`${at}: schema keyword ${k} not supported by this checker`);
  if (s.type !== undefined) {
    const types = Array.isArray(s.type) ? (s.type as string[]) : [s.type as string];
    const t = typeOf(v);
    if (!types.includes(t) && !(t === 'integer' && types.includes('number'))) return [...errs, `${at}: expected ${types.join('|')}, got ${t}`];
  }
  if (s.enum && !(s.enum as unknown[]).includes(v)) errs.push(`${at}: not one of ${JSON.stringify(s.enum)}`);
  if (typeof v === 'string') {
    if (s.pattern && !new RegExp(s.pattern as string, 'u').test(v)) errs.push(`${at}: ${JSON.stringify(v)} does not match ${s.pattern}`);
    if (s.minLength !== undefined && v.length < (s.minLength as number)) errs.push(`${at}: shorter than ${s.minLength}`);
    if (s.format === 'ipv4' && isIP(v) !== 4) errs.push(`${at}: not ipv4`);
    if (s.format === 'ipv6' && isIP(v) !== 6) errs.push(`${at}: not ipv6`);
  }
  if (typeof v === 'number') {
    if (s.minimum !== undefined && v < (s.minimum as number)) errs.push(`${at}: below ${s.minimum}`);
    if (s.exclusiveMinimum !== undefined && v <= (s.exclusiveMinimum as number)) errs.push(`${at}: not above ${s.exclusiveMinimum}`);
    if (s.maximum !== undefined && v > (s.maximum as number)) errs.push(`${at}: above ${s.maximum}`);
  }
  if (Array.isArray(v)) {
    if (s.minItems !== undefined && v.length < (s.minItems as number)) errs.push(`${at}: fewer than ${s.minItems} items`);
    if (s.maxItems !== undefined && v.length > (s.maxItems as number)) errs.push(`${at}: more than ${s.maxItems} items`);
    if (s.items) v.forEach((x, i) => errs.push(...validate(s.items as Schema, x, `${path}[${i}]`)));
  }
  if (typeOf(v) === 'object') {
    const o = v as Record<string, unknown>;
    const props = (s.properties ?? {}) as Record<string, Schema>;
    for (const r of (s.required ?? []) as string[]) if (!(r in o)) errs.push(`${at}: missing ${r}`);
    for (const [k, x] of Object.entries(o)) {
      const p = path ? `${path}.${k}` : k;
      if (s.propertyNames) errs.push(...validate(s.propertyNames as Schema, k, `${p} (name)`));
      if (k in props) errs.push(...validate(props[k]!, x, p));
      else if (s.additionalProperties === false) errs.push(`${p}: unknown key`);
      else if (typeof s.additionalProperties === 'object') errs.push(...validate(s.additionalProperties as Schema, x, p));
    }
  }
  if (s.anyOf) {
    const branches = (s.anyOf as Schema[]).map((b) => validate(b, v, path));
    if (!branches.some((b) => b.length === 0)) errs.push(`${at}: matches no alternative (${branches.map((b) => b[0]).join('; ')})`);
  }
  return errs;
}
