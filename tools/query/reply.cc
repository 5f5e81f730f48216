// Bounds-checked section walker and c-ares-backed rdata presentation for raftdns-query.
#include "tools/query/reply.h"

#include <ares.h>
#include <arpa/inet.h>
#include <netdb.h>

#include <cstring>
#include <memory>

#include "tools/query/dns_text.h"

namespace raftdns::query_tool {
namespace {

constexpr size_t kHeaderSize = 12;
constexpr size_t kMaxNameWire = 255;
// More pointers than a 255-octet name has labels means a loop or worse.
constexpr int kMaxPointerHops = 128;

// Cursor over the reply. The first failure is sticky: every later read
// returns zero and keeps the first message, so callers check once per record.
class MessageReader {
 public:
  explicit MessageReader(std::span<const uint8_t> message, size_t offset = 0)
      : message_(message), offset_(offset) {}

  bool failed() const { return !error_.empty(); }
  const std::string& error() const { return error_; }
  size_t offset() const { return offset_; }
  size_t remaining() const { return failed() ? 0 : message_.size() - offset_; }

  void fail(const std::string& why) {
    if (error_.empty()) error_ = why + " at offset " + std::to_string(offset_);
    offset_ = message_.size();
  }

  uint8_t u8() {
    if (!need(1)) return 0;
    return message_[offset_++];
  }
  uint16_t u16() {
    if (!need(2)) return 0;
    uint16_t value = static_cast<uint16_t>(message_[offset_] << 8 | message_[offset_ + 1]);
    offset_ += 2;
    return value;
  }
  uint32_t u32() {
    uint32_t high = u16();
    return high << 16 | u16();
  }
  std::span<const uint8_t> bytes(size_t count) {
    if (!need(count)) return {};
    auto out = message_.subspan(offset_, count);
    offset_ += count;
    return out;
  }

  // Reads a possibly compressed name and returns its uncompressed wire form.
  std::vector<uint8_t> name() {
    std::vector<uint8_t> wire;
    if (failed()) return wire;
    size_t position = offset_;
    size_t resume_at = 0;  // where the cursor continues after the first pointer
    bool jumped = false;
    int hops = 0;
    for (;;) {
      if (position >= message_.size()) {
        fail("name runs past the end of the message");
        return {};
      }
      uint8_t length = message_[position];
      if ((length & 0xC0) == 0xC0) {
        if (position + 1 >= message_.size()) {
          fail("compression pointer cut off by the end of the message");
          return {};
        }
        size_t target = static_cast<size_t>(length & 0x3F) << 8 | message_[position + 1];
        if (target >= position) {
          fail("compression pointer to " + std::to_string(target) + " does not point backwards");
          return {};
        }
        if (++hops > kMaxPointerHops) {
          fail("too many compression pointers in one name");
          return {};
        }
        if (!jumped) resume_at = position + 2;
        jumped = true;
        position = target;
        continue;
      }
      if ((length & 0xC0) != 0) {
        fail("label type " + std::to_string(length >> 6) + " is not supported");
        return {};
      }
      if (length == 0) {
        wire.push_back(0);
        offset_ = jumped ? resume_at : position + 1;
        return wire;
      }
      if (position + 1 + length > message_.size()) {
        fail("label runs past the end of the message");
        return {};
      }
      if (wire.size() + 1 + length + 1 > kMaxNameWire) {
        fail("name longer than 255 octets");
        return {};
      }
      wire.insert(wire.end(), message_.begin() + static_cast<std::ptrdiff_t>(position),
                  message_.begin() + static_cast<std::ptrdiff_t>(position + 1 + length));
      position += 1 + length;
    }
  }

 private:
  bool need(size_t count) {
    if (failed()) return false;
    if (message_.size() - offset_ < count) {
      fail("read of " + std::to_string(count) + " octets runs past the end of the message");
      return false;
    }
    return true;
  }

