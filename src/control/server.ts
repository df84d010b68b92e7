/**
 * The operator control socket: a UNIX stream socket speaking newline-delimited JSON
 * (./protocol.ts) to the methods of ./methods.ts. Only root and the daemon's own user get in:
 * the file is mode 0600 from its creation, and each connecting process's credentials
 * (SO_PEERCRED) are checked at accept, so a permissive umask, a chmod or a moved socket file
 * cannot widen access.
 *
 *   accept ──> peer uid allowed? ──> slot free? (else close the longest idle) ──> connection:
 *   bytes ──> lines (bounded) ──> parseRequest ──> METHODS[m].run
 *                                 └─> {id, error}     └─> {id, result} | {id, error}
 *
 * Connections are bounded (MAX_CONNECTIONS) and an idle one is closed after IDLE_TIMEOUT_MS,
 * so idle clients can never lock operators out.
 *
 * Nothing a client sends can throw out of here: malformed lines get an error answer, handler
 * bugs are logged and answered INTERNAL, socket errors close that connection only. A stale
 * socket file left by a crashed daemon is replaced; a live one (another daemon answering) is not.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { chmodSync, lstatSync, mkdirSync, unlinkSync } from 'node:fs';
import { peerCredentials, type PeerCredentials } from '../kernel/peercred.js';
import { dirname } from 'node:path';
import type { Logger } from '../log/index.js';
import { SegwError } from '../errors.js';
import { METHODS, type ControlTarget, type MethodSpec } from './methods.js';
import {
  ControlError,
  ControlErrorCode,
  IDLE_TIMEOUT_MS,
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
  /** Default IDLE_TIMEOUT_MS. */
  idleTimeoutMs?: number;
  /** Default MAX_CONNECTIONS. */
  maxConnections?: number;
  /** Users admitted besides root (uid 0); default the daemon's own uid. */
  allowUids?: readonly number[];
  /** Reads a connection's peer (default SO_PEERCRED through the addon); tests hand in a double. */
  peerCredentials?: (s: Socket) => PeerCredentials;
}

/** One client connection's bookkeeping. */
interface Conn {
  readonly socket: Socket;
  inflight: number;
  /** When it last sent or was answered (ms, monotonic enough: Date.now()). */
  lastActive: number;
  /** Closed by the server (idle): nothing more is read or answered on it. */
  closed: boolean;
}

export class ControlServer {
  private readonly conns = new Set<Conn>();
  private closing = false;
  /** Requests answered, and errors by code (shown by tests and, later, metrics). */
  readonly stats = { requests: 0, errors: {} as Record<string, number>, refused: 0, idleClosed: 0 };
  private readonly methods: Readonly<Record<string, MethodSpec>>;
  private readonly allowUids: ReadonlySet<number>;

  private constructor(
    readonly path: string,
    private readonly server: Server,
    private readonly target: ControlTarget,
    private readonly log: Logger,
    private readonly opts: ControlServerOptions,
  ) {
    this.methods = { ...METHODS, ...opts.methods };
    this.allowUids = new Set([0, ...(opts.allowUids ?? [process.getuid?.() ?? 0])]);
  }

