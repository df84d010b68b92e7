import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProtocolId, TransformType, EncrId, PrfId, DhGroup, IntegId, EsnId } from '../../src/ike/constants.js';
import { parseProposal, selectProposal, verifyChosen, withDhFirst, espSuiteOf, ikeSuiteOf } from '../../src/ike/proposal.js';
import { ConfigError } from '../../src/errors.js';

test('strongSwan proposal strings parse into transforms in wire order', () => {
  const p = parseProposal('aes128gcm16-prfsha256-ecp256', ProtocolId.IKE);
  assert.deepEqual(p.transforms, [
    { type: TransformType.ENCR, id: EncrId.ENCR_AES_GCM_16, keyLength: 128 },
    { type: TransformType.PRF, id: PrfId.PRF_HMAC_SHA2_256 },
    { type: TransformType.DH, id: DhGroup.ECP_256 },
  ]);
  const cbc = parseProposal('aes256-sha256-x25519', ProtocolId.IKE);
  assert.deepEqual(ikeSuiteOf(cbc), { encr: EncrId.ENCR_AES_CBC, encrKeyLength: 256, integ: IntegId.AUTH_HMAC_SHA2_256_128, prf: PrfId.PRF_HMAC_SHA2_256, dh: DhGroup.CURVE25519 });
  const esp = parseProposal('aes128gcm16-esn', ProtocolId.ESP);
  assert.deepEqual(esp.transforms.at(-1), { type: TransformType.ESN, id: EsnId.ESN });
  assert.deepEqual(parseProposal('aes128-sha256', ProtocolId.ESP).transforms.at(-1), { type: TransformType.ESN, id: EsnId.NO_ESN });
  assert.equal(espSuiteOf(esp)!.encrKeyBytes, 20);
});

test('bad proposal strings are ConfigErrors naming the problem', () => {
  assert.throws(() => parseProposal('aes128gcm16-sha256-ecp256', ProtocolId.IKE), ConfigError);
  assert.throws(() => parseProposal('aes128-ecp256', ProtocolId.IKE), /integrity/);
  assert.throws(() => parseProposal('aes128gcm16-prfsha256', ProtocolId.IKE), /DH group/);
  assert.throws(() => parseProposal('blowfish-sha1-modp2048', ProtocolId.IKE), /unknown algorithm "blowfish"/);
  assert.throws(() => parseProposal('aes128gcm16-esn', ProtocolId.IKE), ConfigError);
});

test('selection honours the responder order and prefers the KE group offered', () => {
  const ours = [parseProposal('aes256gcm16-prfsha384-ecp384', 1, 1), parseProposal('aes128gcm16-prfsha256-ecp256-x25519', 1, 2)];
  const theirs = [parseProposal('aes128gcm16-prfsha256-x25519-ecp256', 1, 1), parseProposal('aes256gcm16-prfsha384-ecp384', 1, 2)];
  assert.equal(selectProposal(ours, theirs)!.num, 2, 'our first proposal wins, with the peer number');
  const only128 = [theirs[0]!];
  const s = selectProposal(ours, only128, DhGroup.CURVE25519)!;
  assert.equal(s.transforms.find((t) => t.type === TransformType.DH)!.id, DhGroup.CURVE25519, 'the KE group is kept when acceptable');
  assert.equal(selectProposal(ours, only128)!.transforms.find((t) => t.type === TransformType.DH)!.id, DhGroup.ECP_256);
  assert.equal(selectProposal([parseProposal('aes128-sha256-modp2048', 1)], only128), undefined);
});

test('a chosen proposal with two transforms of one type or foreign algorithms is rejected', () => {
  const ours = [parseProposal('aes128gcm16-prfsha256-ecp256', 1)];
  assert.ok(verifyChosen(ours, ours));
  const twoDh = { ...ours[0]!, transforms: [...ours[0]!.transforms, { type: TransformType.DH, id: DhGroup.ECP_384 }] };
  assert.equal(verifyChosen(ours, [twoDh]), undefined);
  assert.equal(verifyChosen(ours, [parseProposal('aes256gcm16-prfsha256-ecp256', 1)]), undefined);
  assert.equal(verifyChosen(ours, [...ours, ...ours]), undefined);
});

test('withDhFirst moves the requested group first (INVALID_KE retry)', () => {
  const p = withDhFirst([parseProposal('aes128gcm16-prfsha256-x25519-ecp256', 1)], DhGroup.ECP_256)[0]!;
  assert.deepEqual(p.transforms.filter((t) => t.type === TransformType.DH).map((t) => t.id), [DhGroup.ECP_256, DhGroup.CURVE25519]);
});

test('connections with algorithms segw does not implement are refused at configuration time', async () => {
  const { resolveConnection } = await import('../../src/ike/config.js');
  const base = {
    name: 'c', local: { auth: { method: 'psk' as const, secret: 'x' } }, remote: { auth: { method: 'psk' as const, secret: 'x' } },
    ikeProposals: ['aes128gcm16-prfsha256-ecp256'],
    children: [{ name: 'k', localTs: ['10.0.0.0/8'], remoteTs: ['0.0.0.0/0'], espProposals: ['aes128gcm16'] }],
  };
  assert.ok(resolveConnection(base));
  assert.throws(() => resolveConnection({ ...base, ikeProposals: ['chacha20poly1305-prfsha256-ecp256'] }), /does not implement/);
  assert.throws(() => resolveConnection({ ...base, children: [{ ...base.children[0]!, espProposals: ['aes128-sha1'] }] }), /not supported/);
  assert.throws(() => resolveConnection({ ...base, children: [{ ...base.children[0]!, localTs: ['10.0.0.0/40'] }] }), /prefix length/);
});
