/**
 * A test-only SkTransform: XOR "encryption" under a counter IV and a truncated HMAC-SHA-256 ICV
 * over aad || IV || ciphertext. It is not secure; it is deterministic, checks the associated
 * data exactly like a real transform, and can take any block/IV/ICV size.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { SkTransform } from '../../../src/ike/crypto/types.js';

export interface DoubleOptions {
  blockSize?: number;
  ivLength?: number;
  icvLength?: number;
  key?: string;
}

export class SkDouble implements SkTransform {
  readonly blockSize: number;
  readonly ivLength: number;
  readonly icvLength: number;
  /** Every aad seal() saw, for assertions. */
  readonly sealedAad: Buffer[] = [];
  private counter = 0;
  private readonly key: Buffer;

  constructor(opts: DoubleOptions = {}) {
    this.blockSize = opts.blockSize ?? 1;
    this.ivLength = opts.ivLength ?? 8;
    this.icvLength = opts.icvLength ?? 16;
    this.key = Buffer.from(opts.key ?? 'test-key');
  }

  private xor(iv: Buffer, data: Buffer): Buffer {
    const out = Buffer.allocUnsafe(data.length);
    const pad = createHmac('sha256', this.key).update(iv).digest();
    for (let i = 0; i < data.length; i++) out[i] = data[i] ^ pad[i % pad.length];
    return out;
  }

  private icv(aad: Buffer, ivCt: Buffer): Buffer {
    return createHmac('sha256', this.key).update(aad).update(ivCt).digest().subarray(0, this.icvLength);
  }

  seal(aad: Buffer, plaintext: Buffer): Buffer {
    if (plaintext.length % this.blockSize !== 0) throw new Error(`plaintext ${plaintext.length} not a multiple of ${this.blockSize}`);
    this.sealedAad.push(Buffer.from(aad));
    const iv = Buffer.alloc(this.ivLength);
    iv.writeUIntBE(++this.counter % 2 ** 32, Math.max(0, this.ivLength - 4), Math.min(4, this.ivLength));
    const ivCt = Buffer.concat([iv, this.xor(iv, plaintext)]);
    return Buffer.concat([ivCt, this.icv(aad, ivCt)]);
  }

  open(aad: Buffer, body: Buffer): Buffer | null {
    const ivCt = body.subarray(0, body.length - this.icvLength);
    const icv = body.subarray(body.length - this.icvLength);
    if (!timingSafeEqual(this.icv(aad, ivCt), icv)) return null;
    return this.xor(ivCt.subarray(0, this.ivLength), ivCt.subarray(this.ivLength));
  }
}
