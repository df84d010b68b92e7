/**
 * The operator control socket: a UNIX stream socket (mode 0600, so only root and the daemon's
 * user reach it) speaking newline-delimited JSON (./protocol.ts) to the methods of
 * ./methods.ts.
 *
 *   accept ──> connection: bytes ──> lines (bounded) ──> parseRequest ──> METHODS[m].run
 *                                                        └─> {id, error}     └─> {id, result} | {id, error}
 *
 * Nothing a client sends can throw out of here: malformed lines get an error answer, handler
 * bugs are logged and answered INTERNAL, socket errors close that connection only. A stale
 * socket file left by a crashed daemon is replaced; a live one (another daemon answering) is not.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { chmodSync, lstatSync, mkdirSync, unlinkSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from '../log/index.js';
import { SegwError } from '../errors.js';
import { METHODS, type ControlTarget, type MethodSpec } from './methods.js';
import {
  ControlError,
  ControlErrorCode,
  MAX_CONNECTIONS,
  MAX_INFLIGHT_PER_CONNECTION,
  MAX_REQUEST_BYTES,
  encodeResponse,
  parseRequest,
  type ControlResponse,
  type RequestId,
} from './protocol.js';

export class ControlSocketError extends SegwError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('SEGW_CONTROL_SOCKET', message, options);
  }
}

export interface ControlServerOptions {
  path: string;
  target: ControlTarget;
  log: Logger;
  /** Methods beyond the built-in ones (METHODS); a name here replaces a built-in one. */
  methods?: Readonly<Record<string, MethodSpec>>;
}

export class ControlServer {
  private readonly conns = new Set<Socket>();
  private closing = false;
  /** Requests answered, and errors by code (shown by tests and, later, metrics). */
  readonly stats = { requests: 0, errors: {} as Record<string, number> };

  private constructor(
    readonly path: string,
    private readonly server: Server,
    private readonly target: ControlTarget,
    private readonly log: Logger,
    private readonly methods: Readonly<Record<string, MethodSpec>>,
  ) {}

  /** Binds the socket (replacing a stale one) and starts answering. */
  static async listen(opts: ControlServerOptions): Promise<ControlServer> {
    const { path, log } = opts;
    await prepareSocketPath(path);
    const server = createServer({ allowHalfOpen: false });
    const cs = new ControlServer(path, server, opts.target, log, { ...METHODS, ...opts.methods });
    server.on('connection', (s) => cs.accept(s));
    server.maxConnections = MAX_CONNECTIONS;
    // The socket is created with the umask: make it 0600 from the first moment.
    const oldMask = process.umask(0o177);
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(path, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      throw new ControlSocketError(`cannot listen on the control socket ${path}: ${(err as Error).message}`, { cause: err });
    } finally {
      process.umask(oldMask);
    }
    chmodSync(path, 0o600);
    server.on('error', (err) => log.error({ err }, 'control socket error'));
    log.info({ socket: path }, 'control socket listening');
    return cs;
  }

  private accept(s: Socket): void {
    if (this.closing) {
      s.destroy();
      return;
    }
    this.conns.add(s);
    let buf = '';
    let inflight = 0;
    let dead = false;
    const send = (r: ControlResponse) => {
      if (dead || s.destroyed) return;
      if ('error' in r) this.stats.errors[r.error.code] = (this.stats.errors[r.error.code] ?? 0) + 1;
      this.stats.requests++;
      s.write(encodeResponse(r));
    };
    s.setEncoding('utf8');
    s.on('data', (chunk: string) => {
      if (dead) return;
      buf += chunk;
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (line.length > MAX_REQUEST_BYTES) return tooLarge();
        if (line.length === 0) continue;
        if (inflight >= MAX_INFLIGHT_PER_CONNECTION) {
          const req = parseRequest(line);
          send({ id: req.id, error: new ControlError(ControlErrorCode.BUSY, `more than ${MAX_INFLIGHT_PER_CONNECTION} requests in flight on this connection`).toBody() });
          continue;
        }
        inflight++;
        void this.handle(line).then((r) => {
          inflight--;
          send(r);
        });
      }
      if (buf.length > MAX_REQUEST_BYTES) tooLarge();
    });
    const tooLarge = () => {
      send({ id: null, error: new ControlError(ControlErrorCode.REQUEST_TOO_LARGE, `a request line is limited to ${MAX_REQUEST_BYTES} octets`).toBody() });
      dead = true;
      buf = '';
      s.end();
    };
    s.on('error', (err) => this.log.debug({ err }, 'control connection error'));
    s.on('close', () => {
      dead = true;
      this.conns.delete(s);
    });
  }

  /** One request line to one response. Never throws. */
  private async handle(line: string): Promise<ControlResponse> {
    const req = parseRequest(line);
    if ('error' in req) return { id: req.id, error: req.error.toBody() };
    const id: RequestId = req.id;
    const m = Object.hasOwn(this.methods, req.method) ? this.methods[req.method] : undefined;
    if (!m) {
      return { id, error: { code: ControlErrorCode.UNKNOWN_METHOD, message: `no method "${req.method}" (the method "methods" lists them)` } };
    }
    if (this.closing) return { id, error: { code: ControlErrorCode.BUSY, message: 'the daemon is stopping' } };
    try {
      const result = await m.run(this.target, req.params, { methods: this.methods });
      this.log.debug({ method: req.method }, 'control request done');
      return { id, result: result ?? null };
    } catch (err) {
      if (err instanceof ControlError) {
        this.log.info({ method: req.method, code: err.controlCode, detail: err.message }, 'control request refused');
        return { id, error: err.toBody() };
      }
      this.log.error({ err, method: req.method }, 'bug in a control method');
      return { id, error: { code: ControlErrorCode.INTERNAL, message: `internal error in ${req.method}: ${(err as Error)?.message ?? String(err)} (a bug; the log has details)` } };
    }
  }

  /** Stops accepting, closes client connections, removes the socket file. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    const closed = new Promise<void>((r) => this.server.close(() => r()));
    for (const s of this.conns) s.destroy();
    await closed;
    try {
      unlinkSync(this.path);
    } catch {
      /* already gone (server.close unlinks on some platforms) */
    }
  }
}

/**
 * Creates the socket's directory (0755 like /run/<daemon>) and removes a stale socket file.
 * Refuses to remove anything that is not a socket, or a socket another process answers on.
 */
async function prepareSocketPath(path: string): Promise<void> {
  mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return; // nothing there
  }
  if (!st.isSocket()) {
    throw new ControlSocketError(`control socket path ${path} exists and is not a socket: remove it or set control.socket`);
  }
  const alive = await new Promise<boolean>((resolve) => {
    const c = createConnection(path);
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
  if (alive) {
    throw new ControlSocketError(`another daemon answers on the control socket ${path}: stop it, or give this node another control.socket`);
  }
  unlinkSync(path);
}
