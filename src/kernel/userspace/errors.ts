import { SegwError } from '../../errors.js';

/** The userspace ESP engine refused a request (bad SA parameters, unknown SA, socket failure). */
export class EspEngineError extends SegwError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('SEGW_ESP', message, options);
  }
}
