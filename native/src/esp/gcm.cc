// AES-GCM with VAES/VPCLMULQDQ; see gcm.h. Every function that touches vector registers
// carries the target attribute (no file-wide pragma), so nothing here can leak AVX-512 code
// into inline functions shared with the rest of the addon.
//
// GHASH arithmetic (SP 800-38D §6.3) in the bit-reflected form: a block loaded little-endian
// and byte-reversed is a 128-bit integer whose bit j is the coefficient of x^(127-j). A
// carry-less product of two such integers is then x * a * b in the 256-bit reflected form, so
// the second factor is stored pre-multiplied by x^-1 ("twisted", twist()) and the product is
// exactly a * b, reduced modulo P = x^128 + x^7 + x^2 + x + 1 by reduce(). Sixteen blocks share
// one reduction: X' = (X ^ B1) H^16 ^ B2 H^15 ^ ... ^ B16 H.
#include "esp/gcm.h"

#include <immintrin.h>

// GCC 12's AVX-512 intrinsics (broadcast, extract) pass _mm512_undefined_*() as the unused
// merge operand, which its own -Wuninitialized then reports at every use (a known false
// positive of that header).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <atomic>
#include <cstdlib>
#include <cstring>

#define SEGW_GCM_TARGET __attribute__((target("aes,pclmul,ssse3,sse4.1,avx2,avx512f,avx512bw,avx512vl,vaes,vpclmulqdq")))

namespace segw::esp::gcm {
namespace {

SEGW_GCM_TARGET inline __m128i reverseMask() {
  return _mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
}

// Byte 12..15 of each block reversed: the 32-bit block counter (SP 800-38D §6.2, inc32) is kept
// as a little-endian integer in the last dword and turned big-endian just before AES.
SEGW_GCM_TARGET inline __m128i counterMask() {
  return _mm_set_epi8(12, 13, 14, 15, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
}

// a * b mod P for a 256-bit reflected product [hi : mid << 64 : lo] (unreduced sums allowed).
SEGW_GCM_TARGET inline __m128i reduce(__m128i lo, __m128i mid, __m128i hi) {
  lo = _mm_xor_si128(lo, _mm_slli_si128(mid, 8));  // low 128 bits: x^255 .. x^128
  hi = _mm_xor_si128(hi, _mm_srli_si128(mid, 8));  // high 128 bits: x^127 .. x^0
  // x^128 = x^7 + x^2 + x + 1: fold the low half in twice (the second fold is the overflow of
  // the first, at most 7 bits, pre-added into the upper quadword).
  __m128i t = _mm_xor_si128(_mm_xor_si128(_mm_slli_epi64(lo, 63), _mm_slli_epi64(lo, 62)), _mm_slli_epi64(lo, 57));
  __m128i v = _mm_xor_si128(lo, _mm_slli_si128(t, 8));
  __m128i r = _mm_xor_si128(_mm_xor_si128(_mm_srli_epi64(v, 1), _mm_srli_epi64(v, 2)), _mm_srli_epi64(v, 7));
  __m128i c = _mm_srli_si128(v, 8);
  r = _mm_xor_si128(r, _mm_xor_si128(_mm_xor_si128(_mm_slli_epi64(c, 63), _mm_slli_epi64(c, 62)), _mm_slli_epi64(c, 57)));
  return _mm_xor_si128(_mm_xor_si128(hi, v), r);
}

// a * h where `htw` is h twisted.
SEGW_GCM_TARGET inline __m128i mul(__m128i a, __m128i htw) {
  __m128i lo = _mm_clmulepi64_si128(a, htw, 0x00);
  __m128i hi = _mm_clmulepi64_si128(a, htw, 0x11);
  __m128i mid = _mm_xor_si128(_mm_clmulepi64_si128(a, htw, 0x01), _mm_clmulepi64_si128(a, htw, 0x10));
  return reduce(lo, mid, hi);
}

// h * x^-1 mod P: a left shift in the reflected form; x^-1 = x^127 + x^6 + x + 1 enters when
// the x^0 coefficient (bit 127) shifts out.
SEGW_GCM_TARGET inline __m128i twist(__m128i h) {
  __m128i carry = _mm_shuffle_epi32(_mm_srai_epi32(h, 31), 0xff);
  __m128i sh = _mm_or_si128(_mm_slli_epi64(h, 1), _mm_srli_epi64(_mm_slli_si128(h, 8), 63));
  return _mm_xor_si128(sh, _mm_and_si128(carry, _mm_set_epi64x(int64_t(0xC200000000000000ull), 1)));
}

SEGW_GCM_TARGET inline __m128i fold(__m512i v) {
  __m256i t = _mm256_xor_si256(_mm512_castsi512_si256(v), _mm512_extracti64x4_epi64(v, 1));
  return _mm_xor_si128(_mm256_castsi256_si128(t), _mm256_extracti128_si256(t, 1));
}

SEGW_GCM_TARGET inline __mmask64 bytesMask(size_t n) {  // the first n (< 64) bytes
  return n >= 64 ? ~__mmask64(0) : (__mmask64(1) << n) - 1;
}

// FIPS 197 §5.2 key expansion with AESKEYGENASSIST: w[i] = w[i-Nk] ^ f(w[i-1]).
SEGW_GCM_TARGET inline __m128i expand(__m128i prev, __m128i assist, int lane) {
  assist = lane == 3 ? _mm_shuffle_epi32(assist, 0xff) : _mm_shuffle_epi32(assist, 0xaa);
  prev = _mm_xor_si128(prev, _mm_slli_si128(prev, 4));
  prev = _mm_xor_si128(prev, _mm_slli_si128(prev, 4));
  prev = _mm_xor_si128(prev, _mm_slli_si128(prev, 4));
  return _mm_xor_si128(prev, assist);
}

SEGW_GCM_TARGET void expand128(const uint8_t* key, __m128i* rk) {
  rk[0] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(key));
#define SEGW_STEP(i, rcon) rk[i] = expand(rk[i - 1], _mm_aeskeygenassist_si128(rk[i - 1], rcon), 3)
  SEGW_STEP(1, 0x01); SEGW_STEP(2, 0x02); SEGW_STEP(3, 0x04); SEGW_STEP(4, 0x08); SEGW_STEP(5, 0x10);
  SEGW_STEP(6, 0x20); SEGW_STEP(7, 0x40); SEGW_STEP(8, 0x80); SEGW_STEP(9, 0x1b); SEGW_STEP(10, 0x36);
#undef SEGW_STEP
}

SEGW_GCM_TARGET void expand256(const uint8_t* key, __m128i* rk) {
  rk[0] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(key));
  rk[1] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(key + 16));
  // Even round keys take RotWord(SubWord()) with the round constant, odd ones SubWord() only.
#define SEGW_STEP(i, rcon)                                                           \
  rk[i] = expand(rk[i - 2], _mm_aeskeygenassist_si128(rk[i - 1], rcon), 3);          \
  if (i + 1 < 15) rk[i + 1] = expand(rk[i - 1], _mm_aeskeygenassist_si128(rk[i], 0), 2)
  SEGW_STEP(2, 0x01); SEGW_STEP(4, 0x02); SEGW_STEP(6, 0x04); SEGW_STEP(8, 0x08);
  SEGW_STEP(10, 0x10); SEGW_STEP(12, 0x20); SEGW_STEP(14, 0x40);
#undef SEGW_STEP
}

