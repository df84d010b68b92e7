#include "esp/crypto.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <cstring>

namespace segw::esp {
namespace {

const EVP_CIPHER* cipherFor(EncAlg enc, size_t keyLen) {
  if (enc == EncAlg::AesGcm16) {
    if (keyLen == 16) return EVP_aes_128_gcm();
    if (keyLen == 24) return EVP_aes_192_gcm();
    if (keyLen == 32) return EVP_aes_256_gcm();
  } else {
    if (keyLen == 16) return EVP_aes_128_cbc();
    if (keyLen == 24) return EVP_aes_192_cbc();
    if (keyLen == 32) return EVP_aes_256_cbc();
  }
  return nullptr;
}

const char* digestFor(IntegAlg a) {
  switch (a) {
    case IntegAlg::HmacSha256_128: return "SHA256";
    case IntegAlg::HmacSha384_192: return "SHA384";
    case IntegAlg::HmacSha512_256: return "SHA512";
    default: return nullptr;
  }
}

size_t icvLenFor(IntegAlg a) {
  switch (a) {
    case IntegAlg::HmacSha256_128: return spec::kSha256IcvLen;
    case IntegAlg::HmacSha384_192: return spec::kSha384IcvLen;
    case IntegAlg::HmacSha512_256: return spec::kSha512IcvLen;
    default: return 0;
  }
}

// RFC 4868 §2.1: the HMAC key is as long as the hash output.
size_t integKeyLenFor(IntegAlg a) { return icvLenFor(a) * 2; }

EVP_MAC_CTX* newHmac(IntegAlg alg, const std::vector<uint8_t>& key) {
  EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  if (!mac) return nullptr;
  EVP_MAC_CTX* c = EVP_MAC_CTX_new(mac);
  EVP_MAC_free(mac);
  if (!c) return nullptr;
  OSSL_PARAM params[2] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>(digestFor(alg)), 0),
      OSSL_PARAM_construct_end()};
  if (!EVP_MAC_init(c, key.data(), key.size(), params)) {
    EVP_MAC_CTX_free(c);
    return nullptr;
  }
  return c;
}

}  // namespace

std::string validateSuite(const SuiteKeys& k) {
  if (k.enc == EncAlg::AesGcm16) {
    if (k.encKey.size() != 16 && k.encKey.size() != 24 && k.encKey.size() != 32)
      return "AES-GCM key must be 16, 24 or 32 bytes plus the 4-byte salt";
    if (k.integ != IntegAlg::None) return "AES-GCM is an AEAD: no separate integrity algorithm";
  } else {
    if (!cipherFor(k.enc, k.encKey.size())) return "AES-CBC key must be 16, 24 or 32 bytes";
    if (k.integ != IntegAlg::None && k.integKey.size() != integKeyLenFor(k.integ))
      return "HMAC-SHA2 key length must equal the hash length (RFC 4868 §2.1)";
  }
  return "";
}

SaCrypto::SaCrypto(const SuiteKeys& keys, bool encrypt) : keys_(keys), encrypt_(encrypt) {
  if (keys.enc == EncAlg::AesGcm16) {
    ivLen_ = spec::kGcmIvLen;
    icvLen_ = spec::kGcmIcvLen;
    align_ = spec::kMinAlign;
    vector_ = gcm::enabled() && (keys.encKey.size() == 16 || keys.encKey.size() == 32);
  } else {
    ivLen_ = spec::kCbcIvLen;
    icvLen_ = icvLenFor(keys.integ);
    align_ = spec::kAesBlock;
  }
}

SaCrypto::~SaCrypto() {
  for (auto& s : slots_) {
    Ctx* c = s.load();
    if (!c) continue;
    EVP_CIPHER_CTX_free(c->cipher);
    if (c->mac) EVP_MAC_CTX_free(c->mac);
    delete c;
  }
  OPENSSL_cleanse(keys_.encKey.data(), keys_.encKey.size());
  OPENSSL_cleanse(keys_.integKey.data(), keys_.integKey.size());
  OPENSSL_cleanse(keys_.salt, sizeof keys_.salt);
  if (gcm::Key* k = fast_.load()) {
    OPENSSL_cleanse(k, sizeof *k);
    delete k;
  }
}

