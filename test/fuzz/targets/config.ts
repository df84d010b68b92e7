/**
 * The gateway config loader (src/config) on YAML text: the outcome is either a valid config or
 * a ConfigError whose message starts with where the problem is (file:line:col for YAML syntax,
 * the key path such as `connections.gw.children.lte.localTs[0]` for a bad value); any other
 * exception is a defect. Files a config names (PSK files, certificates) are resolved against a
 * directory that does not exist, so no input reads this machine's files by a relative name.
 */
import { ConfigError } from '../../../src/errors.js';
import { parseGatewayConfig } from '../../../src/config/gateway.js';
import { parseYamlText } from '../../../src/config/load.js';
import { invariant, type FuzzTarget } from '../registry.js';

const FILE = '/nonexistent/segw-fuzz/gateway.yaml';
// "WHERE: what", WHERE being the file, the file with line and column, a key path, or
// "(top level)"; never an empty or absent location. A key path is printed as the keys are
// written, so it may start with any character the YAML key has (even a form feed).
const LOCATED = /^[^\n]+?: \S/;

export const target: FuzzTarget = {
  name: 'config',
  input: 'a gateway config file (YAML text, UTF-8)',
  text: true,
  fuzz(data) {
    const text = data.toString('utf8');
    let cfg;
    try {
      cfg = parseGatewayConfig(parseYamlText(text, FILE), FILE);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      invariant(LOCATED.test(err.message), `ConfigError without a location: ${JSON.stringify(err.message.slice(0, 200))}`);
      return;
    }
    invariant(cfg.connections.length > 0, 'a valid config without connections');
    for (const c of cfg.connections) invariant(c.name.length > 0 && c.children !== undefined, 'a connection without a name or children');
  },
};
