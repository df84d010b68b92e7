/**
 * Recorded kernel answers to ESP offload requests, and a transport that replays them.
 *
 * The guest scenario (test/kernel-esp/guest/offload.ts) sends segw's SA requests to a real
 * kernel with ESP through recordingTransport(), which notes for each request what matters to the
 * kernel's offload decision (the operation, XFRMA_OFFLOAD_DEV's flags and whether a device was
 * named, ESN, UDP encapsulation) and what the kernel answered (an errno and its extended ack; for
 * GETSA, whether the SA listed XFRMA_OFFLOAD_DEV). The answers are kept in
 * ./fixtures/offload-answers.json; replayTransport() answers the same requests the same way on a
 * machine without such a kernel, so the backend's fallback is tested on every run.
 */
import { constants } from 'node:os';
import { decodeAttrs, splitAttrs } from '../../../src/netlink/attr.js';
import { nlaAlign, nlmsgAlign } from '../../../src/netlink/constants.js';
import { NetlinkError } from '../../../src/netlink/errors.js';
import type { NlMessage } from '../../../src/netlink/message.js';
import { XFRM_MSG, XFRM_STATE, XFRMA, xfrm_usersa_id, xfrm_usersa_info } from '../../../src/netlink/xfrm.js';
import type { XfrmTransport } from '../../../src/kernel/xfrm/backend.js';
import type { SaParams } from '../../../src/kernel/types.js';

const NO_LIMITS = { softBytes: 0n, hardBytes: 0n, softPackets: 0n, hardPackets: 0n };

/** An AES-GCM tunnel SA between 198.51.100.1 (segw) and .2, as the offload recordings use. */
export function offloadTestSa(spi: number, direction: 'in' | 'out', extra: Partial<SaParams> = {}): SaParams {
  const [local, peer] = ['198.51.100.1', '198.51.100.2'];
  return {
    direction,
    src: direction === 'out' ? local : peer,
    dst: direction === 'out' ? peer : local,
    spi,
    protocol: 'esp',
    mode: 'tunnel',
    reqid: 1,
    esn: false,
    replayWindow: 32,
    lifetime: NO_LIMITS,
    localTs: [],
    remoteTs: [],
    encryption: 'aes-gcm-16',
    encryptionKey: Buffer.alloc(20, spi & 0xff),
    ...extra,
  } as SaParams;
}

export interface RecordedAnswer {
  /** The request as it matters to the kernel's offload decision (see describe()). */
  request: string;
  /** The kernel's refusal, if it refused. */
  errno?: string;
  extAck?: string;
  /** GETSA: the SA as read back listed XFRMA_OFFLOAD_DEV. */
  offloadListed?: boolean;
}

const OPS = new Map<number, string>(Object.entries(XFRM_MSG).map(([k, v]) => [v as number, k]));
const XFRMA_OFFLOAD_DEV = XFRMA.types.XFRMA_OFFLOAD_DEV;

/** 'XFRM_MSG_NEWSA offload=flags:5,dev esn encap' — what the answer depends on, nothing random (no SPI, no key). */
export function describe(type: number, payload: Buffer): string {
  const op = OPS.get(type) ?? `type ${type}`;
  if (type !== XFRM_MSG.XFRM_MSG_NEWSA && type !== XFRM_MSG.XFRM_MSG_UPDSA) return op;
  const info = xfrm_usersa_info.decode(payload, 0, xfrm_usersa_info.size);
  const a = decodeAttrs(XFRMA, payload, nlmsgAlign(xfrm_usersa_info.size));
  const o = a.XFRMA_OFFLOAD_DEV;
  const parts = [op, o ? `offload=flags:${o.flags}${o.ifindex ? ',dev' : ''}` : 'no-offload'];
  if (info.flags & XFRM_STATE.XFRM_STATE_ESN) parts.push('esn');
  if (a.XFRMA_ENCAP) parts.push('encap');
  return parts.join(' ');
}

