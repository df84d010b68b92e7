/**
 * Stateless cookies (RFC 7296 §2.6):
 *   Cookie = <VersionIDofSecret> | Hash(Ni | IPi | SPIi | <secret>)
 * The secret is rotated every `lifetimeMs`; cookies made with the previous secret are still
 * accepted, so an initiator that got a cookie just before a rotation is not refused.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../scheduler.js';
import { ipToBytes } from '../../net/ip.js';

const VERSION_LENGTH = 4;

export class CookieJar {
  private version = 0;
  private secret = randomBytes(32);
  private previous: { version: number; secret: Buffer } | undefined;
  private rotatedAt: number;

  constructor(
    private readonly clock: Clock,
    private readonly lifetimeMs: number,
  ) {
    this.rotatedAt = clock.now();
  }

  private rotateIfDue(): void {
    if (this.clock.now() - this.rotatedAt < this.lifetimeMs) return;
    this.previous = { version: this.version, secret: this.secret };
    this.version = (this.version + 1) >>> 0;
    this.secret = randomBytes(32);
    this.rotatedAt = this.clock.now();
  }

  /** Forces a rotation (tests, and after a suspected secret leak). */
  rotate(): void {
    this.rotatedAt = -Infinity;
    this.rotateIfDue();
  }

  private hash(secret: Buffer, ni: Buffer, ip: string, spiI: Buffer): Buffer {
    return createHmac('sha256', secret).update(ni).update(ipToBytes(ip)).update(spiI).digest();
  }

  make(ni: Buffer, ip: string, spiI: Buffer): Buffer {
    this.rotateIfDue();
    const v = Buffer.alloc(VERSION_LENGTH);
    v.writeUInt32BE(this.version);
    return Buffer.concat([v, this.hash(this.secret, ni, ip, spiI)]);
  }

  verify(cookie: Buffer, ni: Buffer, ip: string, spiI: Buffer): boolean {
    this.rotateIfDue();
    if (cookie.length !== VERSION_LENGTH + 32) return false;
    const v = cookie.readUInt32BE(0);
    const secret = v === this.version ? this.secret : v === this.previous?.version ? this.previous.secret : undefined;
    if (!secret) return false;
    return timingSafeEqual(cookie.subarray(VERSION_LENGTH), this.hash(secret, ni, ip, spiI));
  }
}
