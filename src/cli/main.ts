/**
 * The `segw` command line.
 *
 *   segw gateway --config FILE.yaml [--check]      run a gateway daemon (or only validate)
 *   segw basestation --config FILE.yaml [--check]  run a base-station initiator
 *   segw vrrp --config FILE.yaml [--check]         run one VRRP instance (cluster.vrrp options)
 *   segw ctl [--socket PATH | --node NAME] METHOD [JSON]   ask a running daemon (control socket)
 *   segw demo [--keep] [--simulate N]               a demo in network namespaces (root)
 *   segw version
 *
 * Every command takes -h/--help (usage on stdout, exit 0) and --version. A usage mistake (an
 * unknown option or command, a missing argument) prints the reason and the usage on stderr and
 * exits 2. Exit codes: 0 ok, 1 runtime failure, 2 usage or configuration error.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { SegwError, ConfigError } from '../errors.js';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from './exit.js';
import { commandHelp, commandUsage, HELP, mainHelp, mainUsage, versionText } from './help.js';

type Command = (args: string[]) => Promise<number>;

class UsageError extends SegwError {
  constructor(message: string) {
    super('SEGW_USAGE', message);
  }
}

type Options = NonNullable<ParseArgsConfig['options']>;

/** parseArgs, strict: an unknown option or a stray argument is a UsageError. */
function parse<O extends Options>(args: string[], options: O, allowPositionals = false) {
  try {
    return parseArgs({ args, options, allowPositionals, strict: true });
  } catch (err) {
    if (typeof (err as { code?: unknown }).code === 'string' && (err as { code: string }).code.startsWith('ERR_PARSE_ARGS')) {
      throw new UsageError((err as Error).message.split('\n')[0]!);
    }
    throw err;
  }
}

const CONFIG_OPTIONS = { config: { type: 'string', short: 'c' }, check: { type: 'boolean' } } as const;

const SIMULATE_OPTIONS = {
  simulate: { type: 'string' },
  json: { type: 'string' },
  traffic: { type: 'string' },
  duration: { type: 'string' },
  'exit-when-up': { type: 'boolean' },
} as const;

const COMMANDS: Record<string, Command> = {
  async version(args) {
    parse(args, {});
    console.log(versionText());
    return EXIT_OK;
  },
  async gateway(args) {
    const { values } = parse(args, CONFIG_OPTIONS);
    if (!values.config) throw new UsageError('--config FILE.yaml is needed');
    const { runGateway } = await import('./gateway.js');
    return runGateway(values.config, { check: values.check ?? false });
  },
  async basestation(args) {
    const { values } = parse(args, { ...CONFIG_OPTIONS, ...SIMULATE_OPTIONS });
    if (!values.config) throw new UsageError('--config FILE.yaml is needed');
    const { hasSimulate } = await import('../config/simulate.js');
    if (values.simulate !== undefined || hasSimulate(values.config)) {
      const count = values.simulate === undefined ? undefined : Number(values.simulate);
      if (count !== undefined && !(Number.isInteger(count) && count >= 1)) throw new UsageError(`--simulate N: N must be a whole number >= 1, got ${values.simulate}`);
      const durationS = values.duration === undefined ? undefined : Number(values.duration);
      if (durationS !== undefined && !(durationS > 0)) throw new UsageError(`--duration SECONDS must be > 0, got ${values.duration}`);
      const traffic = values.traffic === undefined ? undefined : Number(values.traffic);
      if (traffic !== undefined && !(Number.isInteger(traffic) && traffic >= 0)) throw new UsageError(`--traffic K: K must be a whole number >= 0, got ${values.traffic}`);
      const { runSimulate } = await import('./simulate.js');
      return runSimulate(values.config, { count, traffic, json: values.json, durationS, exitWhenUp: values['exit-when-up'] ?? false, check: values.check ?? false });
    }
    const { runBasestation } = await import('./basestation.js');
    return runBasestation(values.config, { check: values.check ?? false });
  },
  async vrrp(args) {
    const { values } = parse(args, CONFIG_OPTIONS);
    if (!values.config) throw new UsageError('--config FILE.yaml is needed');
    const { runVrrp } = await import('./vrrp.js');
    return runVrrp(values.config, { check: values.check ?? false });
  },
  async ctl(args) {
    const { runCtl } = await import('./ctl.js');
    return runCtl(args);
  },
  async demo(args) {
    const { values } = parse(args, { keep: { type: 'boolean' }, simulate: { type: 'string' } });
    const { runDemo } = await import('./demo.js');
    return runDemo({ keep: values.keep ?? false, simulated: values.simulate === undefined ? undefined : Number(values.simulate) });
  },
};

/** -h/--help or --version among a command's options (before a `--`), if any. */
function infoFlag(args: string[]): 'help' | 'version' | undefined {
  for (const a of args) {
    if (a === '--') return undefined;
    if (a === '--help' || a === '-h') return 'help';
    if (a === '--version') return 'version';
  }
  return undefined;
}

/** Runs one command; returns its exit code. Never throws for user mistakes. */
async function run(name: string, args: string[]): Promise<number> {
  const info = infoFlag(args);
  if (info === 'help') {
    console.log(commandHelp(name));
    return EXIT_OK;
  }
  if (info === 'version') {
    console.log(versionText());
    return EXIT_OK;
  }
  try {
    return await COMMANDS[name]!(args);
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`segw ${name}: ${err.message}\n${commandUsage(name)}`);
      return EXIT_USAGE;
    }
    if (err instanceof ConfigError) {
      console.error(`segw: ${err.message}`);
      return EXIT_USAGE;
    }
    if (err instanceof SegwError) {
      console.error(`segw: ${err.message} [${err.code}]`);
      return EXIT_FAILURE;
    }
    console.error('segw: unexpected failure (a bug; please report it):', err);
    return EXIT_FAILURE;
  }
}

/** Runs the CLI; sets process.exitCode (never calls process.exit while work is pending). */
export async function main(argv: string[]): Promise<void> {
  const [cmd, ...rest] = argv;
  if (cmd === '--help' || cmd === '-h' || cmd === 'help') {
    console.log(rest[0] && rest[0] in HELP ? commandHelp(rest[0]) : mainHelp());
    process.exitCode = EXIT_OK;
    return;
  }
  if (cmd === '--version') {
    console.log(versionText());
    process.exitCode = EXIT_OK;
    return;
  }
  if (!cmd) {
    console.error(`segw: a command is needed\n${mainUsage()}`);
    process.exitCode = EXIT_USAGE;
    return;
  }
  if (!Object.hasOwn(COMMANDS, cmd)) {
    console.error(`segw: ${cmd.startsWith('-') ? `unknown option "${cmd}"` : `unknown command "${cmd}"`}\n${mainUsage()}`);
    process.exitCode = EXIT_USAGE;
    return;
  }
  process.exitCode = await run(cmd, rest);
}

// Run when executed directly (node src/cli/main.ts / dist/cli/main.js).
if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  await main(process.argv.slice(2));
}
