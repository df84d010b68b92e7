/**
 * Which data plane this kernel can carry: segw asks the kernel to install an ESP SA of each suite
 * it offers, inside a fresh network namespace that exists only for the probe's socket (nothing in
 * the host's namespaces is touched, and the namespace disappears with the socket). If every suite
 * installs, the kernel's XFRM carries ESP; otherwise the userspace engine does, and the result
 * says why (`EPROTONOSUPPORT "Requested type not found"`: no ESP in this kernel; `ENOSYS`: an
 * algorithm is missing from its crypto API).
 */
import { logger } from '../log/index.js';
import { NetlinkError } from '../netlink/errors.js';
import type { SaParams } from './types.js';
import { XfrmKernelIpsec } from './xfrm/backend.js';

const log = logger('kernel');

export type ProbeSuite = 'aes-gcm-16' | 'aes-cbc+hmac-sha2-256-128';

export interface ProbeResult {
  backend: 'xfrm' | 'userspace';
  /** The kernel accepted an ESP SA of at least one suite. */
  esp: boolean;
  suites: Record<ProbeSuite, { ok: boolean; error?: string }>;
  /** One line for the log and `segw status`. */
  reason: string;
}

const ZERO_LIFETIME = { softBytes: 0n, hardBytes: 0n, softPackets: 0n, hardPackets: 0n };

function probeSa(suite: ProbeSuite, spi: number): SaParams {
  const base = {
    direction: 'in' as const,
    src: '192.0.2.1',
    dst: '192.0.2.2',
    spi,
    protocol: 'esp' as const,
    mode: 'tunnel' as const,
    reqid: spi,
    esn: true,
    replayWindow: 64,
    lifetime: ZERO_LIFETIME,
    localTs: [],
    remoteTs: [],
  };
  if (suite === 'aes-gcm-16') return { ...base, encryption: 'aes-gcm-16', encryptionKey: Buffer.alloc(20, 1) };
  return {
    ...base,
    encryption: 'aes-cbc',
    encryptionKey: Buffer.alloc(16, 1),
    integrity: 'hmac-sha2-256-128',
    integrityKey: Buffer.alloc(32, 2),
  };
}

function describe(err: unknown): string {
  if (err instanceof NetlinkError) return `${err.errno}${err.extAck ? ` "${err.extAck}"` : ''}`;
  return err instanceof Error ? err.message : String(err);
}

export async function probeKernelIpsec(): Promise<ProbeResult> {
  const suites = {} as ProbeResult['suites'];
  let xfrm: XfrmKernelIpsec;
  try {
    xfrm = XfrmKernelIpsec.open({ freshNetns: true, events: false });
  } catch (err) {
    const error = describe(err);
    for (const s of ['aes-gcm-16', 'aes-cbc+hmac-sha2-256-128'] as const) suites[s] = { ok: false, error };
    return { backend: 'userspace', esp: false, suites, reason: `cannot open an XFRM socket in a probe namespace: ${error}` };
  }
  try {
    let spi = 0x100;
    for (const s of ['aes-gcm-16', 'aes-cbc+hmac-sha2-256-128'] as const) {
      try {
        await xfrm.addSa(probeSa(s, spi++));
        suites[s] = { ok: true };
      } catch (err) {
        suites[s] = { ok: false, error: describe(err) };
      }
    }
  } finally {
    await xfrm.close();
  }
  const all = Object.values(suites).every((s) => s.ok);
  const esp = Object.values(suites).some((s) => s.ok);
  const failed = Object.entries(suites)
    .filter(([, v]) => !v.ok)
    .map(([k, v]) => `${k}: ${v.error}`)
    .join('; ');
  const reason = all
    ? 'the kernel installs ESP SAs of every suite: kernel XFRM data plane'
    : `the kernel refused ESP SAs (${failed}): userspace ESP data plane`;
  return { backend: all ? 'xfrm' : 'userspace', esp, suites, reason };
}

/** Probes and logs the choice (one line, `kernel` subsystem). */
export async function chooseDataPlane(): Promise<ProbeResult> {
  const r = await probeKernelIpsec();
  log.info({ dataPlane: r.backend, esp: r.esp, suites: r.suites }, r.reason);
  return r;
}
