/**
 * Test support: the netlink messages a command sends, captured with strace inside a lab
 * namespace (`strace -f -e trace=sendmsg -e write=all -xx -s 65535`): write=all prints each
 * sendmsg's buffer as a hex dump, the same bytes whatever strace can or cannot decode.
 */
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import type { Host } from '../../src/lab/lab.js';
import { splitMessages, type NlMessage } from '../../src/netlink/message.js';

export interface Captured {
  /** One Buffer per sendmsg call (its iovecs concatenated). */
  datagrams: Buffer[];
  code: number;
  stderr: string;
}

let n = 0;

/** Runs `argv` under strace in `host` and returns what it sent with sendmsg. */
export async function captureSendmsg(host: Host, argv: string[]): Promise<Captured> {
  const out = join(host.lab.dir, `strace-${process.pid}-${n++}.txt`);
  const r = await host.exec('strace', ['-f', '-o', out, '-e', 'trace=sendmsg', '-e', 'write=all', '-xx', '-s', '65535', ...argv], {
    allowFail: true,
  });
  return { datagrams: parseStraceDumps(readFileSync(out, 'utf8')), code: r.code, stderr: r.stderr };
}

/** Hex dump lines: ` | 00000  34 00 00 00 18 00 05 06  16 75 0a 6b 00 00 00 00  4........u.k.... |` */
export function parseStraceDumps(text: string): Buffer[] {
  const out: Buffer[] = [];
  let cur: number[] | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.replace(/^(\[pid\s+\d+\]\s*|\d+\s+)/, '');
    if (/^sendmsg\(/.test(line)) {
      if (cur) out.push(Buffer.from(cur));
      cur = [];
      continue;
    }
    const m = /^ \| [0-9a-f]{5}  (.{49})/.exec(line);
    if (m && cur) for (const h of m[1].match(/[0-9a-f]{2}/g) ?? []) cur.push(parseInt(h, 16));
  }
  if (cur) out.push(Buffer.from(cur));
  return out;
}

/** The first captured message of `type`, with its datagram bytes cut to nlmsg_len. */
export function findMessage(c: Captured, type: number): { msg: NlMessage; bytes: Buffer } | undefined {
  for (const d of c.datagrams) {
    let off = 0;
    for (const msg of splitMessages(d).messages) {
      const len = 16 + msg.payload.length;
      if (msg.type === type) return { msg, bytes: d.subarray(off, off + len) };
      off += (len + 3) & ~3;
    }
  }
  return undefined;
}

/** Sequence number and port id zeroed: what two senders of the same request must agree on. */
export function normalise(bytes: Buffer): Buffer {
  const b = Buffer.from(bytes);
  b.fill(0, 8, 16);
  return b;
}
