/**
 * A small tmpfs for one gateway's log file, that the disk-full fault fills and frees. Mounted in
 * the root mount namespace under the lab's directory before the gateway starts, so the gateway
 * (`ip netns exec` copies the mounts) writes to it; unmount() before the lab closes.
 */
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../exec.js';

export class LogDisk {
  private mounted = false;

  private constructor(
    readonly dir: string,
    /** The gateway's log.file. */
    readonly file: string,
  ) {}

  /** Mounts a tmpfs of `sizeKiB` at `<labDir>/<name>`. */
  static async mount(labDir: string, name: string, sizeKiB = 512): Promise<LogDisk> {
    const dir = join(labDir, name);
    mkdirSync(dir, { recursive: true });
    await run('mount', ['-t', 'tmpfs', '-o', `size=${sizeKiB}k,mode=0700`, `segw-${name}`, dir]);
    const d = new LogDisk(dir, join(dir, 'gateway.log'));
    d.mounted = true;
    return d;
  }

  /** Fills the file system: a file takes every free block (dd stops at ENOSPC). */
  async fill(): Promise<void> {
    await run('dd', ['if=/dev/zero', `of=${join(this.dir, 'fill')}`, 'bs=4k'], { allowFail: true });
  }

  /** Gives the space back. */
  async free(): Promise<void> {
    await run('rm', ['-f', join(this.dir, 'fill')]);
  }

  /** The log file's size in bytes (0 if absent). */
  size(): number {
    try {
      return statSync(this.file).size;
    } catch {
      return 0;
    }
  }

  /** The log file's text from byte `from`. */
  textFrom(from: number): string {
    try {
      return readFileSync(this.file).subarray(from).toString();
    } catch {
      return '';
    }
  }

  async unmount(): Promise<void> {
    if (!this.mounted) return;
    // Lazy: a gateway still holding the file open must not keep the lab's directory busy.
    await run('umount', ['-l', this.dir], { allowFail: true });
    this.mounted = false;
  }
}