SEGW_GCM_TARGET inline __m128i encryptBlock(const Key& k, __m128i x) {
  const __m128i* rk = reinterpret_cast<const __m128i*>(k.roundKeys);
  x = _mm_xor_si128(x, _mm_load_si128(rk));
  for (int i = 1; i < k.rounds; i++) x = _mm_aesenc_si128(x, _mm_load_si128(rk + i));
  return _mm_aesenclast_si128(x, _mm_load_si128(rk + k.rounds));
}

// GHASH of `len` bytes (the last block zero-padded, §6.4) into x, 16 blocks per reduction
// (used for the AAD; the payload's GHASH runs inside crypt()).
SEGW_GCM_TARGET __m128i ghash(const Key& k, __m128i x, const uint8_t* p, size_t len) {
  const __m512i rev = _mm512_broadcast_i32x4(reverseMask());
  size_t off = 0;
  while (off < len) {
    size_t left = len - off;
    size_t blocks = left >= 256 ? 16 : (left + 15) / 16;
    const uint8_t* hp = k.powers[16 - blocks];
    __m512i lo = _mm512_setzero_si512(), mid = lo, hi = lo;
    for (int j = 0; j < 4; j++) {
      size_t at = size_t(j) * 64;
      if (at >= left) break;
      __m512i d = left >= 256 ? _mm512_loadu_si512(p + off + at) : _mm512_maskz_loadu_epi8(bytesMask(left - at), p + off + at);
      d = _mm512_shuffle_epi8(d, rev);
      if (j == 0) d = _mm512_xor_si512(d, _mm512_inserti32x4(_mm512_setzero_si512(), x, 0));
      __m512i h = _mm512_loadu_si512(hp + at);
      lo = _mm512_xor_si512(lo, _mm512_clmulepi64_epi128(d, h, 0x00));
      hi = _mm512_xor_si512(hi, _mm512_clmulepi64_epi128(d, h, 0x11));
      mid = _mm512_xor_si512(mid, _mm512_xor_si512(_mm512_clmulepi64_epi128(d, h, 0x01), _mm512_clmulepi64_epi128(d, h, 0x10)));
    }
    x = reduce(fold(lo), fold(mid), fold(hi));
    off += blocks * 16;
  }
  return x;
}

