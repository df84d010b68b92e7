/**
 * The published configuration schema and reference are generated from the validator's own
 * definitions and committed: the committed files equal what the definitions generate now, the
 * examples validate against the schema (and against the validator), every key's schema says
 * what it accepts, and the schema refuses what the validator refuses (unknown keys, wrong types).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { generated } from '../../scripts/config-docs.js';
import { gatewayJsonSchema, referenceKeys } from '../../src/config/json-schema.js';
import { KEY_HELP } from '../../src/config/key-help.js';
import { loadGatewayConfig } from '../../src/config/gateway.js';
import { validate } from '../support/json-schema.js';

const REPO = resolve(import.meta.dirname, '..', '..');
const schema = gatewayJsonSchema();

test('docs/config.schema.json and docs/configuration.md are current (node --import tsx scripts/config-docs.ts)', () => {
  for (const [name, text] of Object.entries(generated())) {
    assert.equal(readFileSync(join(REPO, 'docs', name), 'utf8'), text, `docs/${name} is not current: run node --import tsx scripts/config-docs.ts`);
  }
});

test('every example gateway config validates against the schema and loads', () => {
  // Gateway files only: simulate.yaml is a `segw basestation --simulate` file (its own loader).
  const examples = readdirSync(join(REPO, 'examples')).filter((f) => f.endsWith('.yaml') && f !== 'simulate.yaml');
  assert.ok(examples.length >= 2);
  for (const f of examples) {
    const data: unknown = parse(readFileSync(join(REPO, 'examples', f), 'utf8'));
    assert.deepEqual(validate(schema, data), [], `examples/${f}`);
    loadGatewayConfig(join(REPO, 'examples', f));
  }
});

test('every key in the schema says what it accepts (a type, an enum or alternatives), not only a description', () => {
  const vague: string[] = [];
  const walk = (s: Record<string, unknown>, path: string, typed = false) => {
    if (!typed && s.type === undefined && s.enum === undefined && s.anyOf === undefined) vague.push(path);
    for (const [k, sub] of Object.entries((s.properties ?? {}) as Record<string, Record<string, unknown>>)) walk(sub, `${path}.${k}`);
    if (typeof s.additionalProperties === 'object') walk(s.additionalProperties as Record<string, unknown>, `${path}.<name>`);
    if (typeof s.items === 'object') walk(s.items as Record<string, unknown>, `${path}[]`);
    // Alternatives under a typed node narrow it (`format: ipv4`); they need no type of their own.
    for (const alt of (s.anyOf ?? []) as Record<string, unknown>[]) walk(alt, path, s.type !== undefined);
  };
  walk(schema, '');
  assert.deepEqual(vague, [], 'hand-written Fields need a jsonSchema');
});

test('the schema refuses what the validator refuses: unknown keys, wrong types, bad enums, missing keys', () => {
  const ok = parse(readFileSync(join(REPO, 'examples', 'gateway-psk.yaml'), 'utf8')) as Record<string, Record<string, unknown>>;
  const cases: [string, (d: Record<string, Record<string, unknown>>) => void, RegExp][] = [
    ['unknown key', (d) => (d.ike!.lsiten = ['192.0.2.1']), /^ike\.lsiten: unknown key/],
    ['wrong type', (d) => (d.ike!.port = 'five hundred'), /^ike\.port: expected integer/],
    ['bad enum', (d) => (d.kernel = { ipsec: 'esp' }), /^kernel\.ipsec: not one of/],
    ['missing key', (d) => delete d.node, /missing node/],
    ['bad address', (d) => (d.ike!.listen = ['192.0.2.300']), /^ike\.listen/],
  ];
  for (const [what, change, re] of cases) {
    const d = structuredClone(ok);
    change(d);
    const errs = validate(schema, d);
    assert.ok(errs.some((e) => re.test(e)), `${what}: ${JSON.stringify(errs)}`);
  }
});

test('every key help text names a key the validator has (a renamed key leaves no stale text)', () => {
  const keys = new Set(referenceKeys());
  assert.ok(keys.has('connections.<name>.children.<name>.espProposals') && keys.has('addresses[].dev'));
  assert.deepEqual(Object.keys(KEY_HELP).filter((k) => !keys.has(k)), []);
});
