/** In-memory KernelNet for tests: addresses and routes in maps, with failure injection. */
import type { AddressParams, IpFamily, KernelNet, RouteParams } from '../types.js';

export type StubNetOp = 'addAddress' | 'deleteAddress' | 'addRoute' | 'deleteRoute' | 'listRoutes';

export class StubKernelNetError extends Error {
  readonly code = 'SEGW_KERNEL_STUB';
  constructor(readonly op: StubNetOp, message = `stub kernel: ${op} failed (injected)`) {
    super(message);
  }
}

const routeKey = (r: RouteParams) => `${r.table ?? 254}|${r.dst}|${r.metric ?? 0}`;
const addrKey = (a: AddressParams) => `${a.dev}|${a.address}`;

export class StubKernelNet implements KernelNet {
  readonly name = 'stub' as const;
  readonly addresses = new Map<string, AddressParams>();
  readonly routes = new Map<string, RouteParams>();
  private readonly failures: { op: StubNetOp; count: number }[] = [];

  failNext(op: StubNetOp, count = 1): void {
    this.failures.push({ op, count });
  }

  private check(op: StubNetOp): void {
    const f = this.failures.find((x) => x.op === op && x.count > 0);
    if (f) {
      f.count--;
      throw new StubKernelNetError(op);
    }
  }

  async addAddress(addr: AddressParams): Promise<void> {
    this.check('addAddress');
    if (this.addresses.has(addrKey(addr))) throw new StubKernelNetError('addAddress', 'stub kernel: address exists (EEXIST)');
    this.addresses.set(addrKey(addr), addr);
  }

  async deleteAddress(addr: AddressParams): Promise<void> {
    this.check('deleteAddress');
    if (!this.addresses.delete(addrKey(addr))) throw new StubKernelNetError('deleteAddress', 'stub kernel: no such address');
  }

  async addRoute(route: RouteParams): Promise<void> {
    this.check('addRoute');
    if (this.routes.has(routeKey(route))) throw new StubKernelNetError('addRoute', 'stub kernel: route exists (EEXIST)');
    this.routes.set(routeKey(route), route);
  }

  async deleteRoute(route: RouteParams): Promise<void> {
    this.check('deleteRoute');
    if (!this.routes.delete(routeKey(route))) throw new StubKernelNetError('deleteRoute', 'stub kernel: no such route (ESRCH)');
  }

  async listRoutes(filter: { protocol?: number; table?: number; family?: IpFamily }): Promise<RouteParams[]> {
    this.check('listRoutes');
    return [...this.routes.values()].filter(
      (r) =>
        (filter.protocol === undefined || r.protocol === filter.protocol) &&
        (filter.table === undefined || (r.table ?? 254) === filter.table) &&
        (filter.family === undefined || (r.dst.includes(':') ? 6 : 4) === filter.family),
    );
  }

  async close(): Promise<void> {}
}
