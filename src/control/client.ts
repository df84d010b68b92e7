/**
 * A client of the control socket (`segw ctl`, the lab, tests): one connection, requests
 * matched to responses by id, errors rethrown as ControlError with the daemon's code.
 *
 *   const c = await ControlClient.connect('/run/segw/gw1.sock');
 *   const { ikeSas } = await c.call('list-sas');
 *   c.close();
 */
import { createConnection, type Socket } from 'node:net';
import { SegwError } from '../errors.js';
import { ControlError, ControlErrorCode, type ControlErrorBody } from './protocol.js';

export class ControlConnectError extends SegwError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('SEGW_CTL_CONNECT', message, options);
  }
}

interface Pending {
  resolve(v: unknown): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
}

export class ControlClient {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private buf = '';
  private closedErr: Error | undefined;
  /** A connection-level error the daemon sent (id null) before closing: why it closed. */
  private connErr: ControlError | undefined;

  private constructor(
    readonly path: string,
    private readonly sock: Socket,
  ) {
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => this.onData(d));
    sock.on('error', (err) => this.fail(new ControlConnectError(`control socket ${path}: ${err.message}`, { cause: err })));
    sock.on('close', () => this.fail(this.connErr ?? new ControlConnectError(`control socket ${path} closed by the daemon`)));
  }

  static connect(path: string, opts: { timeoutMs?: number } = {}): Promise<ControlClient> {
    return new Promise((resolve, reject) => {
      const sock = createConnection(path);
      const timer = setTimeout(() => {
        sock.destroy();
        reject(new ControlConnectError(`no answer from the control socket ${path} within ${opts.timeoutMs ?? 5000} ms`));
      }, opts.timeoutMs ?? 5000);
      sock.once('connect', () => {
        clearTimeout(timer);
        resolve(new ControlClient(path, sock));
      });
      sock.once('error', (err) => {
        clearTimeout(timer);
        reject(new ControlConnectError(`cannot connect to the control socket ${path}: ${err.message} (is the daemon running, and are you root?)`, { cause: err }));
      });
    });
  }

  /**
   * Calls a method; resolves with its result or rejects with ControlError (the daemon's code).
   * `timeoutMs` bounds the wait for the answer (default: the request's own timeoutMs + 5 s).
   */
  call<T = unknown>(method: string, params: Record<string, unknown> = {}, opts: { timeoutMs?: number } = {}): Promise<T> {
    if (this.closedErr) return Promise.reject(this.closedErr);
    const id = this.nextId++;
    const wait = opts.timeoutMs ?? (typeof params.timeoutMs === 'number' ? params.timeoutMs : 10_000) + 5000;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new ControlError(ControlErrorCode.TIMEOUT, `no answer to ${method} within ${wait} ms`));
      }, wait);
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      this.sock.write(`${JSON.stringify({ id, method, params })}\n`);
    });
  }

  /** Sends a raw line (tests of bad input); the answer comes back through `rawResponses`. */
  sendRaw(line: string): void {
    this.sock.write(line);
  }

  /** Responses that matched no call (answers to sendRaw), in arrival order. */
  readonly rawResponses: Record<string, unknown>[] = [];

  private onData(d: string): void {
    this.buf += d;
    for (let nl = this.buf.indexOf('\n'); nl >= 0; nl = this.buf.indexOf('\n')) {
      const line = this.buf.slice(0, nl);
      this.buf = this.buf.slice(nl + 1);
      let msg: { id?: unknown; result?: unknown; error?: ControlErrorBody };
      try {
        msg = JSON.parse(line) as typeof msg;
      } catch {
        continue;
      }
      const p = typeof msg.id === 'number' ? this.pending.get(msg.id) : undefined;
      if (!p) {
        if (msg.id === null && msg.error) this.connErr = new ControlError(msg.error.code, msg.error.message);
        this.rawResponses.push(msg as Record<string, unknown>);
        continue;
      }
      this.pending.delete(msg.id as number);
      clearTimeout(p.timer);
      if (msg.error) p.reject(new ControlError(msg.error.code, msg.error.message));
      else p.resolve(msg.result);
    }
  }

  private fail(err: Error): void {
    this.closedErr ??= err;
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    this.pending.clear();
  }

  close(): void {
    this.closedErr ??= new ControlConnectError('client closed');
    this.sock.end();
    this.sock.destroy();
  }
}
