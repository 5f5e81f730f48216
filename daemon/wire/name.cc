// Domain names: presentation and wire parsing, canonical ordering and keys.
#include "daemon/wire/name.h"

#include <algorithm>
#include <cstring>

#include "common/bytes.h"

namespace raftdns::wire {
namespace {

inline uint8_t lower(uint8_t c) noexcept { return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c; }

// Characters that must be escaped as \X in presentation form because the
// master-file syntax gives them a meaning.
bool is_special(uint8_t c) noexcept {
  switch (c) {
    case '.':
    case '\\':
    case '"':
    case ';':
    case '(':
    case ')':
    case '@':
    case '$':
      return true;
    default:
      return false;
  }
}

// Compares two labels in RFC 4034 §6.1 order: lowercased octets, then length.
int compare_labels(std::span<const uint8_t> a, std::span<const uint8_t> b) noexcept {
  size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    uint8_t x = lower(a[i]), y = lower(b[i]);
    if (x != y) return x < y ? -1 : 1;
  }
  if (a.size() == b.size()) return 0;
  return a.size() < b.size() ? -1 : 1;
}

// Offsets of each label's length octet, leftmost first.
size_t label_offsets(std::span<const uint8_t> wire, uint8_t* out) noexcept {
  size_t n = 0, pos = 0;
  while (pos < wire.size() && wire[pos] != 0) {
    out[n++] = static_cast<uint8_t>(pos);
    pos += 1 + wire[pos];
  }
  return n;
}

}  // namespace

Name::Name() noexcept { bytes_[0] = 0; }

Result<Name> Name::from_text(std::string_view text, const Name* origin) {
  if (text.empty()) return make_error("empty domain name");
  if (text == "@") {
    if (origin) return *origin;
    return Name();
  }
  if (text == ".") return Name();

  Name n;
  size_t pos = 0;          // write position in bytes_
  size_t label_start = 0;  // offset of the current label's length octet
  size_t label_len = 0;
  bool absolute = false;
  std::array<uint8_t, 256> buf{};  // one octet of slack to detect overflow
  buf[0] = 0;
  pos = 1;
  size_t labels = 0;

  auto text_error = [&](const char* why) {
    return make_error("bad domain name '" + std::string(text) + "': " + why);
  };

  for (size_t i = 0; i < text.size(); ++i) {
    uint8_t c = static_cast<uint8_t>(text[i]);
    if (c == '.') {
      if (label_len == 0) return text_error("empty label");
      buf[label_start] = static_cast<uint8_t>(label_len);
      ++labels;
      label_start = pos;
      label_len = 0;
      if (pos >= kMaxNameLength) return text_error("name longer than 255 octets");
      buf[pos++] = 0;
      if (i + 1 == text.size()) absolute = true;
      continue;
    }
    if (c == '\\') {
      if (i + 1 >= text.size()) return text_error("dangling backslash");
      uint8_t d = static_cast<uint8_t>(text[i + 1]);
      if (d >= '0' && d <= '9') {
        if (i + 3 >= text.size()) return text_error("short \\DDD escape");
        unsigned v = 0;
        for (size_t k = 1; k <= 3; ++k) {
          uint8_t e = static_cast<uint8_t>(text[i + k]);
          if (e < '0' || e > '9') return text_error("bad \\DDD escape");
          v = v * 10 + (e - '0');
        }
        if (v > 255) return text_error("\\DDD escape above 255");
        c = static_cast<uint8_t>(v);
        i += 3;
      } else {
        c = d;
        i += 1;
      }
    }
    if (label_len >= kMaxLabelLength) return text_error("label longer than 63 octets");
    if (pos >= kMaxNameLength) return text_error("name longer than 255 octets");
    buf[pos++] = c;
    ++label_len;
  }
  if (label_len > 0) {
    buf[label_start] = static_cast<uint8_t>(label_len);
    ++labels;
    if (pos >= kMaxNameLength) return text_error("name longer than 255 octets");
    buf[pos++] = 0;
  }
  // buf now holds the labels followed by a root octet.
  if (!absolute && origin && !origin->is_root()) {
    size_t total = pos - 1 + origin->wire_length();
    if (total > kMaxNameLength) return text_error("name longer than 255 octets with origin");
    std::memcpy(buf.data() + pos - 1, origin->bytes_.data(), origin->wire_length());
    pos = total;
    labels += origin->label_count();
  }
  std::memcpy(n.bytes_.data(), buf.data(), pos);
  n.len_ = static_cast<uint16_t>(pos);
  n.labels_ = static_cast<uint8_t>(labels);
  return n;
}

