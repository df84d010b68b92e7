// Per-packet ESP processing (RFC 4303), split in the stages the pipeline runs them in.
//
//   outbound: allocSeq (reader, per batch) -> espSeal (crypto worker)
//   inbound:  espPrecheck (reader: header, replay check) -> espOpen (crypto worker: ICV,
//             decrypt, trailer) -> espCommit (ordered writer: replay update) -> tunnelCheck
//
// Each stage returns a Verdict: a dropped packet's reason is a value that is counted, never an
// exception. Nothing here allocates, locks (except espCommit's per-SA replay lock) or logs.
#pragma once
#include <cstddef>
#include <cstdint>

#include "esp/sa.h"

namespace segw::esp {

enum class Verdict : uint8_t {
  Ok,
  Dummy,           // RFC 4303 §2.6 next header 59 (TFC): valid, silently dropped
  NoSa,            // unknown SPI
  Replay,          // duplicate or left of the window (RFC 4303 §3.4.3)
  Integrity,       // ICV did not verify (RFC 4303 §3.4.4)
  Truncated,       // shorter than header + IV + trailer + ICV
  Malformed,       // ciphertext not a whole number of blocks
  BadPadding,      // pad length past the payload, or padding bytes not 1, 2, 3, ... (§2.4)
  BadNextHeader,   // not IPv4/IPv6 (or 59) in tunnel mode
  BadInner,        // inner IP header malformed or of the other version than next header says
  PolicyMismatch,  // inner addresses outside the SA's selectors (RFC 4301 §5.2)
  SaDead,          // hard lifetime reached
  SeqOverflow,     // RFC 4303 §3.3.3: the counter would cycle
  NoPolicy,        // outbound packet matches no policy, or its policy has no SA
  TooBig,          // does not fit a buffer
  CryptoError,     // OpenSSL failure on encrypt
  Count
};
const char* verdictName(Verdict v);

// Reserves `n` sequence numbers; returns the first, or 0 if the counter would pass its limit.
uint64_t allocSeq(Sa& sa, uint32_t n);

// Bytes an inner packet of `innerLen` becomes as ESP (header, IV, padding, trailer, ICV).
size_t espLength(const Sa& sa, size_t innerLen);
// Offset of the inner packet inside the ESP packet (header + IV).
inline size_t espPayloadOffset(const Sa& sa) { return spec::kEspHeaderLen + sa.crypto->ivLen(); }

// `pkt` holds the inner packet at espPayloadOffset(sa) and room for espLength(sa, innerLen)
// bytes; writes header, IV, padding, trailer and ICV around it, encrypting in place.
Verdict espSeal(Sa& sa, int slot, uint8_t* pkt, size_t innerLen, uint8_t nextHeader, uint64_t seq);

struct Opened {
  uint64_t seq = 0;          // full (ESN-inferred) sequence number
  uint8_t nextHeader = 0;
  size_t payloadOff = 0, payloadLen = 0;
};
// Header and replay check before any crypto; fills o.seq.
Verdict espPrecheck(Sa& sa, const uint8_t* pkt, size_t len, Opened& o);
// ICV check, decryption in place, trailer checks; fills the payload span and next header.
Verdict espOpen(Sa& sa, int slot, uint8_t* pkt, size_t len, Opened& o);
// Marks the sequence number received (after the ICV verified); Replay if it lost a race.
Verdict espCommit(Sa& sa, const Opened& o);
// The same with sa.replayMu already held (a writer commits a run of one SA's packets).
Verdict espCommitLocked(Sa& sa, const Opened& o);
// Tunnel mode (RFC 4303 §3.1.2): the payload must be one IP packet of the version that next
// header names, inside the SA's selectors; trims TFC padding (§2.4) after the IP packet.
Verdict tunnelCheck(const Sa& sa, uint8_t nextHeader, const uint8_t* ip, size_t& len);

}  // namespace segw::esp
