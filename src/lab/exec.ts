/**
 * Running commands for the lab: in the root namespace or inside a lab namespace, with output
 * collected and failures turned into LabError values that name the command.
 */
import { execFile, execFileSync } from 'node:child_process';
import { LabError } from '../errors.js';

export interface ExecResult {
  stdout: string;
  stderr: string;
  code: number;
}

export interface ExecOptions {
  /** Do not throw on a non-zero exit; return the code. */
  allowFail?: boolean;
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  input?: string;
}

/** Runs a command and resolves with its output; rejects with LabError on failure unless allowFail. */
export function run(cmd: string, args: string[], opts: ExecOptions = {}): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      cmd,
      args,
      { timeout: opts.timeoutMs ?? 30_000, maxBuffer: 64 * 1024 * 1024, env: opts.env ?? process.env },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        const res = { stdout: String(stdout), stderr: String(stderr), code };
        if (err && !opts.allowFail) {
          const why = err.killed ? `timed out after ${opts.timeoutMs ?? 30_000} ms` : `exit ${String(err.code)}`;
          reject(new LabError(`\`${cmd} ${args.join(' ')}\` failed (${why}): ${res.stderr.trim() || res.stdout.trim()}`));
        } else {
          resolve(res);
        }
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

/** Synchronous variant, for teardown in exit handlers where no event loop turn is left. */
export function runSync(cmd: string, args: string[]): ExecResult {
  try {
    const stdout = execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 });
    return { stdout: String(stdout), stderr: '', code: 0 };
  } catch (err) {
    const e = err as { status?: number; stdout?: Buffer; stderr?: Buffer };
    return { stdout: String(e.stdout ?? ''), stderr: String(e.stderr ?? ''), code: e.status ?? 1 };
  }
}