export function recordingTransport(nl: XfrmTransport, out: RecordedAnswer[]): XfrmTransport {
  return {
    dump: (type, payload, opts) => nl.dump(type, payload, opts),
    close: () => nl.close(),
    request: async (type, flags, payload, opts) => {
      const request = describe(type, payload);
      try {
        const replies = await nl.request(type, flags, payload, opts);
        const sa = replies.find((m) => m.type === XFRM_MSG.XFRM_MSG_NEWSA);
        out.push(type === XFRM_MSG.XFRM_MSG_GETSA ? { request, offloadListed: !!sa && hasOffload(sa.payload) } : { request });
        return replies;
      } catch (err) {
        if (err instanceof NetlinkError) out.push({ request, errno: err.errno, ...(err.extAck ? { extAck: err.extAck } : {}) });
        throw err;
      }
    },
  };
}

function hasOffload(saPayload: Buffer): boolean {
  return splitAttrs(saPayload, nlmsgAlign(xfrm_usersa_info.size)).some((a) => a.type === XFRMA_OFFLOAD_DEV);
}

/** The SA payload without XFRMA_OFFLOAD_DEV, as a kernel lists an SA no device holds. */
function withoutOffload(saPayload: Buffer): Buffer {
  const start = nlmsgAlign(xfrm_usersa_info.size);
  const kept = splitAttrs(saPayload, start).filter((a) => a.type !== XFRMA_OFFLOAD_DEV);
  return Buffer.concat([saPayload.subarray(0, start), ...kept.map((a) => saPayload.subarray(a.offset, a.offset + nlaAlign(4 + a.payload.length)))]);
}

/**
 * Answers each request as `answers` recorded for a request of the same description: the
 * recorded errno, or success; GETSA returns the SA last installed under that SPI, with
 * XFRMA_OFFLOAD_DEV only if the kernel listed it. A request with no recorded answer fails the
 * test (the recording does not cover it).
 */
export function replayTransport(answers: readonly RecordedAnswer[], seen: string[] = []): XfrmTransport {
  const installed = new Map<number, Buffer>();
  let pendingGet: RecordedAnswer | undefined;
  return {
    dump: async () => [],
    close: async () => {},
    request: async (type, _flags, payload, opts) => {
      const request = describe(type, payload);
      seen.push(request);
      if (type === XFRM_MSG.XFRM_MSG_GETSA) {
        const spi = xfrm_usersa_id.decode(payload, 0, xfrm_usersa_id.size).spi >>> 0;
        const sa = installed.get(spi);
        if (!sa) throw new NetlinkError({ errno: constants.errno.ESRCH, operation: 'XFRM_MSG_GETSA', detail: opts?.detail });
        const listed = pendingGet?.offloadListed ?? false;
        const reply: NlMessage = { type: XFRM_MSG.XFRM_MSG_NEWSA, flags: 0, seq: 0, pid: 0, payload: listed ? sa : withoutOffload(sa) };
        return [reply];
      }
      const answer = answers.find((a) => a.request === request);
      if (!answer) throw new Error(`no recorded kernel answer for "${request}" (recorded: ${answers.map((a) => a.request).join('; ')})`);
      if (answer.errno) {
        const errno = (constants.errno as Record<string, number>)[answer.errno]!;
        throw new NetlinkError({ errno, operation: OPS.get(type) ?? String(type), detail: opts?.detail, extAck: answer.extAck });
      }
      if (type === XFRM_MSG.XFRM_MSG_NEWSA || type === XFRM_MSG.XFRM_MSG_UPDSA) {
        const info = xfrm_usersa_info.decode(payload, 0, xfrm_usersa_info.size);
        installed.set(info.id.spi >>> 0, payload);
        // The GETSA that follows a successful install answers as the recording's did.
        const i = answers.indexOf(answer);
        pendingGet = answers[i + 1]?.request === 'XFRM_MSG_GETSA' ? answers[i + 1] : undefined;
      }
      return [];
    },
  };
}
