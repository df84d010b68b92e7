/**
 * Input mutations in the manner of libFuzzer's MutationDispatcher: bit and byte changes,
 * interesting values, big-endian 16/32-bit arithmetic (IKE and IP lengths are big-endian),
 * inserted, erased and copied spans, splices with another corpus entry, and dictionary tokens
 * (words taken from the seeds, e.g. YAML keys). A PRNG with a seed makes a run repeatable.
 */
export class Rng {
  constructor(private s: number) {
    if (this.s === 0) this.s = 0x9e3779b9;
  }
  /** xorshift32 */
  next(): number {
    let x = this.s;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.s = x >>> 0;
    return this.s;
  }
  below(n: number): number {
    return n <= 1 ? 0 : this.next() % n;
  }
}

const INTERESTING8 = [0, 1, 2, 4, 0x0f, 0x10, 0x1f, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2e, 0x7f, 0x80, 0xfe, 0xff];
const INTERESTING16 = [0, 1, 4, 8, 28, 0x7f, 0x80, 0xff, 0x100, 0x3ff, 0x7fff, 0x8000, 0xffff];

export class Mutator {
  constructor(
    private readonly rng: Rng,
    private readonly dictionary: Buffer[],
    private readonly maxLen: number,
  ) {}

  /** 1 to 5 stacked mutations of `base`; `other` is a corpus entry for splicing. */
  mutate(base: Buffer, other: Buffer): Buffer {
    let b: Buffer = Buffer.from(base);
    const n = 1 + this.rng.below(5);
    for (let i = 0; i < n; i++) b = this.once(b, other);
    return b.length > this.maxLen ? b.subarray(0, this.maxLen) : b;
  }

  private once(b: Buffer, other: Buffer): Buffer {
    const r = this.rng;
    const at = (len: number) => r.below(len);
    switch (r.below(b.length === 0 ? 2 : 12)) {
      case 0: // insert random bytes
      case 1: {
        const add = Buffer.alloc(1 + r.below(8));
        for (let i = 0; i < add.length; i++) add[i] = r.below(256);
        const p = at(b.length + 1);
        return Buffer.concat([b.subarray(0, p), add, b.subarray(p)]);
      }
      case 2: // flip a bit
        b[at(b.length)]! ^= 1 << r.below(8);
        return b;
      case 3: // random byte
        b[at(b.length)] = r.below(256);
        return b;
      case 4: // interesting byte
        b[at(b.length)] = INTERESTING8[r.below(INTERESTING8.length)]!;
        return b;
      case 5: { // interesting or nudged 16-bit big-endian value
        if (b.length < 2) return b;
        const p = at(b.length - 1);
        const v = r.below(2) ? INTERESTING16[r.below(INTERESTING16.length)]! : (b.readUInt16BE(p) + r.below(33) - 16) & 0xffff;
        b.writeUInt16BE(v, p);
        return b;
      }
      case 6: { // nudged 32-bit big-endian value
        if (b.length < 4) return b;
        const p = at(b.length - 3);
        b.writeUInt32BE((b.readUInt32BE(p) + r.below(33) - 16) >>> 0, p);
        return b;
      }
      case 7: { // erase a span
        const p = at(b.length);
        const len = 1 + r.below(Math.min(16, b.length - p));
        return Buffer.concat([b.subarray(0, p), b.subarray(p + len)]);
      }
      case 8: { // copy a span over another place
        const from = at(b.length);
        const len = 1 + r.below(Math.min(32, b.length - from));
        b.copy(b, at(b.length), from, from + len);
        return b;
      }
      case 9: { // splice: head of this, tail of another corpus entry
        if (other.length === 0) return b;
        return Buffer.concat([b.subarray(0, at(b.length + 1)), other.subarray(at(other.length))]);
      }
      default: { // dictionary token, inserted or overwriting
        if (this.dictionary.length === 0) return b;
        const w = this.dictionary[r.below(this.dictionary.length)]!;
        const p = at(b.length + 1);
        if (r.below(2)) return Buffer.concat([b.subarray(0, p), w, b.subarray(p)]);
        const out = Buffer.concat([b.subarray(0, p), w, b.subarray(Math.min(b.length, p + w.length))]);
        return out;
      }
    }
  }
}
