/**
 * A UDP echo service (RFC 862) in a lab host: what the simulator's traffic base stations probe
 * "behind the gateway". The service address is put on the host's loopback (a /32: the same
 * address may sit behind every gateway of a cluster, as an anycast service would), and a small
 * node process answers every datagram with itself.
 */
import type { Host } from '../../../src/lab/lab.js';
import type { LabProcess } from '../../../src/lab/process.js';

const ECHO = [
  "const s = require('node:dgram').createSocket('udp4');",
  's.on("message", (m, r) => s.send(m, r.port, r.address));',
  's.bind(Number(process.argv[2]), process.argv[1], () => console.log("echo ready"));',
].join(' ');

export async function startUdpEcho(host: Host, address: string, port = 7): Promise<LabProcess> {
  await host.addAddress('lo', `${address}/32`);
  const p = host.spawn(process.execPath, ['-e', ECHO, address, String(port)], { name: `udp-echo-${host.name}` });
  await p.waitFor(/echo ready/, 10_000);
  return p;
}
