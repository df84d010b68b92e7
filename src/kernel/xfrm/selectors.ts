/**
 * Traffic selectors (address range, protocol, port range) to XFRM selectors (prefix, port/mask).
 * One IKE selector pair may need several kernel selectors: every (source prefix, destination
 * prefix, source port block, destination port block) combination is one policy.
 *
 * ICMP (RFC 7296 §3.13.1, RFC 4301 §4.4.1.3): the "port" carries type (high octet) and code (low
 * octet); the kernel's selector matches the ICMP type in sport and the code in dport. Any, one
 * type with any code, or one type and code are expressible; other ICMP ranges are refused rather
 * than widened.
 */
import { xfrmAddress, afOf } from '../../netlink/addr.js';
import type { xfrm_selector } from '../../netlink/xfrm.js';
import type { TrafficSelector } from '../types.js';
import { portRangeToMasks, rangeToPrefixes, type Prefix } from '../../net/ip.js';
import { XfrmParamError } from './errors.js';

type Selector = ReturnType<typeof xfrm_selector.zero>;

const IPPROTO_ICMP = 1;
const IPPROTO_ICMPV6 = 58;
/** More kernel policies than this for one selector pair is a configuration mistake. */
export const MAX_POLICIES_PER_PAIR = 256;

interface PortMatch {
  port: number;
  mask: number;
}

/** For ICMP: [type match (sport), code match (dport)]. */
function icmpMatch(ts: TrafficSelector): [PortMatch, PortMatch] {
  const { startPort: s, endPort: e } = ts;
  if (s === 0 && e === 0xffff) return [{ port: 0, mask: 0 }, { port: 0, mask: 0 }];
  if (s === e) return [{ port: s >> 8, mask: 0xffff }, { port: s & 0xff, mask: 0xffff }];
  if ((s & 0xff) === 0 && e === (s | 0xff)) return [{ port: s >> 8, mask: 0xffff }, { port: 0, mask: 0 }];
  throw new XfrmParamError(`ICMP selector ${s}-${e} (type/code range) is not expressible as an XFRM selector`);
}

export function selectorPrefixes(ts: TrafficSelector): Prefix[] {
  return rangeToPrefixes(ts.startAddr, ts.endAddr);
}

/** Kernel selectors for traffic from `src` to `dst`. */
export function toSelectors(src: TrafficSelector, dst: TrafficSelector): Selector[] {
  if (src.family !== dst.family) throw new XfrmParamError(`selector pair mixes IPv${src.family} and IPv${dst.family}`);
  const proto = src.protocol || dst.protocol;
  if (src.protocol && dst.protocol && src.protocol !== dst.protocol) {
    throw new XfrmParamError(`selector pair has protocols ${src.protocol} and ${dst.protocol}`);
  }
  const icmp = proto === IPPROTO_ICMP || proto === IPPROTO_ICMPV6;
  let sports: PortMatch[];
  let dports: PortMatch[];
  if (icmp) {
    // The ICMP type/code travel in the destination selector's "port" (RFC 7296 §3.13.1 leaves the
    // source any); use whichever side restricts it.
    const side = dst.startPort !== 0 || dst.endPort !== 0xffff ? dst : src;
    const [t, c] = icmpMatch(side);
    [sports, dports] = [[t], [c]];
  } else {
    sports = proto ? portRangeToMasks(src.startPort, src.endPort) : [{ port: 0, mask: 0 }];
    dports = proto ? portRangeToMasks(dst.startPort, dst.endPort) : [{ port: 0, mask: 0 }];
  }
  const sp = selectorPrefixes(src);
  const dp = selectorPrefixes(dst);
  const count = sp.length * dp.length * sports.length * dports.length;
  if (count > MAX_POLICIES_PER_PAIR) {
    throw new XfrmParamError(`selector pair needs ${count} kernel policies (limit ${MAX_POLICIES_PER_PAIR}): narrow the traffic selectors`);
  }
  const out: Selector[] = [];
  for (const s of sp) {
    for (const d of dp) {
      for (const spt of sports) {
        for (const dpt of dports) {
          out.push({
            daddr: xfrmAddress(d.addr),
            saddr: xfrmAddress(s.addr),
            dport: dpt.port,
            dport_mask: dpt.mask,
            sport: spt.port,
            sport_mask: spt.mask,
            family: afOf(src.family),
            prefixlen_d: d.len,
            prefixlen_s: s.len,
            proto,
            ifindex: 0,
            user: 0,
          });
        }
      }
    }
  }
  return out;
}

/** A single kernel selector for the pair, or undefined when it needs more than one. */
export function singleSelector(src: TrafficSelector | undefined, dst: TrafficSelector | undefined): Selector | undefined {
  if (!src || !dst) return undefined;
  try {
    const all = toSelectors(src, dst);
    return all.length === 1 ? all[0] : undefined;
  } catch {
    return undefined;
  }
}
