// Fuzz build only (forced in with -include for native/src/esp/gcm.cc): clang 14, Debian's,
// does not know the "vaes" and "vpclmulqdq" names of __builtin_cpu_supports that GCC (the
// addon's compiler) accepts. This answers the same question from CPUID, so the fuzzer runs the
// same GCM code (vector or OpenSSL) the addon runs on this machine.
#pragma once
#include <cpuid.h>
#include <cstring>

static inline bool segw_fuzz_cpu_supports(const char* f) {
  unsigned a, b, c, d, a7 = 0, b7 = 0, c7 = 0, d7 = 0;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return false;
  __get_cpuid_count(7, 0, &a7, &b7, &c7, &d7);
  bool osxsave = c & (1u << 27);
  unsigned long long xcr0 = 0;
  if (osxsave) {
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    xcr0 = (unsigned long long)hi << 32 | lo;
  }
  bool avx = (xcr0 & 0x6) == 0x6, avx512 = (xcr0 & 0xe6) == 0xe6;
  if (!strcmp(f, "aes")) return c & (1u << 25);
  if (!strcmp(f, "pclmul")) return c & (1u << 1);
  if (!strcmp(f, "avx2")) return avx && (b7 & (1u << 5));
  if (!strcmp(f, "avx512f")) return avx512 && (b7 & (1u << 16));
  if (!strcmp(f, "avx512bw")) return avx512 && (b7 & (1u << 30));
  if (!strcmp(f, "avx512vl")) return avx512 && (b7 & (1u << 31));
  if (!strcmp(f, "vaes")) return avx && (c7 & (1u << 9));
  if (!strcmp(f, "vpclmulqdq")) return avx && (c7 & (1u << 10));
  return false;
}
#define __builtin_cpu_supports(f) segw_fuzz_cpu_supports(f)