  std::span<const uint8_t> message_;
  size_t offset_;
  std::string error_;
};

std::string wire_name_to_text(const std::vector<uint8_t>& wire) {
  if (wire.size() <= 1) return ".";
  std::string out;
  size_t position = 0;
  while (position < wire.size() && wire[position] != 0) {
    uint8_t length = wire[position];
    for (size_t i = 1; i <= length; ++i) {
      uint8_t c = wire[position + i];
      if (std::strchr(".;\\()@$\"", c) != nullptr && c != 0) {
        out += '\\';
        out += static_cast<char>(c);
      } else if (c <= 0x20 || c >= 0x7F) {
        out += '\\';
        out += static_cast<char>('0' + c / 100);
        out += static_cast<char>('0' + (c / 10) % 10);
        out += static_cast<char>('0' + c % 10);
      } else {
        out += static_cast<char>(c);
      }
    }
    out += '.';
    position += 1 + length;
  }
  return out;
}

const char* section_name(int section) {
  static const char* const kNames[] = {"question", "answer", "authority", "additional"};
  return kNames[section];
}

std::string generic_rdata(std::span<const uint8_t> rdata) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out = "\\# " + std::to_string(rdata.size());
  if (!rdata.empty()) out += ' ';
  for (uint8_t byte : rdata) {
    out += kHex[byte >> 4];
    out += kHex[byte & 0xF];
  }
  return out;
}

// The record's rdata with every embedded name decompressed, for the types
// whose rdata may carry compressed names (RFC 3597 section 4) or which
// c-ares parses. Fails when the rdata does not match its type's layout.
Result<std::vector<uint8_t>> uncompressed_rdata(std::span<const uint8_t> message,
                                                const ResourceRecord& record) {
  MessageReader reader(message, record.rdata_offset);
  std::vector<uint8_t> out;
  auto copy_name = [&] {
    auto wire = reader.name();
    out.insert(out.end(), wire.begin(), wire.end());
  };
  auto copy_fixed = [&](size_t count) {
    auto bytes = reader.bytes(count);
    out.insert(out.end(), bytes.begin(), bytes.end());
  };
  auto copy_character_string = [&] {
    uint8_t length = reader.u8();
    out.push_back(length);
    copy_fixed(length);
  };
  switch (record.type) {
    case kTypeNs:
    case kTypeCname:
    case kTypeDname:
    case kTypePtr:
      copy_name();
      break;
    case kTypeMx:
      copy_fixed(2);
      copy_name();
      break;
    case kTypeSrv:
      copy_fixed(6);
      copy_name();
      break;
    case kTypeSoa:
      copy_name();
      copy_name();
      copy_fixed(20);
      break;
    case kTypeNaptr:
      copy_fixed(4);
      copy_character_string();
      copy_character_string();
      copy_character_string();
      copy_name();
      break;
    default:
      copy_fixed(record.rdata_length);
      break;
  }
  if (reader.failed()) return make_error("rdata: " + reader.error());
  size_t end = record.rdata_offset + record.rdata_length;
  if (reader.offset() != end) {
    return make_error("rdata is " + std::to_string(record.rdata_length) + " octets but its " +
                      type_to_text(record.type) + " fields take " +
                      std::to_string(reader.offset() - record.rdata_offset));
  }
  return out;
}

// A one-question, one-answer message holding just this record, in class IN,
// with the answer's owner pointing at the question name. c-ares' parsers
// match the answer against the question, so any record from any section can
// go through them this way.
std::vector<uint8_t> single_record_message(const ResourceRecord& record,
                                           const std::vector<uint8_t>& rdata) {
  std::vector<uint8_t> out;
  out.reserve(12 + record.owner_wire.size() + 4 + 12 + rdata.size());
  auto put16 = [&](uint32_t value) {
    out.push_back(static_cast<uint8_t>(value >> 8));
    out.push_back(static_cast<uint8_t>(value));
  };
  put16(0);       // id
  put16(0x8180);  // QR RD RA, NOERROR
  put16(1);       // QDCOUNT
  put16(1);       // ANCOUNT
  put16(0);       // NSCOUNT
  put16(0);       // ARCOUNT
  out.insert(out.end(), record.owner_wire.begin(), record.owner_wire.end());
  put16(record.type);
  put16(kClassIn);
  out.push_back(0xC0);
  out.push_back(0x0C);
  put16(record.type);
  put16(kClassIn);
  put16(record.ttl >> 16);
  put16(record.ttl & 0xFFFF);
  put16(static_cast<uint32_t>(rdata.size()));
  out.insert(out.end(), rdata.begin(), rdata.end());
  return out;
}

std::string cares_text(const unsigned char* text) {
  if (text == nullptr) return "\"\"";
  return quote_character_string(
      std::span<const uint8_t>(text, std::strlen(reinterpret_cast<const char*>(text))));
}

struct HostentDeleter {
  void operator()(hostent* host) const { ares_free_hostent(host); }
};
using HostentPtr = std::unique_ptr<hostent, HostentDeleter>;

struct DataDeleter {
  void operator()(void* data) const { ares_free_data(data); }
};
template <class T>
using CaresList = std::unique_ptr<T, DataDeleter>;

// Runs the c-ares parser for the record's type over the single-record
// message. Returns nullopt when the type has no c-ares parser, and an error
// when the parser refused the rdata.
std::optional<Result<RdataText>> present_with_cares(const std::vector<uint8_t>& message,
                                                    const ResourceRecord& record,
                                                    size_t rdata_offset) {
  const unsigned char* buf = message.data();
  const int len = static_cast<int>(message.size());
  auto refused = [&](int status) -> Result<RdataText> {
    return make_error(std::string("c-ares could not parse this ") + type_to_text(record.type) +
                      " rdata: " + ares_strerror(status));
  };
  RdataText out;
  out.parsed_by_cares = true;
  const bool is_internet = record.rclass == kClassIn;
  switch (record.type) {
    case kTypeA: {
      if (!is_internet) return std::nullopt;
      ares_addrttl address[1];
      int count = 1;
      int status = ares_parse_a_reply(buf, len, nullptr, address, &count);
      if (status != ARES_SUCCESS) return refused(status);
      if (count != 1) return refused(ARES_ENODATA);
      char text[INET_ADDRSTRLEN];
      inet_ntop(AF_INET, &address[0].ipaddr, text, sizeof text);
      out.text = text;
      return out;
    }
    case kTypeAaaa: {
      if (!is_internet) return std::nullopt;
      ares_addr6ttl address[1];
      int count = 1;
      int status = ares_parse_aaaa_reply(buf, len, nullptr, address, &count);
      if (status != ARES_SUCCESS) return refused(status);
      if (count != 1) return refused(ARES_ENODATA);
      char text[INET6_ADDRSTRLEN];
      inet_ntop(AF_INET6, &address[0].ip6addr, text, sizeof text);
      out.text = text;
      return out;
    }
    case kTypeNs: {
      hostent* raw = nullptr;
      int status = ares_parse_ns_reply(buf, len, &raw);
      HostentPtr host(raw);
      if (status != ARES_SUCCESS) return refused(status);
      if (host->h_aliases == nullptr || host->h_aliases[0] == nullptr) {
        return refused(ARES_ENODATA);
      }
      out.text = absolute_name(host->h_aliases[0]);
      return out;
    }
    case kTypeCname:
    case kTypeDname: {
      // c-ares has no CNAME/DNAME reply parser; its name expander is the
      // closest thing it offers.
      char* name = nullptr;
      long consumed = 0;
      int status = ares_expand_name(buf + rdata_offset, buf, len, &name, &consumed);
      if (status != ARES_SUCCESS) return refused(status);
      out.text = absolute_name(name);
      ares_free_string(name);
      return out;
    }
    case kTypePtr: {
      in_addr unused{};
      hostent* raw = nullptr;
      int status = ares_parse_ptr_reply(buf, len, &unused, sizeof unused, AF_INET, &raw);
      HostentPtr host(raw);
      if (status != ARES_SUCCESS) return refused(status);
      out.text = absolute_name(host->h_name);
      return out;
    }
    case kTypeMx: {
      ares_mx_reply* raw = nullptr;
      int status = ares_parse_mx_reply(buf, len, &raw);
      CaresList<ares_mx_reply> list(raw);
      if (status != ARES_SUCCESS) return refused(status);
      if (!list) return refused(ARES_ENODATA);
      out.text = std::to_string(list->priority) + " " + absolute_name(list->host);
      return out;
    }
    case kTypeSrv: {
      if (!is_internet) return std::nullopt;
      ares_srv_reply* raw = nullptr;
      int status = ares_parse_srv_reply(buf, len, &raw);
      CaresList<ares_srv_reply> list(raw);
      if (status != ARES_SUCCESS) return refused(status);
      if (!list) return refused(ARES_ENODATA);
      out.text = std::to_string(list->priority) + " " + std::to_string(list->weight) + " " +
                 std::to_string(list->port) + " " + absolute_name(list->host);
      return out;
    }
    case kTypeTxt: {
      ares_txt_ext* raw = nullptr;
      int status = ares_parse_txt_reply_ext(buf, len, &raw);
      CaresList<ares_txt_ext> list(raw);
      if (status != ARES_SUCCESS) return refused(status);
      for (ares_txt_ext* part = list.get(); part != nullptr; part = part->next) {
        if (!out.text.empty()) out.text += ' ';
        out.text += quote_character_string(std::span<const uint8_t>(part->txt, part->length));
        out.joined_text.append(reinterpret_cast<const char*>(part->txt), part->length);
      }
      return out;
    }
    case kTypeSoa: {
      ares_soa_reply* raw = nullptr;
      int status = ares_parse_soa_reply(buf, len, &raw);
      CaresList<ares_soa_reply> soa(raw);
      if (status != ARES_SUCCESS) return refused(status);
      out.text = absolute_name(soa->nsname) + " " + absolute_name(soa->hostmaster) + " " +
                 std::to_string(soa->serial) + " " + std::to_string(soa->refresh) + " " +
                 std::to_string(soa->retry) + " " + std::to_string(soa->expire) + " " +
                 std::to_string(soa->minttl);
      return out;
    }
    case kTypeCaa: {
      ares_caa_reply* raw = nullptr;
      int status = ares_parse_caa_reply(buf, len, &raw);
      CaresList<ares_caa_reply> list(raw);
      if (status != ARES_SUCCESS) return refused(status);
      if (!list) return refused(ARES_ENODATA);
      out.text = std::to_string(list->critical) + " " +
                 std::string(reinterpret_cast<const char*>(list->property), list->plength) + " " +
                 quote_character_string(std::span<const uint8_t>(list->value, list->length));
      return out;
    }
    case kTypeNaptr: {
      if (!is_internet) return std::nullopt;
      ares_naptr_reply* raw = nullptr;
      int status = ares_parse_naptr_reply(buf, len, &raw);
      CaresList<ares_naptr_reply> list(raw);
      if (status != ARES_SUCCESS) return refused(status);
      if (!list) return refused(ARES_ENODATA);
      out.text = std::to_string(list->order) + " " + std::to_string(list->preference) + " " +
                 cares_text(list->flags) + " " + cares_text(list->service) + " " +
                 cares_text(list->regexp) + " " + absolute_name(list->replacement);
      return out;
    }
    case kTypeUri: {
      ares_uri_reply* raw = nullptr;
      int status = ares_parse_uri_reply(buf, len, &raw);
      CaresList<ares_uri_reply> list(raw);
      if (status != ARES_SUCCESS) return refused(status);
      if (!list) return refused(ARES_ENODATA);
      const char* uri = list->uri != nullptr ? list->uri : "";
      out.text = std::to_string(list->priority) + " " + std::to_string(list->weight) + " " +
                 quote_character_string(std::span<const uint8_t>(
                     reinterpret_cast<const uint8_t*>(uri), std::strlen(uri)));
      return out;
    }
    default:
      return std::nullopt;
  }
}

}  // namespace

