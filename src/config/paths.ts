/**
 * Checks of the paths a config names that the daemon writes or serves (`log.file`,
 * `control.socket`) and of the secrets it reads (`pskFile`, `privateKey`), done at load time so
 * that `segw gateway --check` catches what would otherwise fail after start. Each failure is a
 * ConfigError naming the key; each doubt (a secret others can read) is a warning string the
 * caller shows (`--check` on stderr, the daemon in its log).
 */
import { accessSync, constants, lstatSync, statSync, statfsSync, type Stats } from 'node:fs';
import { dirname } from 'node:path';
import { configFail } from './schema.js';

/** statfs f_type of pseudo filesystems where a log file cannot live (linux/magic.h). */
const PSEUDO_FS: Record<number, string> = {
  0x9fa0: 'proc',
  0x62656572: 'sysfs',
  0x64626720: 'debugfs',
  0x27e0eb: 'cgroup',
  0x63677270: 'cgroup2',
  0x1cd1: 'devpts',
  0x73636673: 'securityfs',
};

function statOrUndefined(path: string, follow = true): Stats | undefined {
  try {
    return follow ? statSync(path) : lstatSync(path);
  } catch (err) {
    // ENOTDIR: an ancestor is not a directory; the caller's walk up names it.
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw err;
  }
}

function reason(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e.code ?? e.message;
}

/** The nearest existing ancestor of `path` must be a directory we may create entries in. */
function checkDirectoryFor(key: string, path: string, opts: { create: boolean }): void {
  let dir = dirname(path);
  for (;;) {
    let st: Stats | undefined;
    try {
      st = statOrUndefined(dir);
    } catch (err) {
      configFail(key, `cannot use ${path}: ${dir}: ${reason(err)}`);
    }
    if (st) {
      if (!st.isDirectory()) configFail(key, `cannot use ${path}: ${dir} is not a directory`);
      break;
    }
    if (!opts.create) configFail(key, `cannot use ${path}: the directory ${dir} does not exist (create it)`);
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  try {
    accessSync(dir, constants.W_OK | constants.X_OK);
  } catch (err) {
    configFail(key, `cannot create ${path}: ${dir} is not writable (${reason(err)})`);
  }
}

/**
 * `log.file`: an existing regular file (or a character device such as /dev/null) that can be
 * appended to, or a new file in an existing, writable directory. Not a directory, and not a
 * file of /proc or /sys (writes there fail with EIO, and the log would be lost).
 */
export function checkLogFile(key: string, path: string): void {
  let st: Stats | undefined;
  try {
    st = statOrUndefined(path);
  } catch (err) {
    configFail(key, `cannot use ${path}: ${reason(err)}`);
  }
  if (!st) {
    checkDirectoryFor(key, path, { create: false });
    return;
  }
  if (st.isDirectory()) configFail(key, `${path} is a directory: name a file in it`);
  if (!st.isFile() && !st.isCharacterDevice()) configFail(key, `${path} is not a regular file`);
  if (st.isFile()) {
    const fs = PSEUDO_FS[Number(statfsSync(path).type)];
    if (fs) configFail(key, `${path} is on ${fs}, not a file system a log can be written to`);
  }
  try {
    accessSync(path, constants.W_OK);
  } catch (err) {
    configFail(key, `cannot write ${path} (${reason(err)})`);
  }
}

/**
 * `control.socket`: the path must be free or a socket (a stale one is replaced at start), and
 * its directory must exist or be creatable.
 */
export function checkSocketPath(key: string, path: string): void {
  let st: Stats | undefined;
  try {
    st = statOrUndefined(path, false);
  } catch (err) {
    configFail(key, `cannot use ${path}: ${reason(err)}`);
  }
  if (st && !st.isSocket()) configFail(key, `${path} exists and is not a socket: remove it or name another path`);
  checkDirectoryFor(key, path, { create: true });
}

/** A secret file readable by group or others gets a warning (key files are 0600 by habit). */
export function secretFileWarning(key: string, path: string): string | undefined {
  const st = statOrUndefined(path);
  if (!st || (st.mode & 0o077) === 0) return undefined;
  const mode = (st.mode & 0o777).toString(8).padStart(4, '0');
  return `${key}: ${path} is mode ${mode}, readable by others than its owner: chmod 600 ${path}`;
}
