/**
 * The usage text of `segw` and each command, in one place: `--help` prints it on stdout (exit
 * 0); a usage mistake prints the reason and the command's usage on stderr (exit 2).
 */
import { readFileSync } from 'node:fs';

export interface CommandHelp {
  /** One line per synopsis, without the leading "usage: ". */
  synopsis: string[];
  /** What the command does (a sentence or two). */
  summary: string;
  /** The one-line summary in `segw --help`. */
  brief: string;
  /** [option, description] rows. */
  options: [string, string][];
  /** Free text after the options (exit codes, examples). */
  notes?: string;
}

const COMMON_OPTIONS: [string, string][] = [
  ['-h, --help', 'show this help and exit'],
  ['--version', 'show the version and exit'],
];

export const HELP: Record<string, CommandHelp> = {
  gateway: {
    synopsis: ['segw gateway --config FILE.yaml [--check]'],
    brief: 'run a security gateway (or --check its configuration)',
    summary: 'Run a security gateway in the foreground (root: sockets, TUN, netlink), or only validate its configuration.',
    options: [
      ['-c, --config FILE', 'the configuration file (examples/ has a commented one)'],
      ['--check', 'validate the file and the paths it names, print a summary, start nothing'],
    ],
    notes: 'Signals: SIGTERM/SIGINT stop gracefully (peers told, routes withdrawn); SIGHUP reloads the\nconfiguration (connections, PSKs, certificates, log.level; other keys need a restart) and\nreopens log.file; SIGUSR1 logs the status.',
  },
  basestation: {
    synopsis: ['segw basestation --config FILE.yaml [--check]', 'segw basestation --config SIM.yaml [--simulate N] [--traffic K] [--json FILE] [--duration S] [--exit-when-up]'],
    brief: 'run a base-station initiator (or simulate many)',
    summary: 'Run a base-station initiator: bring up the configured connections and keep them up. A file with a\n`simulate:` section runs the simulator: N base stations from one process, progress and a report.',
    options: [
      ['-c, --config FILE', 'the configuration file (the gateway keys plus `initiate`, `reconnect`, `recovery`; or `simulate:`)'],
      ['--check', 'validate the file, print a summary, start nothing'],
      ['--simulate N', 'simulate N base stations (overrides simulate.count)'],
      ['--traffic K', 'simulator: K base stations carry UDP echo probes through a userspace ESP data plane (overrides simulate.traffic.count; 0: none)'],
      ['--json FILE', 'simulator: write the report as JSON'],
      ['--duration S', 'simulator: stop after S seconds'],
      ['--exit-when-up', 'simulator: stop once every base station is up'],
    ],
  },
  vrrp: {
    synopsis: ['segw vrrp --config FILE.yaml [--check]'],
    brief: 'run one VRRPv3 instance (the cluster.vrrp options of a gateway file)',
    summary: 'Run one VRRPv3 virtual router (RFC 9568) from the cluster: section of a gateway file, as its own process.',
    options: [
      ['-c, --config FILE', 'a gateway configuration file with a cluster: section'],
      ['--check', 'validate the file, print the instance, start nothing'],
    ],
    notes: 'Signals: SIGTERM/SIGINT resign (a priority-0 advert) and remove the VIPs; SIGUSR1 logs the status.',
  },
  ctl: {
    synopsis: [
      'segw ctl [--socket PATH | --node NAME] [--timeout SECONDS] [--compact] [--json] METHOD [JSON-PARAMS]',
      'segw ctl [--socket PATH | --node NAME] --watch SECONDS [--count N] [--json] METHOD [JSON-PARAMS]',
    ],
    brief: "ask a running node through its control socket",
    summary: "Send one request to a running node's control socket; the result is printed as JSON, or as a table for members, vrrp, redirects, drain and undrain; --watch redraws it live.",
    options: [
      ['-s, --socket PATH', 'the control socket (the config\'s control.socket)'],
      ['-n, --node NAME', 'the node\'s name: socket /run/segw/NAME.sock'],
      ['-t, --timeout SECONDS', 'how long an action may take (0..300; default 10)'],
      ['--compact', 'print the result on one line'],
      ['--json', 'JSON also for the methods printed as tables (members, vrrp, redirects, drain, undrain)'],
      ['-w, --watch SECONDS', 'a live view: ask again and redraw every SECONDS (members, vrrp, redirects, status, list-sas) until Ctrl-C'],
      ['--count N', 'with --watch: stop after N redraws'],
    ],
    notes: 'Methods: `segw ctl --node NAME methods` lists them (status, list-sas, initiate, terminate-ike, ...; on a cluster member also members, redirects, drain, undrain).\nExit codes: 0 answered, 1 the daemon refused or could not be reached, 2 usage.',
  },
  demo: {
    synopsis: ['segw demo [--keep] [--simulate N]'],
    brief: 'the product in network namespaces (root, under 3 minutes)',
    summary: 'The product in network namespaces (root): a 3-gateway primary cluster on a VIP (VRRPv3, redirects spreading base stations), a backup cluster of 2, a BIRD core router learning the injected routes over BGP, simulated base stations and a strongSwan one pinging a server behind the core. Live lines show roles, tunnels, redirects, routes and traffic while the master crashes, a member is drained, and the primary site fails over to the backup and back; then it checks nothing is left behind.',
    options: [
      ['--keep', 'after the last phase, leave everything up until Ctrl-C and print segw ctl commands to explore it'],
      ['--simulate N', 'simulated base stations (default 200, at most 250)'],
    ],
  },
  version: {
    synopsis: ['segw version'],
    brief: 'show the version',
    summary: 'Show the version of segw, Node and OpenSSL.',
    options: [],
  },
};

/** The help of one command, as printed for --help. */
export function commandHelp(name: string): string {
  const h = HELP[name]!;
  const opts = [...h.options, ...COMMON_OPTIONS];
  const width = Math.max(...opts.map(([o]) => o.length));
  return [
    ...h.synopsis.map((s, i) => `${i === 0 ? 'usage: ' : '       '}${s}`),
    '',
    h.summary,
    '',
    'options:',
    ...opts.map(([o, d]) => `  ${o.padEnd(width)}  ${d}`),
    ...(h.notes ? ['', h.notes] : []),
  ].join('\n');
}

/** The short usage of one command (on stderr after a usage mistake). */
export function commandUsage(name: string): string {
  const h = HELP[name]!;
  return [...h.synopsis.map((s, i) => `${i === 0 ? 'usage: ' : '       '}${s}`), `(segw ${name} --help for more)`].join('\n');
}

/** `segw --help`. */
export function mainHelp(): string {
  const width = Math.max(...Object.keys(HELP).map((n) => n.length));
  return [
    'usage: segw COMMAND [OPTIONS]',
    '',
    'segw: IPsec security gateway cluster for mobile networks (IKEv2, RFC 5685 redirect, VRRPv3).',
    '',
    'commands:',
    ...Object.entries(HELP).map(([n, h]) => `  ${n.padEnd(width)}  ${h.brief}`),
    '',
    'options:',
    '  -h, --help  show this help and exit (segw COMMAND --help: that command\'s)',
    '  --version   show the version and exit',
    '',
    'Exit codes: 0 ok, 1 runtime failure, 2 usage or configuration error.',
  ].join('\n');
}

export function mainUsage(): string {
  return `usage: segw COMMAND [OPTIONS]   (commands: ${Object.keys(HELP).join(', ')}; segw --help for more)`;
}

export function versionText(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return `segw ${pkg.version} (node ${process.version}, openssl ${process.versions.openssl})`;
}
