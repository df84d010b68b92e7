/**
 * The `segw` command line.
 *
 *   segw gateway --config FILE.yaml [--check]      run a gateway daemon (or only validate)
 *   segw basestation --config FILE.yaml [--check]  run a base-station initiator
 *   segw vrrp --config FILE.yaml [--check]         run one VRRP instance (cluster.vrrp options)
 *   segw ctl [--socket PATH | --node NAME] METHOD [JSON]   ask a running daemon (control socket)
 *   segw demo                                       a demo in network namespaces (root)
 *   segw version
 *
 * Exit codes: 0 ok, 1 runtime failure, 2 usage or configuration error.
 */
import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import { SegwError, ConfigError } from '../errors.js';

const USAGE = `usage:
  segw gateway --config FILE.yaml [--check]
  segw basestation --config FILE.yaml [--check]
  segw vrrp --config FILE.yaml [--check]
  segw ctl [--socket PATH | --node NAME] [--timeout SECONDS] METHOD [JSON-PARAMS]
  segw demo
  segw version`;

import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from './exit.js';

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

type Command = (args: string[]) => Promise<number>;

const COMMANDS: Record<string, Command> = {
  async version() {
    console.log(`segw ${version()} (node ${process.version}, openssl ${process.versions.openssl})`);
    return EXIT_OK;
  },
  async gateway(args) {
    const { values } = parseArgs({ args, options: { config: { type: 'string', short: 'c' }, check: { type: 'boolean' } } });
    if (!values.config) throw new UsageError('segw gateway needs --config FILE.yaml');
    const { runGateway } = await import('./gateway.js');
    return runGateway(values.config, { check: values.check ?? false });
  },
  async basestation(args) {
    const { values } = parseArgs({ args, options: { config: { type: 'string', short: 'c' }, check: { type: 'boolean' } } });
    if (!values.config) throw new UsageError('segw basestation needs --config FILE.yaml');
    const { runBasestation } = await import('./basestation.js');
    return runBasestation(values.config, { check: values.check ?? false });
  },
  async vrrp(args) {
    const { values } = parseArgs({ args, options: { config: { type: 'string', short: 'c' }, check: { type: 'boolean' } } });
    if (!values.config) throw new UsageError('segw vrrp needs --config FILE.yaml');
    const { runVrrp } = await import('./vrrp.js');
    return runVrrp(values.config, { check: values.check ?? false });
  },
  async ctl(args) {
    const { runCtl } = await import('./ctl.js');
    return runCtl(args);
  },
  async demo(args) {
    const { runDemo } = await import('./demo.js');
    return runDemo(args);
  },
};

class UsageError extends SegwError {
  constructor(message: string) {
    super('SEGW_USAGE', message);
  }
}

/** Runs the CLI; sets process.exitCode (never calls process.exit while work is pending). */
export async function main(argv: string[]): Promise<void> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    console.log(USAGE);
    process.exitCode = cmd ? EXIT_OK : EXIT_USAGE;
    return;
  }
  const command = COMMANDS[cmd];
  if (!command) {
    console.error(`segw: unknown command "${cmd}"\n${USAGE}`);
    process.exitCode = EXIT_USAGE;
    return;
  }
  try {
    process.exitCode = await command(rest);
  } catch (err) {
    if (err instanceof ConfigError || err instanceof UsageError || (err as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      console.error(`segw: ${(err as Error).message}`);
      process.exitCode = EXIT_USAGE;
    } else if (err instanceof SegwError) {
      console.error(`segw: ${err.message} [${err.code}]`);
      process.exitCode = EXIT_FAILURE;
    } else {
      console.error('segw: unexpected failure (a bug; please report it):', err);
      process.exitCode = EXIT_FAILURE;
    }
  }
}

// Run when executed directly (node src/cli/main.ts / dist/cli/main.js).
if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  await main(process.argv.slice(2));
}