  /** Binds the socket (replacing a stale one) and starts answering. */
  static async listen(opts: ControlServerOptions): Promise<ControlServer> {
    const { path, log } = opts;
    await prepareSocketPath(path);
    const server = createServer({ allowHalfOpen: false });
    const cs = new ControlServer(path, server, opts.target, log, opts);
    server.on('connection', (s) => cs.accept(s));
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
      throw new ControlSocketError(`control.socket: cannot listen on ${path}: ${(err as Error).message}`, { cause: err });
    } finally {
      process.umask(oldMask);
    }
    try {
      chmodSync(path, 0o600);
    } catch (err) {
      server.close();
      throw new ControlSocketError(`control.socket: cannot make ${path} mode 0600 (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, { cause: err });
    }
    server.on('error', (err) => log.error({ err }, 'control socket error'));
    log.info({ socket: path }, 'control socket listening');
    return cs;
  }

  /** Refuses a connection with one error line (id null), then closes it. */
  private refuse(s: Socket, code: ControlErrorCode, message: string): void {
    s.on('error', () => {});
    s.end(encodeResponse({ id: null, error: { code, message } }));
    s.resume(); // read (and drop) what the client still sends, so its close is seen
    s.setTimeout(1000, () => s.destroy());
  }

  /** The peer's uid is root or ours (SO_PEERCRED); otherwise it is refused and logged. */
  private admitted(s: Socket): boolean {
    let cred: PeerCredentials;
    try {
      cred = (this.opts.peerCredentials ?? peerCredentials)(s);
    } catch (err) {
      this.log.error({ err }, 'control connection refused: cannot read its credentials (SO_PEERCRED)');
      this.refuse(s, ControlErrorCode.PERMISSION_DENIED, 'the daemon cannot tell who is connecting');
      return false;
    }
    if (this.allowUids.has(cred.uid)) return true;
    this.stats.refused++;
    this.log.warn({ uid: cred.uid, pid: cred.pid }, 'control connection refused: not root or the daemon\'s user');
    this.refuse(s, ControlErrorCode.PERMISSION_DENIED, `uid ${cred.uid} may not use this control socket (root or the daemon's user only)`);
    return false;
  }

  /** Frees a slot for a new client by closing the longest idle connection; false if all are busy. */
  private makeRoom(): boolean {
    const max = this.opts.maxConnections ?? MAX_CONNECTIONS;
    if (this.conns.size < max) return true;
    let oldest: Conn | undefined;
    for (const c of this.conns) if (c.inflight === 0 && (!oldest || c.lastActive < oldest.lastActive)) oldest = c;
    if (!oldest) return false;
    this.closeIdle(oldest, 'every connection slot was taken and this one was the longest idle');
    return true;
  }

  private closeIdle(c: Conn, why: string): void {
    this.stats.idleClosed++;
    this.conns.delete(c);
    c.closed = true;
    this.log.debug({ why }, 'control connection closed: idle');
    this.refuse(c.socket, ControlErrorCode.IDLE_CLOSED, `connection closed: ${why}; connect again`);
  }

  private accept(s: Socket): void {
    if (this.closing) {
      s.destroy();
      return;
    }
    if (!this.admitted(s)) return;
    if (!this.makeRoom()) {
      this.refuse(s, ControlErrorCode.BUSY, `all ${this.opts.maxConnections ?? MAX_CONNECTIONS} control connections have requests in flight; try again`);
      return;
    }
    const conn: Conn = { socket: s, inflight: 0, lastActive: Date.now(), closed: false };
    this.conns.add(conn);
    let buf = '';
    let dead = false;
    const send = (r: ControlResponse) => {
      if (dead || conn.closed || s.destroyed) return;
      if ('error' in r) this.stats.errors[r.error.code] = (this.stats.errors[r.error.code] ?? 0) + 1;
      this.stats.requests++;
      conn.lastActive = Date.now();
      s.write(encodeResponse(r));
    };
    s.setEncoding('utf8');
    // Inactivity on the socket; a connection waiting for a long request is not idle.
    s.setTimeout(this.opts.idleTimeoutMs ?? IDLE_TIMEOUT_MS, () => {
      if (conn.inflight === 0 && this.conns.has(conn)) this.closeIdle(conn, `no request for ${this.opts.idleTimeoutMs ?? IDLE_TIMEOUT_MS} ms`);
    });
    s.on('data', (chunk: string) => {
      if (dead || conn.closed) return;
      conn.lastActive = Date.now();
      buf += chunk;
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (line.length > MAX_REQUEST_BYTES) return tooLarge();
        if (line.length === 0) continue;
        if (conn.inflight >= MAX_INFLIGHT_PER_CONNECTION) {
          const req = parseRequest(line);
          send({ id: req.id, error: new ControlError(ControlErrorCode.BUSY, `more than ${MAX_INFLIGHT_PER_CONNECTION} requests in flight on this connection`).toBody() });
          continue;
        }
        conn.inflight++;
        void this.handle(line).then((r) => {
          conn.inflight--;
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
      this.conns.delete(conn);
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
    for (const c of this.conns) c.socket.destroy();
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
  const errno = (err: unknown) => (err as NodeJS.ErrnoException).code ?? (err as Error).message;
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
  } catch (err) {
    throw new ControlSocketError(`control.socket: cannot create the directory of ${path} (${errno(err)}): name a path in a directory`, { cause: err });
  }
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return; // nothing there
  }
  if (!st.isSocket()) {
    throw new ControlSocketError(`control.socket: ${path} exists and is not a socket: remove it or name another path`);
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
    throw new ControlSocketError(`control.socket: another daemon answers on ${path}: stop it, or give this node another control.socket`);
  }
  try {
    unlinkSync(path);
  } catch (err) {
    throw new ControlSocketError(`control.socket: cannot remove the stale socket ${path} (${errno(err)})`, { cause: err });
  }
}
