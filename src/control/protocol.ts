/**
 * The operator control protocol: newline-delimited JSON over a UNIX stream socket.
 *
 *   request   {"id": 7, "method": "list-sas", "params": {"connection": "basestations"}}\n
 *   result    {"id": 7, "result": {...}}\n
 *   error     {"id": 7, "error": {"code": "NOT_FOUND", "message": "no IKE SA ..."}}\n
 *
 * `id` is the caller's (a string or a number, echoed back; null when the request had none or
 * could not be read); `params` is an object and may be omitted. Requests on one connection
 * run concurrently (responses may come out of order: match them by id), at most
 * MAX_INFLIGHT_PER_CONNECTION at a time. A line longer than MAX_REQUEST_BYTES is answered with
 * REQUEST_TOO_LARGE and the connection is closed (the rest of the stream cannot be framed).
 *
 * Error codes are stable: scripts match on them. New methods and new result fields may be
 * added; existing fields keep their meaning. Lines from the daemon that carry neither `result`
 * nor `error` (reserved for event streams a later version may offer, as `{"event": ...}`) are
 * to be ignored by clients that did not ask for them.
 */
import { SegwError } from '../errors.js';

export type RequestId = string | number | null;

export interface ControlRequest {
  id: RequestId;
  method: string;
  params: Record<string, unknown>;
}

export interface ControlErrorBody {
  code: ControlErrorCode;
  message: string;
}

export type ControlResponse = { id: RequestId; result: unknown } | { id: RequestId; error: ControlErrorBody };

/** Stable error codes, with what each means for the caller. */
export const ControlErrorCode = {
  /** The line is not JSON, or not a JSON object. */
  PARSE_ERROR: 'PARSE_ERROR',
  /** The object lacks a string `method`, or `id` / `params` have the wrong type. */
  INVALID_REQUEST: 'INVALID_REQUEST',
  /** The line exceeded MAX_REQUEST_BYTES; the connection is closed after this answer. */
  REQUEST_TOO_LARGE: 'REQUEST_TOO_LARGE',
  UNKNOWN_METHOD: 'UNKNOWN_METHOD',
  /** A parameter is missing, of the wrong type, or out of range; the message names it. */
  INVALID_PARAMS: 'INVALID_PARAMS',
  /** No IKE SA, child SA or connection matches. */
  NOT_FOUND: 'NOT_FOUND',
  /** The SA exists but cannot do this now (not established, already being deleted or rekeyed). */
  INVALID_STATE: 'INVALID_STATE',
  /** The exchange ran but did not achieve it (the peer refused, the SA was torn down). */
  FAILED: 'FAILED',
  /** Not finished within the request's timeout; the exchange may still complete. */
  TIMEOUT: 'TIMEOUT',
  /** Too many requests in flight on this connection, or the daemon is stopping. */
  BUSY: 'BUSY',
  /**
   * The connecting process is neither root nor the daemon's user (SO_PEERCRED); sent with id
   * null, then the connection is closed.
   */
  PERMISSION_DENIED: 'PERMISSION_DENIED',
  /**
   * Sent with id null before the daemon closes an idle connection: it was idle for
   * IDLE_TIMEOUT_MS, or it was the longest idle when every slot was taken and a new client came.
   */
  IDLE_CLOSED: 'IDLE_CLOSED',
  /** A bug in segw; the daemon keeps running. Please report it with the log. */
  INTERNAL: 'INTERNAL',
} as const;
export type ControlErrorCode = (typeof ControlErrorCode)[keyof typeof ControlErrorCode];

/** A request line longer than this is refused (the biggest request is a few hundred octets). */
export const MAX_REQUEST_BYTES = 64 * 1024;
/** Requests one connection may have running at once; more are answered BUSY. */
export const MAX_INFLIGHT_PER_CONNECTION = 16;
/**
 * Client connections at once. A new client when all are taken closes the longest idle one (no
 * request in flight); only when every connection is busy is the new one refused (BUSY).
 */
export const MAX_CONNECTIONS = 64;
/** A connection with no request in flight and no traffic for this long is closed. */
export const IDLE_TIMEOUT_MS = 60_000;
/** Default and upper bound of a request's `timeoutMs` (operations that wait for an exchange). */
export const DEFAULT_TIMEOUT_MS = 10_000;
export const MAX_TIMEOUT_MS = 300_000;

/**
 * A request that failed in a way the caller should see (thrown by method handlers, carried to
 * the client as `error`, and rethrown there by ControlClient).
 */
export class ControlError extends SegwError {
  constructor(
    readonly controlCode: ControlErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`SEGW_CTL_${controlCode}`, message, options);
  }

  toBody(): ControlErrorBody {
    return { code: this.controlCode, message: this.message };
  }
}

/** Reads one request line; a ControlError (with the id, if one was readable) when it is not one. */
export function parseRequest(line: string): ControlRequest | { id: RequestId; error: ControlError } {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch (err) {
    return { id: null, error: new ControlError(ControlErrorCode.PARSE_ERROR, `not JSON: ${(err as Error).message}`) };
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    return { id: null, error: new ControlError(ControlErrorCode.PARSE_ERROR, 'a request is a JSON object {id, method, params}') };
  }
  const o = v as Record<string, unknown>;
  const id = o.id === undefined ? null : o.id;
  if (id !== null && typeof id !== 'string' && !(typeof id === 'number' && Number.isFinite(id))) {
    return { id: null, error: new ControlError(ControlErrorCode.INVALID_REQUEST, '`id` must be a string or a number') };
  }
  if (typeof o.method !== 'string' || o.method.length === 0 || o.method.length > 64) {
    return { id, error: new ControlError(ControlErrorCode.INVALID_REQUEST, '`method` must be a method name (string)') };
  }
  const params = o.params === undefined || o.params === null ? {} : o.params;
  if (typeof params !== 'object' || Array.isArray(params)) {
    return { id, error: new ControlError(ControlErrorCode.INVALID_REQUEST, '`params` must be an object') };
  }
  return { id, method: o.method, params: params as Record<string, unknown> };
}

/** One response line (with its newline). */
export function encodeResponse(r: ControlResponse): string {
  return `${JSON.stringify(r, jsonReplacer)}\n`;
}

/** bigint counters travel as decimal strings (JSON has no 64-bit integers). */
function jsonReplacer(_k: string, v: unknown): unknown {
  return typeof v === 'bigint' ? v.toString() : v;
}
