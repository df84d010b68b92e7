// ESP transforms through OpenSSL EVP (the libcrypto inside the node binary):
//   AES-GCM-16 with 128/256-bit keys (RFC 4106), AES-CBC (RFC 3602) with HMAC-SHA2 truncated
//   per RFC 4868, and AES-CBC alone for RFC 3602's ESP test vectors.
// Key schedules are set once per (SA, thread): each packet thread owns a slot and its own EVP
// contexts, created on first use, so packets only set an IV and never lock or allocate.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "esp/gcm.h"
#include "esp/spec.h"

typedef struct evp_cipher_ctx_st EVP_CIPHER_CTX;
typedef struct evp_mac_ctx_st EVP_MAC_CTX;

namespace segw::esp {

enum class EncAlg : uint8_t { AesGcm16, AesCbc };
enum class IntegAlg : uint8_t { None, HmacSha256_128, HmacSha384_192, HmacSha512_256 };

// Threads that run crypto: slot 0 is the JavaScript thread (control and test entry points),
// the pipeline numbers its threads from 1.
constexpr int kMaxCryptoSlots = 16;

struct SuiteKeys {
  EncAlg enc = EncAlg::AesGcm16;
  IntegAlg integ = IntegAlg::None;
  std::vector<uint8_t> encKey;  // AES key (GCM: without the salt)
  uint8_t salt[spec::kGcmSaltLen] = {};
  std::vector<uint8_t> integKey;
};

// Returns an empty string if the keys fit the algorithms, else what is wrong.
std::string validateSuite(const SuiteKeys& k);

class SaCrypto {
 public:
  SaCrypto(const SuiteKeys& keys, bool encrypt);
  ~SaCrypto();
  SaCrypto(const SaCrypto&) = delete;
  SaCrypto& operator=(const SaCrypto&) = delete;

  size_t ivLen() const { return ivLen_; }
  // "vaes" when gcm.h's vector code runs this SA's GCM, else "openssl".
  const char* implementation() const { return vector_ ? "vaes" : "openssl"; }
  size_t icvLen() const { return icvLen_; }
  size_t align() const { return align_; }

  // `pkt` starts at the SPI; the caller wrote SPI, sequence and (GCM: IV) and the plaintext
  // (payload + padding + trailer, `plainLen` bytes) after the IV. Encrypts in place and appends
  // the ICV. `seqHi` is the ESN high half (used only if esn). False on an OpenSSL failure.
  bool seal(int slot, uint8_t* pkt, size_t plainLen, bool esn, uint32_t seqHi);
  // `pkt` is a whole ESP packet of `len` bytes (>= header + IV + ICV). Verifies the ICV and
  // decrypts in place; false if the ICV does not verify.
  bool open(int slot, uint8_t* pkt, size_t len, bool esn, uint32_t seqHi);

 private:
  struct Ctx {
    EVP_CIPHER_CTX* cipher = nullptr;
    EVP_MAC_CTX* mac = nullptr;
  };
  Ctx* ctx(int slot);
  Ctx* makeCtx();
  bool macCompute(Ctx* c, const uint8_t* data, size_t len, bool esn, uint32_t seqHi, uint8_t* out);

  SuiteKeys keys_;
  bool encrypt_;
  // AES-GCM without EVP (gcm.h): key schedule and H powers, made on the SA's first packet (an
  // SA that never carries traffic costs nothing) and then shared read-only by every thread.
  bool vector_ = false;
  std::atomic<gcm::Key*> fast_{nullptr};
  gcm::Key* fastKey();
  size_t ivLen_, icvLen_, align_;
  std::atomic<Ctx*> slots_[kMaxCryptoSlots] = {};
};

// AES-GCM through OpenSSL EVP alone, for comparing gcm.h against it in tests: encrypts (tag
// written) or decrypts in place (false if the tag does not verify).
bool gcmEvp(bool encrypt, const std::vector<uint8_t>& key, const uint8_t* nonce, const uint8_t* aad, size_t aadLen,
            uint8_t* data, size_t len, uint8_t* tag, size_t tagLen);

// Integrity transform alone (for RFC 4868 known-answer tests): truncated HMAC of `data`.
std::vector<uint8_t> integrityKat(IntegAlg alg, const std::vector<uint8_t>& key, const uint8_t* data, size_t len);

}  // namespace segw::esp
