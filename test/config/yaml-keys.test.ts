/**
 * Mapping keys that are not names (found by the config fuzz target, test/fuzz/targets/config.ts):
 * YAML allows a mapping, a sequence, nothing, or quoted text with line breaks as a key; the
 * loader used to pass them on as text, so a mapping key came back in "unknown key" as its own
 * YAML, comments and line breaks included. Now each is refused where it is written.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseYamlText } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';

const refused: [string, string, string][] = [
  // [what, YAML, expected message]
  ['an explicit mapping key (the finding)', 'control:\n  enabled: true\n? socket: /run/x.sock  # a comment\n                      # another\n', 'gw.yaml:3:3: a key must be a name on one line, not a mapping'],
  ['a flow mapping as key', 'node: { name: gw1 }\n{ socket: /run/x.sock }: 1\n', 'gw.yaml:2:1: a key must be a name on one line, not a mapping'],
  ['an explicit sequence key', 'node:\n  ? [a, b]\n  : 1\n', 'gw.yaml:2:5: a key must be a name on one line, not a sequence'],
  ['an empty key', 'node:\n  : gw1\n', 'gw.yaml:2:3: a key must be a name on one line, not empty'],
  ['a quoted key with a line break', 'node:\n  "na\\nme": gw1\n', 'gw.yaml:2:3: a key must be a name on one line, not text with a line break'],
];

for (const [what, yaml, message] of refused) {
  test(`config keys: ${what} is refused at its line and column`, () => {
    assert.throws(
      () => parseYamlText(yaml, 'gw.yaml'),
      (err: unknown) => err instanceof ConfigError && err.message === message,
    );
  });
}

test('config keys: names, numbers used as names and quoted names still load', () => {
  const data = parseYamlText('node:\n  name: gw1\n  100: x\n  "quoted name": y\n', 'gw.yaml') as Record<string, Record<string, unknown>>;
  assert.deepEqual(data.node, { name: 'gw1', 100: 'x', 'quoted name': 'y' });
});
