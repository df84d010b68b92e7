/** A target for test/fuzz/engine.test.ts: throws only for inputs starting "IKE" (0x49 0x4b 0x45). */
import type { FuzzTarget } from './registry.js';

export const magicTarget: FuzzTarget = {
  name: 'magic',
  input: 'octets',
  fuzz(d) {
    if (d.length >= 3 && d[0] === 0x49) {
      if (d[1] === 0x4b) {
        if (d[2] === 0x45) throw new Error('magic reached');
      }
    }
  },
};
