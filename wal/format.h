// On-disk layout of WAL segments and the meta log: constants and little-endian codecs (see log.h).
#pragma once

#include <cstdint>
#include <cstring>

#include "common/bytes.h"
#include "wal/crc32c.h"

namespace raftdns::wal::format {

inline constexpr char kSegmentMagic[8] = {'R', 'D', 'N', 'S', 'W', 'A', 'L', '\0'};
inline constexpr char kMetaMagic[8] = {'R', 'D', 'N', 'S', 'M', 'E', 'T', 'A'};
inline constexpr uint32_t kVersion = 1;

inline constexpr uint64_t kFileHeaderSize = 64;  // both file kinds
inline constexpr uint64_t kFileHeaderCrcAt = 60;
inline constexpr uint32_t kFlagChainStart = 1;

inline constexpr uint64_t kRecordHeaderSize = 32;
inline constexpr uint64_t kRecordHeaderCrcAt = 24;  // covers bytes 0-23 and 28-31
inline constexpr uint64_t kRecordLagAt = 28;        // 24 bits
inline constexpr uint8_t kRecordMarker = 0xA5;      // last byte of header and of record
inline constexpr uint32_t kMaxPayload = 1u << 30;
inline constexpr uint32_t kLagUnknown = 0xFFFFFFu;

inline constexpr uint64_t kMetaRecordSize = 64;
inline constexpr uint64_t kMetaCrcAt = 56;

// The sector size a lost write is assumed to leave zeroed.
inline constexpr uint64_t kSectorSize = 512;

inline constexpr uint64_t record_size(uint64_t payload_len) {
  return (kRecordHeaderSize + payload_len + 1 + 7) & ~uint64_t{7};
}

// The on-disk integers are little-endian on every host.
inline void put32(uint8_t* p, uint32_t v) { bytes::store_u32_le(p, v); }
inline void put64(uint8_t* p, uint64_t v) { bytes::store_u64_le(p, v); }
inline uint32_t get32(const uint8_t* p) { return bytes::load_u32_le(p); }
inline uint64_t get64(const uint8_t* p) { return bytes::load_u64_le(p); }

// CRC32C over a record header, skipping its own checksum field.
inline uint32_t record_header_crc(const uint8_t* h) {
  return crc32c_extend(crc32c(h, kRecordHeaderCrcAt), h + kRecordLagAt,
                       kRecordHeaderSize - kRecordLagAt);
}

inline bool all_zero(const uint8_t* p, uint64_t n) {
  while (n >= 8) {
    if (get64(p) != 0) return false;
    p += 8;
    n -= 8;
  }
  while (n--) {
    if (*p++ != 0) return false;
  }
  return true;
}

}  // namespace raftdns::wal::format
