// AES-GCM (NIST SP 800-38D) with VAES and VPCLMULQDQ on 512-bit vectors, for the packet path.
//
// Why not OpenSSL: the OpenSSL 3.0 inside Node 20 has no VAES code path for GCM (its best is
// the 6-block AVX stitch, ~1.1 cycles/byte here at 1400 bytes), and every EVP call with a new
// IV goes through the provider's parameter plumbing (string compares, IV length queries), which
// costs as much as the cipher on a small packet. Here a packet is one call and one pass over
// the data: counters and AES four blocks per instruction, interleaved with GHASH of the same
// registers (16 blocks per reduction); the key schedule and H powers are computed once per SA
// and shared read-only by every thread (no per-thread context).
//
// Opt-in and experimental: the engine's AES-GCM is OpenSSL's EVP (crypto.cc) unless this code
// is selected (SEGW_ESP_GCM=vaes in the environment, or espGcmSelect('vaes') from the addon),
// the CPU has VAES, VPCLMULQDQ, AVX512F/BW/VL (checked at run time) and the key is 128 or 256
// bits. It is not the default because hand-written cipher code in a security gateway needs an
// independent review that this has not had; EVP is OpenSSL's audited code. The choice applies
// to SAs added after it is made. test/native/esp-gcm.test.ts compares the two on random inputs
// of every length and runs the RFC and NIST vectors through both.
// Constant time: AES rounds and carry-less multiplies are instructions with data-independent
// timing; the tag compare reads every byte.
#pragma once
#include <cstddef>
#include <cstdint>

namespace segw::esp::gcm {

struct Key {
  alignas(64) uint8_t roundKeys[15][16];
  int rounds = 0;
  // GHASH key powers, bit-reflected and pre-multiplied by x^-1: H^16 .. H^1, then 16 zero
  // entries, so a tail of k blocks loads its powers H^k .. H^1 from entry 16 - k.
  alignas(64) uint8_t powers[32][16];
};

// True if this CPU can run the vector code.
bool cpuSupported();
// True if SAs added now use the vector code (selected, and the CPU supports it).
bool enabled();
// Selects the vector code (true) or EVP (false) for SAs added from now on; false if the vector
// code was asked for and the CPU cannot run it (the selection is then unchanged).
bool select(bool vector);
// Key schedule and H powers; false for key lengths other than 16 and 32 bytes.
bool init(Key& k, const uint8_t* key, size_t keyLen);
// Encrypts `len` bytes of `data` in place and writes the 16-byte tag. `nonce` is 12 bytes.
void seal(const Key& k, const uint8_t* nonce, const uint8_t* aad, size_t aadLen, uint8_t* data, size_t len,
          uint8_t* tag);
// Decrypts in place and verifies the first `tagLen` bytes of the tag, in the same pass; false
// if the tag does not verify, and then `data` holds unauthenticated plaintext that the caller
// must drop (as with EVP, which also decrypts before its final tag check).
bool open(const Key& k, const uint8_t* nonce, const uint8_t* aad, size_t aadLen, uint8_t* data, size_t len,
          const uint8_t* tag, size_t tagLen);

}  // namespace segw::esp::gcm