// Unreduced GHASH products of one window (up to 16 blocks and the running value).
struct Products {
  __m512i lo, mid, hi;   // four blocks per register
  __m128i xlo, xmid, xhi;  // single blocks (the running value, the length block)
};

SEGW_GCM_TARGET inline void add4(Products& a, __m512i d, __m512i h) {
  a.lo = _mm512_xor_si512(a.lo, _mm512_clmulepi64_epi128(d, h, 0x00));
  a.hi = _mm512_xor_si512(a.hi, _mm512_clmulepi64_epi128(d, h, 0x11));
  a.mid = _mm512_xor_si512(a.mid, _mm512_xor_si512(_mm512_clmulepi64_epi128(d, h, 0x01), _mm512_clmulepi64_epi128(d, h, 0x10)));
}

SEGW_GCM_TARGET inline void add1(Products& a, __m128i d, const uint8_t* power) {
  __m128i h = _mm_load_si128(reinterpret_cast<const __m128i*>(power));
  a.xlo = _mm_xor_si128(a.xlo, _mm_clmulepi64_si128(d, h, 0x00));
  a.xhi = _mm_xor_si128(a.xhi, _mm_clmulepi64_si128(d, h, 0x11));
  a.xmid = _mm_xor_si128(a.xmid, _mm_xor_si128(_mm_clmulepi64_si128(d, h, 0x01), _mm_clmulepi64_si128(d, h, 0x10)));
}

SEGW_GCM_TARGET inline void clear(Products& a) {
  a.lo = a.mid = a.hi = _mm512_setzero_si512();
  a.xlo = a.xmid = a.xhi = _mm_setzero_si128();
}

SEGW_GCM_TARGET inline __m128i reduceAll(const Products& a) {
  return reduce(_mm_xor_si128(fold(a.lo), a.xlo), _mm_xor_si128(fold(a.mid), a.xmid), _mm_xor_si128(fold(a.hi), a.xhi));
}

