// The cluster key: 32 secret bytes shared by every node, stored as hex in a file of mode 0600.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/result.h"

namespace raftdns::replication {

inline constexpr std::size_t kClusterKeyBytes = 32;

struct Key {
  std::array<std::uint8_t, kClusterKeyBytes> bytes{};

  friend bool operator==(const Key&, const Key&) = default;
};

// A fresh key from libsodium's CSPRNG.
Key generate_key();

// Creates `path` (O_EXCL, mode 0600) holding a new random key as 64 hex digits and a newline.
// Refuses to overwrite an existing file; every error names the file.
Status init_key_file(const std::string& path);

// Reads a key written by init_key_file. Refuses a file that group or others may access, a
// non-regular file, and content that is not exactly 64 hex digits (surrounding whitespace is
// allowed). Every error names the file.
Result<Key> load_key_file(const std::string& path);

}  // namespace raftdns::replication
