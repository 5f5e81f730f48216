// Name: a DNS domain name held in uncompressed wire form, inline (no heap).
//
// Contract shared by wire, zone, store and query:
//  - the bytes are the RFC 1035 §3.1 wire form: length-prefixed labels ending
//    in the zero-length root label; the original case is preserved;
//  - equality and ordering ignore ASCII case;
//  - canonical_key() gives a byte string whose memcmp order is the RFC 4034
//    §6.1 canonical order, which the store uses as its key.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "common/result.h"

namespace raftdns::wire {

inline constexpr size_t kMaxNameLength = 255;  // wire octets, including the root label
inline constexpr size_t kMaxLabelLength = 63;
inline constexpr size_t kMaxLabels = 128;

class Name {
 public:
  // The root name ".".
  Name() noexcept;

  // Parses presentation form ("www.example.com.", "www", "\\046.x", "\\.x").
  // A name without a trailing dot is relative and is completed with `origin`;
  // without an origin it is treated as absolute. "@" is the origin itself.
  static Result<Name> from_text(std::string_view text, const Name* origin = nullptr);

  // Takes an uncompressed wire-form name. Fails on bad label lengths, a
  // missing root label, trailing bytes or a name longer than 255 octets.
  static Result<Name> from_wire(std::span<const uint8_t> wire);
  // The same checks without building an error: on success replaces this name
  // and returns true; on failure returns false and leaves it unchanged. For
  // the allocation-free query path.
  bool assign_from_wire(std::span<const uint8_t> wire) noexcept;

  // Presentation form with a trailing dot; non-printable and special octets
  // escaped as \DDD or \X.
  std::string to_text() const;

  std::span<const uint8_t> wire() const noexcept { return {bytes_.data(), len_}; }
  size_t wire_length() const noexcept { return len_; }
  // Number of labels, not counting the root label ("." has 0).
  size_t label_count() const noexcept { return labels_; }
  // The i-th label from the left (0 = leftmost), without its length octet.
  std::span<const uint8_t> label(size_t i) const noexcept;

  bool is_root() const noexcept { return labels_ == 0; }
  bool is_wildcard() const noexcept;  // leftmost label is "*"

  // True when this name equals `ancestor` or lies below it (case-insensitive).
  bool is_subdomain_of(const Name& ancestor) const noexcept;

  // Drops the `n` leftmost labels (n <= label_count()).
  Name strip_left(size_t n) const noexcept;
  Name parent() const noexcept { return strip_left(labels_ == 0 ? 0 : 1); }

  // "*" + this name. Fails only if the result would exceed 255 octets.
  Result<Name> wildcard_child() const;

  // Replaces the suffix `old_suffix` (which this name must be below) with
  // `new_suffix`; fails with YXDOMAIN-worthy overflow if the result is too long.
  // Used for DNAME substitution (RFC 6672 §2.2).
  Result<Name> replace_suffix(const Name& old_suffix, const Name& new_suffix) const;

  // Same name, ASCII-lowercased.
  Name lowercased() const noexcept;

  // Byte string whose memcmp order is the RFC 4034 §6.1 canonical order:
  // labels from the rightmost, lowercased, each followed by a 0x00 separator,
  // with 0x00 and 0x01 inside labels escaped as 0x01 0x01 and 0x01 0x02.
  std::string canonical_key() const;
  // The inverse of canonical_key(); fails on malformed keys.
  static Result<Name> from_canonical_key(std::string_view key);

  // Case-insensitive comparisons; compare() follows canonical order.
  int compare(const Name& other) const noexcept;
  friend bool operator==(const Name& a, const Name& b) noexcept;
  friend bool operator!=(const Name& a, const Name& b) noexcept { return !(a == b); }
  friend bool operator<(const Name& a, const Name& b) noexcept { return a.compare(b) < 0; }

  // Hash consistent with operator== (case-insensitive).
  size_t hash() const noexcept;

 private:
  std::array<uint8_t, kMaxNameLength> bytes_{};
  uint16_t len_ = 1;
  uint8_t labels_ = 0;
};

struct NameHash {
  size_t operator()(const Name& n) const noexcept { return n.hash(); }
};

}  // namespace raftdns::wire