// GCTR (§6.5, counters from J0 + 1) and GHASH over the ciphertext in one pass, in place;
// returns GHASH(A || C || lengths) with `x` = GHASH(A) on entry. A window is 16 blocks: its
// blocks take H^16 .. H^1 and the running value H^16, so no product waits for the previous
// window's reduction. The last window also takes the length block (§7.1 step 5).
template <bool kEncrypt, int kRounds>
SEGW_GCM_TARGET __m128i crypt(const Key& k, const uint8_t* nonce, __m128i x, size_t aadLen, uint8_t* data, size_t len) {
  // Round keys in registers, rounds unrolled: 15 of the 32 vector registers for AES-256.
  __m512i rk[kRounds + 1];
#pragma GCC unroll 16
  for (int i = 0; i <= kRounds; i++) rk[i] = _mm512_broadcast_i32x4(_mm_load_si128(reinterpret_cast<const __m128i*>(k.roundKeys[i])));
  uint8_t base[16] = {};
  memcpy(base, nonce, 12);
  const __m512i swap = _mm512_broadcast_i32x4(counterMask());
  const __m512i rev = _mm512_broadcast_i32x4(reverseMask());
  const __m512i four = _mm512_set_epi32(4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0);
  __m512i c = _mm512_add_epi32(_mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(base))),
                               _mm512_set_epi32(5, 0, 0, 0, 4, 0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0));
  const __m128i lengths = _mm_set_epi64x(int64_t(uint64_t(aadLen) * 8), int64_t(uint64_t(len) * 8));
  Products a;
  size_t off = 0;
  for (; len - off >= 256; off += 256) {
    uint8_t* p = data + off;
    __m512i c1 = _mm512_add_epi32(c, four), c2 = _mm512_add_epi32(c1, four), c3 = _mm512_add_epi32(c2, four);
    __m512i k0 = _mm512_xor_si512(_mm512_shuffle_epi8(c, swap), rk[0]);
    __m512i k1 = _mm512_xor_si512(_mm512_shuffle_epi8(c1, swap), rk[0]);
    __m512i k2 = _mm512_xor_si512(_mm512_shuffle_epi8(c2, swap), rk[0]);
    __m512i k3 = _mm512_xor_si512(_mm512_shuffle_epi8(c3, swap), rk[0]);
    c = _mm512_add_epi32(c3, four);
    __m512i in0 = _mm512_loadu_si512(p), in1 = _mm512_loadu_si512(p + 64);
    __m512i in2 = _mm512_loadu_si512(p + 128), in3 = _mm512_loadu_si512(p + 192);
    clear(a);
    if (!kEncrypt) {  // GHASH of the ciphertext while the AES rounds run
      add4(a, _mm512_shuffle_epi8(in0, rev), _mm512_loadu_si512(k.powers[0]));
      add4(a, _mm512_shuffle_epi8(in1, rev), _mm512_loadu_si512(k.powers[4]));
      add4(a, _mm512_shuffle_epi8(in2, rev), _mm512_loadu_si512(k.powers[8]));
      add4(a, _mm512_shuffle_epi8(in3, rev), _mm512_loadu_si512(k.powers[12]));
    }
#pragma GCC unroll 16
    for (int i = 1; i < kRounds; i++) {
      k0 = _mm512_aesenc_epi128(k0, rk[i]);
      k1 = _mm512_aesenc_epi128(k1, rk[i]);
      k2 = _mm512_aesenc_epi128(k2, rk[i]);
      k3 = _mm512_aesenc_epi128(k3, rk[i]);
    }
    __m512i o0 = _mm512_xor_si512(_mm512_aesenclast_epi128(k0, rk[kRounds]), in0);
    __m512i o1 = _mm512_xor_si512(_mm512_aesenclast_epi128(k1, rk[kRounds]), in1);
    __m512i o2 = _mm512_xor_si512(_mm512_aesenclast_epi128(k2, rk[kRounds]), in2);
    __m512i o3 = _mm512_xor_si512(_mm512_aesenclast_epi128(k3, rk[kRounds]), in3);
    _mm512_storeu_si512(p, o0);
    _mm512_storeu_si512(p + 64, o1);
    _mm512_storeu_si512(p + 128, o2);
    _mm512_storeu_si512(p + 192, o3);
    if (kEncrypt) {
      add4(a, _mm512_shuffle_epi8(o0, rev), _mm512_loadu_si512(k.powers[0]));
      add4(a, _mm512_shuffle_epi8(o1, rev), _mm512_loadu_si512(k.powers[4]));
      add4(a, _mm512_shuffle_epi8(o2, rev), _mm512_loadu_si512(k.powers[8]));
      add4(a, _mm512_shuffle_epi8(o3, rev), _mm512_loadu_si512(k.powers[12]));
    }
    add1(a, x, k.powers[0]);
    x = reduceAll(a);
  }
  // Last window: the remaining blocks (the last one zero-padded), then the length block.
  size_t left = len - off, blocks = (left + 15) / 16;
  clear(a);
  bool lengthsInWindow = blocks < 16;
  size_t window = blocks + (lengthsInWindow ? 1 : 0);
  const uint8_t* hp = k.powers[16 - window];
  for (size_t at = 0; at < left; at += 64) {
    __mmask64 m = bytesMask(left - at);
    uint8_t* p = data + off + at;
    __m512i in = _mm512_maskz_loadu_epi8(m, p);
    __m512i ks = _mm512_xor_si512(_mm512_shuffle_epi8(c, swap), rk[0]);
#pragma GCC unroll 16
    for (int i = 1; i < kRounds; i++) ks = _mm512_aesenc_epi128(ks, rk[i]);
    __m512i out = _mm512_maskz_mov_epi8(m, _mm512_xor_si512(_mm512_aesenclast_epi128(ks, rk[kRounds]), in));
    _mm512_mask_storeu_epi8(p, m, out);
    add4(a, _mm512_shuffle_epi8(kEncrypt ? out : in, rev), _mm512_loadu_si512(hp + at));
    c = _mm512_add_epi32(c, four);
  }
  if (window > 0) add1(a, x, hp);
  if (lengthsInWindow) {
    add1(a, lengths, k.powers[15]);
    return reduceAll(a);
  }
  x = reduceAll(a);
  return mul(_mm_xor_si128(x, lengths), _mm_load_si128(reinterpret_cast<const __m128i*>(k.powers[15])));
}