SaCrypto::Ctx* SaCrypto::makeCtx() {
  auto* c = new Ctx;
  c->cipher = EVP_CIPHER_CTX_new();
  const EVP_CIPHER* cipher = cipherFor(keys_.enc, keys_.encKey.size());
  bool ok = c->cipher && cipher &&
            EVP_CipherInit_ex(c->cipher, cipher, nullptr, keys_.encKey.data(), nullptr, encrypt_ ? 1 : 0) == 1;
  if (ok && keys_.enc == EncAlg::AesCbc) EVP_CIPHER_CTX_set_padding(c->cipher, 0);  // ESP pads itself
  if (ok && keys_.integ != IntegAlg::None) ok = (c->mac = newHmac(keys_.integ, keys_.integKey)) != nullptr;
  if (!ok) {
    EVP_CIPHER_CTX_free(c->cipher);
    if (c->mac) EVP_MAC_CTX_free(c->mac);
    delete c;
    return nullptr;
  }
  return c;
}

gcm::Key* SaCrypto::fastKey() {
  gcm::Key* k = fast_.load(std::memory_order_acquire);
  if (k) return k;
  auto* mine = new gcm::Key;
  gcm::init(*mine, keys_.encKey.data(), keys_.encKey.size());
  if (fast_.compare_exchange_strong(k, mine, std::memory_order_acq_rel)) return mine;
  OPENSSL_cleanse(mine, sizeof *mine);  // another thread made it first
  delete mine;
  return k;
}

SaCrypto::Ctx* SaCrypto::ctx(int slot) {
  Ctx* c = slots_[slot].load(std::memory_order_acquire);
  if (c) return c;
  c = makeCtx();  // only the slot's own thread creates it: no race on the store
  slots_[slot].store(c, std::memory_order_release);
  return c;
}

bool SaCrypto::macCompute(Ctx* c, const uint8_t* data, size_t len, bool esn, uint32_t seqHi, uint8_t* out) {
  // RFC 4303 §3.3.2.1: with ESN the high 32 bits are appended (not sent) for the ICV.
  uint8_t full[64];
  size_t outl = 0;
  if (!EVP_MAC_init(c->mac, nullptr, 0, nullptr) || !EVP_MAC_update(c->mac, data, len)) return false;
  if (esn) {
    uint8_t hi[4] = {uint8_t(seqHi >> 24), uint8_t(seqHi >> 16), uint8_t(seqHi >> 8), uint8_t(seqHi)};
    if (!EVP_MAC_update(c->mac, hi, 4)) return false;
  }
  if (!EVP_MAC_final(c->mac, full, &outl, sizeof full) || outl < icvLen_) return false;
  memcpy(out, full, icvLen_);
  return true;
}

namespace {
// RFC 4106 §5: AAD is SPI || sequence (8 bytes) or SPI || ESN high || ESN low (12 bytes).
size_t gcmAad(const uint8_t* pkt, bool esn, uint32_t seqHi, uint8_t* aad) {
  memcpy(aad, pkt, 4);
  if (!esn) {
    memcpy(aad + 4, pkt + 4, 4);
    return 8;
  }
  aad[4] = uint8_t(seqHi >> 24); aad[5] = uint8_t(seqHi >> 16); aad[6] = uint8_t(seqHi >> 8); aad[7] = uint8_t(seqHi);
  memcpy(aad + 8, pkt + 4, 4);
  return 12;
}
}  // namespace

bool SaCrypto::seal(int slot, uint8_t* pkt, size_t plainLen, bool esn, uint32_t seqHi) {
  uint8_t* iv = pkt + spec::kEspHeaderLen;
  uint8_t* data = iv + ivLen_;
  if (vector_) {
    uint8_t nonce[12], aad[12];
    memcpy(nonce, keys_.salt, 4);  // RFC 4106 §4: salt || explicit IV
    memcpy(nonce + 4, iv, 8);
    gcm::seal(*fastKey(), nonce, aad, gcmAad(pkt, esn, seqHi, aad), data, plainLen, data + plainLen);
    return true;
  }
  Ctx* c = ctx(slot);
  if (!c) return false;
  int outl = 0;
  if (keys_.enc == EncAlg::AesGcm16) {
    uint8_t nonce[12], aad[12];
    memcpy(nonce, keys_.salt, 4);  // RFC 4106 §4: salt || explicit IV
    memcpy(nonce + 4, iv, 8);
    size_t aadLen = gcmAad(pkt, esn, seqHi, aad);
    if (EVP_CipherInit_ex(c->cipher, nullptr, nullptr, nullptr, nonce, 1) != 1) return false;
    if (EVP_CipherUpdate(c->cipher, nullptr, &outl, aad, int(aadLen)) != 1) return false;
    if (EVP_CipherUpdate(c->cipher, data, &outl, data, int(plainLen)) != 1) return false;
    if (EVP_CipherFinal_ex(c->cipher, data + outl, &outl) != 1) return false;
    return EVP_CIPHER_CTX_ctrl(c->cipher, EVP_CTRL_GCM_GET_TAG, int(icvLen_), data + plainLen) == 1;
  }
  // RFC 3602 §2.4: the CBC IV must be unpredictable: fresh random bytes per packet.
  if (RAND_bytes(iv, int(ivLen_)) != 1) return false;
  if (EVP_CipherInit_ex(c->cipher, nullptr, nullptr, nullptr, iv, 1) != 1) return false;
  if (EVP_CipherUpdate(c->cipher, data, &outl, data, int(plainLen)) != 1 || size_t(outl) != plainLen) return false;
  if (keys_.integ == IntegAlg::None) return true;
  return macCompute(c, pkt, spec::kEspHeaderLen + ivLen_ + plainLen, esn, seqHi, data + plainLen);
}

