/** In-memory KernelNet for tests: addresses and routes in maps, with failure injection. */
import type { AddressParams, IpFamily, KernelNet, LinkDescription, MacvlanParams, RouteParams } from '../types.js';

export type StubNetOp = 'addAddress' | 'deleteAddress' | 'addRoute' | 'deleteRoute' | 'listRoutes' | 'addMacvlan' | 'deleteLink' | 'setLinkUp';

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
  /** Links segw created, by name, with their up state. */
  readonly links = new Map<string, MacvlanParams & { up: boolean }>();
  /** net.ipv4.conf values written, "dev/key" -> value (absent ones read as 0). */
  readonly ipv4Conf = new Map<string, number>();
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

  async addMacvlan(m: MacvlanParams): Promise<void> {
    this.check('addMacvlan');
    if (this.links.has(m.name)) throw new StubKernelNetError('addMacvlan', 'stub kernel: link exists (EEXIST)');
    this.links.set(m.name, { ...m, up: false });
  }

  /** Links segw created, and `eth*` parents (index = position + 1 among the names seen). */
  async describeLink(name: string): Promise<LinkDescription | undefined> {
    const l = this.links.get(name);
    if (l) return { index: this.indexOf(name), kind: 'macvlan', parentIndex: this.indexOf(l.parent), address: l.address };
    return name.startsWith('eth') ? { index: this.indexOf(name) } : undefined;
  }

  private readonly indexes = new Map<string, number>();
  private indexOf(name: string): number {
    if (!this.indexes.has(name)) this.indexes.set(name, this.indexes.size + 1);
    return this.indexes.get(name)!;
  }

  async deleteLink(name: string): Promise<boolean> {
    this.check('deleteLink');
    for (const k of [...this.addresses.keys()]) if (k.startsWith(`${name}|`)) this.addresses.delete(k);
    return this.links.delete(name);
  }

  async setLinkUp(name: string, up: boolean): Promise<void> {
    this.check('setLinkUp');
    const l = this.links.get(name);
    if (!l) throw new StubKernelNetError('setLinkUp', 'stub kernel: no such link (ENODEV)');
    l.up = up;
  }

  async setIpv4Conf(dev: string, key: string, value: number): Promise<number> {
    const before = this.ipv4Conf.get(`${dev}/${key}`) ?? 0;
    this.ipv4Conf.set(`${dev}/${key}`, value);
    return before;
  }

  async close(): Promise<void> {}
}