bool Name::assign_from_wire(std::span<const uint8_t> wire) noexcept {
  size_t pos = 0, labels = 0;
  while (true) {
    if (pos >= wire.size()) return false;
    uint8_t len = wire[pos];
    if (len == 0) break;
    if (len > kMaxLabelLength) return false;
    pos += 1 + len;
    ++labels;
    if (pos >= kMaxNameLength) return false;
  }
  if (pos + 1 != wire.size()) return false;
  std::memcpy(bytes_.data(), wire.data(), wire.size());
  len_ = static_cast<uint16_t>(wire.size());
  labels_ = static_cast<uint8_t>(labels);
  return true;
}

Result<Name> Name::from_wire(std::span<const uint8_t> wire) {
  Name n;
  if (n.assign_from_wire(wire)) return n;
  // Re-walk only to say what was wrong.
  size_t pos = 0;
  while (pos < wire.size() && wire[pos] != 0) {
    if (wire[pos] > kMaxLabelLength) return make_error("wire name has a bad label length");
    pos += 1 + wire[pos];
    if (pos >= kMaxNameLength) return make_error("wire name longer than 255 octets");
  }
  if (pos >= wire.size()) return make_error("wire name lacks its root label");
  return make_error("trailing bytes after wire name");
}

std::string Name::to_text() const {
  if (labels_ == 0) return ".";
  std::string out;
  out.reserve(len_ + 8);
  size_t pos = 0;
  while (bytes_[pos] != 0) {
    uint8_t ll = bytes_[pos];
    for (size_t i = 1; i <= ll; ++i) {
      uint8_t c = bytes_[pos + i];
      // Only letters, digits and - _ * / go out bare: master-file parsers
      // differ on other punctuation, and \DDD reads back the same everywhere.
      bool bare = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_' || c == '*' || c == '/';
      if (!bare && !is_special(c)) {
        char esc[5];
        esc[0] = '\\';
        esc[1] = static_cast<char>('0' + c / 100);
        esc[2] = static_cast<char>('0' + (c / 10) % 10);
        esc[3] = static_cast<char>('0' + c % 10);
        esc[4] = 0;
        out.append(esc, 4);
      } else if (is_special(c)) {
        out.push_back('\\');
        out.push_back(static_cast<char>(c));
      } else {
        out.push_back(static_cast<char>(c));
      }
    }
    out.push_back('.');
    pos += 1 + ll;
  }
  return out;
}

std::span<const uint8_t> Name::label(size_t i) const noexcept {
  size_t pos = 0;
  for (size_t k = 0; k < i && bytes_[pos] != 0; ++k) pos += 1 + bytes_[pos];
  return {bytes_.data() + pos + 1, bytes_[pos]};
}

bool Name::is_wildcard() const noexcept {
  return labels_ > 0 && bytes_[0] == 1 && bytes_[1] == '*';
}

bool Name::is_subdomain_of(const Name& ancestor) const noexcept {
  if (ancestor.labels_ > labels_) return false;
  Name tail = strip_left(labels_ - ancestor.labels_);
  return tail == ancestor;
}

Name Name::strip_left(size_t n) const noexcept {
  if (n > labels_) n = labels_;
  size_t pos = 0;
  for (size_t k = 0; k < n; ++k) pos += 1 + bytes_[pos];
  Name out;
  std::memcpy(out.bytes_.data(), bytes_.data() + pos, len_ - pos);
  out.len_ = static_cast<uint16_t>(len_ - pos);
  out.labels_ = static_cast<uint8_t>(labels_ - n);
  return out;
}

Result<Name> Name::wildcard_child() const {
  if (len_ + 2u > kMaxNameLength) return make_error("wildcard of " + to_text() + " is too long");
  Name out;
  out.bytes_[0] = 1;
  out.bytes_[1] = '*';
  std::memcpy(out.bytes_.data() + 2, bytes_.data(), len_);
  out.len_ = static_cast<uint16_t>(len_ + 2);
  out.labels_ = static_cast<uint8_t>(labels_ + 1);
  return out;
}

Result<Name> Name::replace_suffix(const Name& old_suffix, const Name& new_suffix) const {
  if (!is_subdomain_of(old_suffix)) {
    return make_error(to_text() + " is not below " + old_suffix.to_text());
  }
  size_t prefix_len = len_ - old_suffix.len_;
  size_t total = prefix_len + new_suffix.len_;
  if (total > kMaxNameLength) {
    return make_error("substituting " + new_suffix.to_text() + " into " + to_text() +
                      " exceeds 255 octets");
  }
  Name out;
  std::memcpy(out.bytes_.data(), bytes_.data(), prefix_len);
  std::memcpy(out.bytes_.data() + prefix_len, new_suffix.bytes_.data(), new_suffix.len_);
  out.len_ = static_cast<uint16_t>(total);
  out.labels_ = static_cast<uint8_t>(labels_ - old_suffix.labels_ + new_suffix.labels_);
  return out;
}