bool SaCrypto::open(int slot, uint8_t* pkt, size_t len, bool esn, uint32_t seqHi) {
  uint8_t* iv = pkt + spec::kEspHeaderLen;
  uint8_t* data = iv + ivLen_;
  size_t cipherLen = len - spec::kEspHeaderLen - ivLen_ - icvLen_;
  uint8_t* icv = data + cipherLen;
  if (vector_) {
    uint8_t nonce[12], aad[12];
    memcpy(nonce, keys_.salt, 4);
    memcpy(nonce + 4, iv, 8);
    return gcm::open(*fastKey(), nonce, aad, gcmAad(pkt, esn, seqHi, aad), data, cipherLen, icv, icvLen_);
  }
  Ctx* c = ctx(slot);
  if (!c) return false;
  int outl = 0;
  if (keys_.enc == EncAlg::AesGcm16) {
    uint8_t nonce[12], aad[12];
    memcpy(nonce, keys_.salt, 4);
    memcpy(nonce + 4, iv, 8);
    size_t aadLen = gcmAad(pkt, esn, seqHi, aad);
    if (EVP_CipherInit_ex(c->cipher, nullptr, nullptr, nullptr, nonce, 0) != 1) return false;
    if (EVP_CipherUpdate(c->cipher, nullptr, &outl, aad, int(aadLen)) != 1) return false;
    if (EVP_CipherUpdate(c->cipher, data, &outl, data, int(cipherLen)) != 1) return false;
    if (EVP_CIPHER_CTX_ctrl(c->cipher, EVP_CTRL_GCM_SET_TAG, int(icvLen_), icv) != 1) return false;
    return EVP_CipherFinal_ex(c->cipher, data + outl, &outl) == 1;
  }
  if (keys_.integ != IntegAlg::None) {
    // RFC 4303 §3.4.4.1: verify the ICV before decrypting.
    uint8_t want[64];
    if (!macCompute(c, pkt, len - icvLen_, esn, seqHi, want)) return false;
    if (CRYPTO_memcmp(want, icv, icvLen_) != 0) return false;
  }
  if (cipherLen % spec::kAesBlock) return false;
  if (EVP_CipherInit_ex(c->cipher, nullptr, nullptr, nullptr, iv, 0) != 1) return false;
  return EVP_CipherUpdate(c->cipher, data, &outl, data, int(cipherLen)) == 1;
}

bool gcmEvp(bool encrypt, const std::vector<uint8_t>& key, const uint8_t* nonce, const uint8_t* aad, size_t aadLen,
            uint8_t* data, size_t len, uint8_t* tag, size_t tagLen) {
  const EVP_CIPHER* cipher = cipherFor(EncAlg::AesGcm16, key.size());
  EVP_CIPHER_CTX* c = EVP_CIPHER_CTX_new();
  int outl = 0;
  bool ok = c && cipher && EVP_CipherInit_ex(c, cipher, nullptr, key.data(), nonce, encrypt ? 1 : 0) == 1 &&
            (aadLen == 0 || EVP_CipherUpdate(c, nullptr, &outl, aad, int(aadLen)) == 1) &&
            (len == 0 || EVP_CipherUpdate(c, data, &outl, data, int(len)) == 1);
  if (ok && !encrypt) ok = EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, int(tagLen), tag) == 1;
  ok = ok && EVP_CipherFinal_ex(c, data + len, &outl) == 1;
  if (ok && encrypt) ok = EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, int(tagLen), tag) == 1;
  EVP_CIPHER_CTX_free(c);
  return ok;
}

std::vector<uint8_t> integrityKat(IntegAlg alg, const std::vector<uint8_t>& key, const uint8_t* data, size_t len) {
  std::vector<uint8_t> out;
  EVP_MAC_CTX* c = newHmac(alg, key);
  if (!c) return out;
  uint8_t full[64];
  size_t outl = 0;
  if (EVP_MAC_update(c, data, len) && EVP_MAC_final(c, full, &outl, sizeof full))
    out.assign(full, full + icvLenFor(alg));
  EVP_MAC_CTX_free(c);
  return out;
}

}  // namespace segw::esp
