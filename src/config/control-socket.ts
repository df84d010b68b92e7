/**
 * Where a node's operator control socket lives when its configuration names none. Declared here,
 * in the config layer, because both the configuration (src/config/gateway.ts) and the operator
 * CLI (`segw ctl --node`) need it, and config sits below src/control.
 */
export function defaultSocketPath(node: string): string {
  return `/run/segw/${node}.sock`;
}
