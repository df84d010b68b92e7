/**
 * What each key-exchange method costs a responder per IKE_SA_INIT, measured with the same
 * code the gateway runs: `node --import tsx test/ike/crypto/dh-cost.ts [iterations]`.
 * Prints microseconds per operation (median of 5 runs). Not a test: speed is never asserted.
 */
import { generateKeyPairSync, createPublicKey, randomBytes } from 'node:crypto';
import { AuthMethod, HashAlgorithm } from '../../../src/ike/constants.js';
import { createKeyExchange, DH_ALGORITHMS, signAuth, verifyAuth } from '../../../src/ike/crypto/index.js';

const N = Number(process.argv[2] ?? 200);

function perOp(fn: () => void, n: number): number {
  const runs: number[] = [];
  for (let r = 0; r < 5; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) fn();
    runs.push(Number(process.hrtime.bigint() - t0) / 1e3 / n);
  }
  return runs.sort((a, b) => a - b)[2];
}

const rows: string[][] = [['method', 'new key (us)', 'shared secret (us)', 'responder total (us)', 'per core /s']];
for (const [group, alg] of DH_ALGORITHMS) {
  const n = alg.kind === 'modp' ? Math.max(10, Math.floor(N / 10)) : N;
  const peer = createKeyExchange(group).publicValue;
  const gen = perOp(() => createKeyExchange(group), n);
  const mine = createKeyExchange(group);
  const secret = perOp(() => mine.computeSecret(peer), n);
  rows.push([`${alg.name} (${group})`, gen.toFixed(0), secret.toFixed(0), (gen + secret).toFixed(0), Math.floor(1e6 / (gen + secret)).toString()]);
}
const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
for (const r of rows) console.log(r.map((c, i) => c.padEnd(widths[i])).join('  '));

console.log('\nAUTH signatures (sign / verify, us):');
const octets = randomBytes(600);
const keys: [string, ReturnType<typeof generateKeyPairSync>['privateKey']][] = [
  ['ECDSA P-256', generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey],
  ['RSA-3072', generateKeyPairSync('rsa', { modulusLength: 3072 }).privateKey],
];
for (const [name, key] of keys) {
  for (const peerHashes of [null, [HashAlgorithm.SHA2_256]]) {
    const s = signAuth(key, octets, { peerHashes });
    if (!s.ok) throw new Error(s.reason);
    const pub = createPublicKey(key);
    const signUs = perOp(() => signAuth(key, octets, { peerHashes }), 50);
    const verifyUs = perOp(() => verifyAuth(pub, s.method, s.data, octets), 50);
    const m = s.method === AuthMethod.DIGITAL_SIGNATURE ? 'RFC 7427' : `method ${s.method}`;
    console.log(`  ${name.padEnd(12)} ${m.padEnd(10)} ${signUs.toFixed(0).padStart(6)} / ${verifyUs.toFixed(0)}`);
  }
}