Name Name::lowercased() const noexcept {
  Name out = *this;
  size_t pos = 0;
  while (out.bytes_[pos] != 0) {
    uint8_t ll = out.bytes_[pos];
    for (size_t i = 1; i <= ll; ++i) out.bytes_[pos + i] = lower(out.bytes_[pos + i]);
    pos += 1 + ll;
  }
  return out;
}

std::string Name::canonical_key() const {
  std::string key;
  key.reserve(len_ + 4);
  uint8_t offs[kMaxLabels];
  size_t n = label_offsets(wire(), offs);
  for (size_t k = n; k-- > 0;) {
    size_t pos = offs[k];
    uint8_t ll = bytes_[pos];
    for (size_t i = 1; i <= ll; ++i) {
      uint8_t c = lower(bytes_[pos + i]);
      if (c == 0x00) {
        key.push_back('\x01');
        key.push_back('\x01');
      } else if (c == 0x01) {
        key.push_back('\x01');
        key.push_back('\x02');
      } else {
        key.push_back(static_cast<char>(c));
      }
    }
    key.push_back('\0');
  }
  return key;
}

Result<Name> Name::from_canonical_key(std::string_view key) {
  // Decode labels rightmost-first, then assemble them left to right.
  std::array<std::array<uint8_t, kMaxLabelLength>, kMaxLabels> labels{};
  std::array<uint8_t, kMaxLabels> lens{};
  size_t n = 0, cur = 0;
  bool in_label = false;
  for (size_t i = 0; i < key.size(); ++i) {
    uint8_t c = static_cast<uint8_t>(key[i]);
    if (c == 0x00) {
      if (!in_label || cur == 0) return make_error("canonical key has an empty label");
      lens[n++] = static_cast<uint8_t>(cur);
      cur = 0;
      in_label = false;
      continue;
    }
    if (n >= kMaxLabels) return make_error("canonical key has too many labels");
    if (c == 0x01) {
      if (i + 1 >= key.size()) return make_error("canonical key has a dangling escape");
      uint8_t e = static_cast<uint8_t>(key[++i]);
      if (e == 0x01) {
        c = 0x00;
      } else if (e == 0x02) {
        c = 0x01;
      } else {
        return make_error("canonical key has a bad escape");
      }
    }
    if (cur >= kMaxLabelLength) return make_error("canonical key label longer than 63 octets");
    labels[n][cur++] = c;
    in_label = true;
  }
  if (in_label) return make_error("canonical key lacks a final separator");
  std::array<uint8_t, kMaxNameLength + kMaxLabelLength + 2> wire{};
  size_t pos = 0;
  for (size_t k = n; k-- > 0;) {
    if (pos + 1 + lens[k] + 1 > kMaxNameLength) return make_error("canonical key name too long");
    wire[pos++] = lens[k];
    std::memcpy(wire.data() + pos, labels[k].data(), lens[k]);
    pos += lens[k];
  }
  wire[pos++] = 0;
  return from_wire({wire.data(), pos});
}

int Name::compare(const Name& other) const noexcept {
  uint8_t a_offs[kMaxLabels], b_offs[kMaxLabels];
  size_t na = label_offsets(wire(), a_offs);
  size_t nb = label_offsets(other.wire(), b_offs);
  size_t common = std::min(na, nb);
  for (size_t k = 1; k <= common; ++k) {
    size_t pa = a_offs[na - k], pb = b_offs[nb - k];
    int c = compare_labels({bytes_.data() + pa + 1, bytes_[pa]},
                           {other.bytes_.data() + pb + 1, other.bytes_[pb]});
    if (c != 0) return c;
  }
  if (na == nb) return 0;
  return na < nb ? -1 : 1;
}

bool operator==(const Name& a, const Name& b) noexcept {
  if (a.len_ != b.len_ || a.labels_ != b.labels_) return false;
  // Length octets are < 64, so lowering them is harmless.
  for (size_t i = 0; i < a.len_; ++i) {
    if (lower(a.bytes_[i]) != lower(b.bytes_[i])) return false;
  }
  return true;
}

size_t Name::hash() const noexcept {
  uint64_t h = bytes::kFnv64Offset;
  for (size_t i = 0; i < len_; ++i) h = bytes::fnv1a64_step(h, lower(bytes_[i]));
  return static_cast<size_t>(h);
}

}  // namespace raftdns::wire
