// Spec constants of the ESP data plane, each with the section that defines it. Implementation
// constants (batch sizes, buffer sizes) live in pipeline.h, apart from these.
#pragma once
#include <cstddef>
#include <cstdint>

namespace segw::esp::spec {

// RFC 4303 §2: SPI (4) + Sequence Number (4) precede the payload.
constexpr size_t kEspHeaderLen = 8;
// RFC 4303 §2.1: SPI values 1..255 are reserved by IANA; 0 is for local use only.
constexpr uint32_t kSpiReservedMax = 255;
// RFC 4303 §2.4/§2.5: trailer = Pad Length (1) + Next Header (1), and the padded plaintext
// (payload + padding + trailer) ends on a 4-byte boundary.
constexpr size_t kTrailerLen = 2;
constexpr size_t kMinAlign = 4;
constexpr size_t kMaxPadLen = 255;
// RFC 4303 §2.6: next header 59 marks a dummy (TFC) packet the receiver silently discards.
constexpr uint8_t kNextHeaderNone = 59;
// RFC 4303 §3.1.2 tunnel mode: the payload is a whole IP packet (IANA protocol numbers).
constexpr uint8_t kNextHeaderIpv4 = 4;
constexpr uint8_t kNextHeaderIpv6 = 41;

// RFC 4106 §3.1 / §4: 8-byte explicit IV; nonce = 4-byte salt || IV; §5 AAD = SPI || seq
// (8 bytes) or SPI || ESN (12 bytes); §6 ICV 16 bytes for the "-16" variants (ESP-GCM-16).
constexpr size_t kGcmIvLen = 8;
constexpr size_t kGcmSaltLen = 4;
constexpr size_t kGcmIcvLen = 16;
// RFC 3602 §3: AES-CBC IV is one 16-byte block, padding aligns to the block size.
constexpr size_t kCbcIvLen = 16;
constexpr size_t kAesBlock = 16;
// RFC 4868 §2.3: HMAC-SHA-256-128 / -384-192 / -512-256 truncation lengths.
constexpr size_t kSha256IcvLen = 16;
constexpr size_t kSha384IcvLen = 24;
constexpr size_t kSha512IcvLen = 32;

// RFC 4303 §3.3.3: without ESN the 32-bit counter MUST NOT cycle; with ESN the 64-bit one.
constexpr uint64_t kSeqMax32 = 0xffffffffull;
constexpr uint64_t kSeqMax64 = 0xffffffffffffffffull;

// RFC 3948 §2.2: the non-ESP marker (4 zero bytes) in front of IKE on the NAT-T port;
// §2.3: a NAT-keepalive is one byte 0xFF; §2.1: the port is 4500.
constexpr size_t kNonEspMarkerLen = 4;
constexpr uint8_t kNatKeepalive = 0xff;
constexpr uint16_t kNatTPort = 4500;

// RFC 4301 §4.4.1.1 / RFC 7296 §3.13.1: for ICMP the selector's "port" is type << 8 | code.
constexpr uint8_t kProtoIcmp = 1;
constexpr uint8_t kProtoTcp = 6;
constexpr uint8_t kProtoUdp = 17;
constexpr uint8_t kProtoIcmpv6 = 58;
constexpr uint8_t kProtoSctp = 132;
constexpr uint8_t kProtoEsp = 50;

}  // namespace segw::esp::spec
