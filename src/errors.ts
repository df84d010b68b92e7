/**
 * Errors that reach a user (operator, API caller) are classes with a stable `code`, in the style
 * of undici: code is what scripts match on, message says what happened and what to do.
 * Protocol outcomes (a peer's bad message, a NOTIFY error) are values, not exceptions.
 */
export class SegwError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** A configuration file or option is invalid; the message names the key and the fix. */
export class ConfigError extends SegwError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('SEGW_CONFIG', message, options);
  }
}

/** The native addon is missing or was built for another Node. */
export class NativeAddonError extends SegwError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('SEGW_NATIVE', message, options);
  }
}

/** A test-lab operation (namespace, veth, peer process) failed. */
export class LabError extends SegwError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('SEGW_LAB', message, options);
  }
}