Result<Reply> parse_reply(std::span<const uint8_t> message) {
  if (message.size() < kHeaderSize) {
    return make_error("reply of " + std::to_string(message.size()) +
                      " octets is shorter than the 12-octet header");
  }
  MessageReader reader(message);
  Reply reply;
  reply.id = reader.u16();
  reply.flags = reader.u16();
  for (auto& count : reply.section_counts) count = reader.u16();

  for (uint16_t i = 0; i < reply.section_counts[0]; ++i) {
    Question question;
    question.name_wire = reader.name();
    question.type = reader.u16();
    question.rclass = reader.u16();
    if (reader.failed()) {
      return make_error("question " + std::to_string(i + 1) + ": " + reader.error());
    }
    question.name = wire_name_to_text(question.name_wire);
    reply.questions.push_back(std::move(question));
  }

  int extended_rcode = 0;
  std::vector<ResourceRecord>* sections[] = {nullptr, &reply.answer, &reply.authority,
                                             &reply.additional};
  for (int section = 1; section <= 3; ++section) {
    for (uint16_t i = 0; i < reply.section_counts[section]; ++i) {
      ResourceRecord record;
      record.owner_wire = reader.name();
      record.type = reader.u16();
      record.rclass = reader.u16();
      record.ttl = reader.u32();
      record.rdata_length = reader.u16();
      record.rdata_offset = reader.offset();
      reader.bytes(record.rdata_length);
      if (reader.failed()) {
        return make_error(std::string(section_name(section)) + " record " + std::to_string(i + 1) +
                          ": " + reader.error());
      }
      record.owner = wire_name_to_text(record.owner_wire);
      if (section == 3 && record.type == kTypeOpt) {
        if (reply.edns) return make_error("additional section holds a second OPT record");
        if (record.owner_wire.size() != 1) {
          return make_error("OPT record owner is " + record.owner + ", not the root");
        }
        EdnsInfo edns;
        edns.udp_size = record.rclass;
        extended_rcode = static_cast<int>(record.ttl >> 24);
        edns.version = static_cast<uint8_t>(record.ttl >> 16);
        edns.dnssec_ok = (record.ttl & 0x8000) != 0;
        edns.other_flags = static_cast<uint16_t>(record.ttl & 0x7FFF);
        MessageReader options(message.first(record.rdata_offset + record.rdata_length),
                              record.rdata_offset);
        while (options.remaining() > 0) {
          uint16_t code = options.u16();
          uint16_t length = options.u16();
          auto data = options.bytes(length);
          if (options.failed()) return make_error("OPT record options: " + options.error());
          edns.options.emplace_back(code, std::vector<uint8_t>(data.begin(), data.end()));
        }
        reply.edns = std::move(edns);
        continue;
      }
      sections[section]->push_back(std::move(record));
    }
  }
  if (reader.remaining() != 0) {
    return make_error(std::to_string(reader.remaining()) +
                      " octets follow the last record the header announces");
  }
  reply.rcode = extended_rcode << 4 | (reply.flags & 0x000F);
  return reply;
}