template <bool kEncrypt>
SEGW_GCM_TARGET void run(const Key& k, const uint8_t* nonce, const uint8_t* aad, size_t aadLen, uint8_t* data, size_t len,
                         uint8_t* tag) {
  uint8_t j0[16] = {};
  memcpy(j0, nonce, 12);
  j0[15] = 1;  // §7.1 step 2, 96-bit IV: J0 = IV || 0^31 || 1
  __m128i e = encryptBlock(k, _mm_loadu_si128(reinterpret_cast<const __m128i*>(j0)));  // off the critical path
  __m128i x = _mm_setzero_si128();
  if (aadLen > 16) {
    x = ghash(k, x, aad, aadLen);
  } else if (aadLen) {  // ESP: 8 or 12 bytes, one block
    __m128i a = _mm_maskz_loadu_epi8(__mmask16((1u << aadLen) - 1), aad);
    x = mul(_mm_shuffle_epi8(a, reverseMask()), _mm_load_si128(reinterpret_cast<const __m128i*>(k.powers[15])));
  }
  x = k.rounds == 10 ? crypt<kEncrypt, 10>(k, nonce, x, aadLen, data, len) : crypt<kEncrypt, 14>(k, nonce, x, aadLen, data, len);
  // §7.1 step 6: T = E(K, J0) ^ S.
  _mm_storeu_si128(reinterpret_cast<__m128i*>(tag), _mm_xor_si128(e, _mm_shuffle_epi8(x, reverseMask())));
}

SEGW_GCM_TARGET bool initVector(Key& k, const uint8_t* key, size_t keyLen) {
  __m128i rk[15];
  if (keyLen == 16) expand128(key, rk), k.rounds = 10;
  else if (keyLen == 32) expand256(key, rk), k.rounds = 14;
  else return false;
  for (int i = 0; i <= k.rounds; i++) _mm_store_si128(reinterpret_cast<__m128i*>(k.roundKeys[i]), rk[i]);
  // H = E(K, 0^128) (§6.4), reflected; powers H^1 .. H^16, stored twisted from entry 15 down.
  __m128i h = _mm_shuffle_epi8(encryptBlock(k, _mm_setzero_si128()), reverseMask());
  __m128i htw = twist(h), p = h;
  memset(k.powers, 0, sizeof k.powers);
  for (int i = 1; i <= 16; i++) {
    if (i > 1) p = mul(p, htw);
    _mm_store_si128(reinterpret_cast<__m128i*>(k.powers[16 - i]), twist(p));
  }
  volatile uint8_t* wipe = reinterpret_cast<volatile uint8_t*>(rk);
  for (size_t i = 0; i < sizeof rk; i++) wipe[i] = 0;
  return true;
}

bool detect() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("vaes") && __builtin_cpu_supports("vpclmulqdq") &&
         __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("aes") && __builtin_cpu_supports("pclmul");
}

// The selection; its first value comes from SEGW_ESP_GCM ("vaes" selects this code).
std::atomic<bool>& selected() {
  static std::atomic<bool> on{[] {
    const char* env = getenv("SEGW_ESP_GCM");
    return env != nullptr && strcmp(env, "vaes") == 0 && cpuSupported();
  }()};
  return on;
}

}  // namespace

bool cpuSupported() {
  static const bool yes = detect();
  return yes;
}

bool enabled() { return selected().load(std::memory_order_relaxed); }

bool select(bool vector) {
  if (vector && !cpuSupported()) return false;
  selected().store(vector, std::memory_order_relaxed);
  return true;
}

bool init(Key& k, const uint8_t* key, size_t keyLen) { return cpuSupported() && initVector(k, key, keyLen); }

void seal(const Key& k, const uint8_t* nonce, const uint8_t* aad, size_t aadLen, uint8_t* data, size_t len,
          uint8_t* tag) {
  run<true>(k, nonce, aad, aadLen, data, len, tag);
}

bool open(const Key& k, const uint8_t* nonce, const uint8_t* aad, size_t aadLen, uint8_t* data, size_t len,
          const uint8_t* tag, size_t tagLen) {
  uint8_t want[16];
  run<false>(k, nonce, aad, aadLen, data, len, want);
  uint8_t diff = 0;
  for (size_t i = 0; i < tagLen && i < 16; i++) diff |= uint8_t(want[i] ^ tag[i]);
  return diff == 0 && tagLen > 0 && tagLen <= 16;
}

}  // namespace segw::esp::gcm
