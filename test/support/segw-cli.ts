/** Runs the `segw` command line (src/cli/main.ts through tsx) as a user would, and what it printed. */
import { execFile } from 'node:child_process';
import { join, resolve } from 'node:path';

const REPO = resolve(import.meta.dirname, '..', '..');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** `segw ARGS...` from the repository root; `env` adds to (undefined: removes from) this process's environment. */
export function runSegw(args: string[], opts: { env?: Record<string, string | undefined>; timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', join(REPO, 'src/cli/main.ts'), ...args],
      { cwd: REPO, env: { ...process.env, NODE_TEST_CONTEXT: undefined, ...opts.env }, timeout: opts.timeoutMs },
      (err, stdout, stderr) => done({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}
