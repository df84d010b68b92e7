/**
 * Parameters the XFRM backend cannot express (a key of the wrong length, an algorithm the kernel
 * backend does not map, a selector that would need too many policies). These are bugs or
 * configuration errors upstream, caught before anything reaches the kernel.
 */
import { SegwError } from '../../errors.js';

export class XfrmParamError extends SegwError {
  constructor(message: string) {
    super('SEGW_XFRM_PARAM', message);
  }
}