RdataText present_rdata(std::span<const uint8_t> message, const ResourceRecord& record) {
  auto rdata_bytes = message.subspan(record.rdata_offset, record.rdata_length);
  auto rdata = uncompressed_rdata(message, record);
  if (!rdata) {
    RdataText out;
    out.text = generic_rdata(rdata_bytes);
    out.note = rdata.error();
    return out;
  }
  auto single = single_record_message(record, *rdata);
  size_t rdata_offset_in_single = single.size() - rdata->size();
  auto parsed = present_with_cares(single, record, rdata_offset_in_single);
  if (!parsed) {
    RdataText out;
    out.text = generic_rdata(rdata_bytes);
    return out;
  }
  if (!parsed->ok()) {
    RdataText out;
    out.text = generic_rdata(rdata_bytes);
    out.note = parsed->error();
    return out;
  }
  return std::move(*parsed).value();
}

std::string present_record(std::span<const uint8_t> message, const ResourceRecord& record) {
  RdataText rdata = present_rdata(message, record);
  std::string line = record.owner + "\t" + std::to_string(record.ttl) + "\t" +
                     class_to_text(record.rclass) + "\t" + type_to_text(record.type) + "\t" +
                     rdata.text;
  if (!rdata.note.empty()) line += "\t; " + rdata.note;
  return line;
}

}  // namespace raftdns::query_tool
