// Binary codec for Command (version byte, then a tagged body) and describe().
//
// Layout (big-endian): version u8, then the command:
//   tag u8 (1 add, 2 remove, 3 remove-rrset, 4 put-zone, 5 remove-zone,
//           6 set-membership, 7 batch, 8 update, 9 import-begin,
//           10 import-chunk, 11 import-commit, 12 import-abort)
//   records: count u32, then each: name, type u16, class u16, ttl u32,
//            rdlength u16, rdata
//   name:    wire length u8, uncompressed wire form
//   bytes:   length u32, bytes
//   batch:   count u32, then nested commands (tag and body, no version)
//   update:  zone name, prerequisite records, update records
//   import-begin: id u64, zone name; import-chunk: id u64, sequence u32,
//   records; import-commit: id u64, chunks u32; import-abort: id u64
//   zone-signing (13): action u8, zone name, now u32, then the params
//            (algorithm u8, optout u8, eleven u32 in SigningParams order),
//            keys: count u32, then each algorithm u8, flags u16, private
//            key as bytes; key tag u16
// The decoder checks every length against what is left, caps nesting, and
// refuses trailing bytes, because commands arrive from peers and are fuzzed.
#include "daemon/store/command.h"

#include <cstdio>
#include <string>
#include <utility>

#include "daemon/wire/types.h"

namespace raftdns::store {
namespace {

enum Tag : uint8_t {
  kAdd = 1,
  kRemove = 2,
  kRemoveRRset = 3,
  kPutZone = 4,
  kRemoveZone = 5,
  kSetMembership = 6,
  kBatch = 7,
  kUpdate = 8,
  kImportBegin = 9,
  kImportChunk = 10,
  kImportCommit = 11,
  kImportAbort = 12,
  kZoneSigning = 13,
};
constexpr size_t kMaxBatchDepth = 4;
// name (>= 2) + type + class + ttl + rdlength
constexpr size_t kMinRecordBytes = 2 + 2 + 2 + 4 + 2;
// tag + the shortest body (remove-zone of the root: a 1-octet name)
constexpr size_t kMinCommandBytes = 1 + 2;

class Encoder {
 public:
  std::vector<uint8_t> out;
  void u8(uint8_t v) { out.push_back(v); }
  void u16(uint16_t v) {
    out.push_back(static_cast<uint8_t>(v >> 8));
    out.push_back(static_cast<uint8_t>(v));
  }
  void u32(uint32_t v) {
    u16(static_cast<uint16_t>(v >> 16));
    u16(static_cast<uint16_t>(v));
  }
  void u64(uint64_t v) {
    u32(static_cast<uint32_t>(v >> 32));
    u32(static_cast<uint32_t>(v));
  }
  void name(const wire::Name& n) {
    u8(static_cast<uint8_t>(n.wire_length()));
    out.insert(out.end(), n.wire().begin(), n.wire().end());
  }
  void records(const std::vector<wire::Record>& rs) {
    u32(static_cast<uint32_t>(rs.size()));
    for (const auto& r : rs) {
      name(r.owner);
      u16(r.type);
      u16(r.rclass);
      u32(r.ttl);
      u16(static_cast<uint16_t>(r.rdata.size()));
      out.insert(out.end(), r.rdata.begin(), r.rdata.end());
    }
  }
  void command(const Command& c) {
    std::visit(
        [this](const auto& cmd) {
          using T = std::decay_t<decltype(cmd)>;
          if constexpr (std::is_same_v<T, AddRecords>) {
            u8(kAdd);
            records(cmd.records);
          } else if constexpr (std::is_same_v<T, RemoveRecords>) {
            u8(kRemove);
            records(cmd.records);
          } else if constexpr (std::is_same_v<T, RemoveRRset>) {
            u8(kRemoveRRset);
            name(cmd.owner);
            u16(cmd.type);
          } else if constexpr (std::is_same_v<T, PutZone>) {
            u8(kPutZone);
            name(cmd.zone);
            records(cmd.records);
          } else if constexpr (std::is_same_v<T, RemoveZone>) {
            u8(kRemoveZone);
            name(cmd.zone);
          } else if constexpr (std::is_same_v<T, SetMembership>) {
            u8(kSetMembership);
            u32(static_cast<uint32_t>(cmd.encoded.size()));
            out.insert(out.end(), cmd.encoded.begin(), cmd.encoded.end());
          } else if constexpr (std::is_same_v<T, Update>) {
            u8(kUpdate);
            name(cmd.zone);
            records(cmd.prerequisites);
            records(cmd.updates);
          } else if constexpr (std::is_same_v<T, ImportBegin>) {
            u8(kImportBegin);
            u64(cmd.id);
            name(cmd.zone);
          } else if constexpr (std::is_same_v<T, ImportChunk>) {
            u8(kImportChunk);
            u64(cmd.id);
            u32(cmd.sequence);
            records(cmd.records);
          } else if constexpr (std::is_same_v<T, ImportCommit>) {
            u8(kImportCommit);
            u64(cmd.id);
            u32(cmd.chunks);
          } else if constexpr (std::is_same_v<T, ImportAbort>) {
            u8(kImportAbort);
            u64(cmd.id);
          } else if constexpr (std::is_same_v<T, ZoneSigning>) {
            u8(kZoneSigning);
            u8(static_cast<uint8_t>(cmd.action));
            name(cmd.zone);
            u32(cmd.now);
            const auto& p = cmd.params;
            u8(p.algorithm);
            u8(p.nsec3_optout ? 1 : 0);
            for (uint32_t v : {p.validity, p.refresh, p.jitter, p.inception_offset, p.dnskey_ttl,
                               p.publish_wait, p.retire_wait, p.ds_wait, p.zsk_lifetime,
                               p.ksk_lifetime}) {
              u32(v);
            }
            u32(static_cast<uint32_t>(cmd.keys.size()));
            for (const auto& k : cmd.keys) {
              u8(k.algorithm);
              u16(k.flags);
              u32(static_cast<uint32_t>(k.private_key.size()));
              out.insert(out.end(), k.private_key.begin(), k.private_key.end());
            }
            u16(cmd.key_tag);
          } else {
            u8(kBatch);
            u32(static_cast<uint32_t>(cmd.commands.size()));
            for (const auto& sub : cmd.commands) command(sub);
          }
        },
        c);
  }
};

class Decoder {
 public:
  explicit Decoder(std::span<const uint8_t> in) : in_(in) {}

  size_t left() const { return in_.size() - pos_; }
  bool u8(uint8_t& v) {
    if (left() < 1) return fail("truncated");
    v = in_[pos_++];
    return true;
  }
  bool u16(uint16_t& v) {
    if (left() < 2) return fail("truncated");
    v = static_cast<uint16_t>(in_[pos_] << 8 | in_[pos_ + 1]);
    pos_ += 2;
    return true;
  }
  bool u32(uint32_t& v) {
    uint16_t hi = 0, lo = 0;
    if (!u16(hi) || !u16(lo)) return false;
    v = uint32_t{hi} << 16 | lo;
    return true;
  }
  bool u64(uint64_t& v) {
    uint32_t hi = 0, lo = 0;
    if (!u32(hi) || !u32(lo)) return false;
    v = uint64_t{hi} << 32 | lo;
    return true;
  }
  bool bytes(size_t n, std::span<const uint8_t>& out) {
    if (left() < n) return fail("truncated");
    out = in_.subspan(pos_, n);
    pos_ += n;
    return true;
  }
  bool name(wire::Name& n) {
    uint8_t len = 0;
    std::span<const uint8_t> b;
    if (!u8(len) || !bytes(len, b)) return false;
    auto parsed = wire::Name::from_wire(b);
    if (!parsed) return fail("bad name: " + parsed.error());
    n = *parsed;
    return true;
  }
  bool count(uint32_t& n, size_t min_each) {
    if (!u32(n)) return false;
    if (min_each && n > left() / min_each) return fail("count " + std::to_string(n) + " too large");
    return true;
  }
  bool records(std::vector<wire::Record>& rs) {
    uint32_t n = 0;
    if (!count(n, kMinRecordBytes)) return false;
    rs.resize(n);
    for (auto& r : rs) {
      uint16_t rdlen = 0;
      std::span<const uint8_t> rd;
      if (!name(r.owner) || !u16(r.type) || !u16(r.rclass) || !u32(r.ttl) || !u16(rdlen) ||
          !bytes(rdlen, rd)) {
        return false;
      }
      r.rdata.assign(rd.begin(), rd.end());
    }
    return true;
  }
  bool command(Command& c, size_t depth) {
    uint8_t tag = 0;
    if (!u8(tag)) return false;
    switch (tag) {
      case kAdd: {
        AddRecords a;
        if (!records(a.records)) return false;
        c = std::move(a);
        return true;
      }
      case kRemove: {
        RemoveRecords r;
        if (!records(r.records)) return false;
        c = std::move(r);
        return true;
      }
      case kRemoveRRset: {
        RemoveRRset r;
        if (!name(r.owner) || !u16(r.type)) return false;
        c = std::move(r);
        return true;
      }
      case kPutZone: {
        PutZone p;
        if (!name(p.zone) || !records(p.records)) return false;
        c = std::move(p);
        return true;
      }
      case kRemoveZone: {
        RemoveZone r;
        if (!name(r.zone)) return false;
        c = std::move(r);
        return true;
      }
      case kSetMembership: {
        SetMembership m;
        uint32_t n = 0;
        std::span<const uint8_t> b;
        if (!u32(n) || !bytes(n, b)) return false;
        m.encoded.assign(b.begin(), b.end());
        c = std::move(m);
        return true;
      }
      case kBatch: {
        if (depth >= kMaxBatchDepth) return fail("batches nested too deeply");
        Batch b;
        uint32_t n = 0;
        if (!count(n, kMinCommandBytes)) return false;
        b.commands.resize(n);
        for (auto& sub : b.commands)
          if (!command(sub, depth + 1)) return false;
        c = std::move(b);
        return true;
      }
      case kUpdate: {
        Update u;
        if (!name(u.zone) || !records(u.prerequisites) || !records(u.updates)) return false;
        c = std::move(u);
        return true;
      }
      case kImportBegin: {
        ImportBegin b;
        if (!u64(b.id) || !name(b.zone)) return false;
        c = std::move(b);
        return true;
      }
      case kImportChunk: {
        ImportChunk k;
        if (!u64(k.id) || !u32(k.sequence) || !records(k.records)) return false;
        c = std::move(k);
        return true;
      }
      case kImportCommit: {
        ImportCommit k;
        if (!u64(k.id) || !u32(k.chunks)) return false;
        c = k;
        return true;
      }
      case kImportAbort: {
        ImportAbort a;
        if (!u64(a.id)) return false;
        c = a;
        return true;
      }
      case kZoneSigning: {
        ZoneSigning z;
        uint8_t action = 0, optout = 0;
        if (!u8(action)) return false;
        if (action < 1 || action > 5) return fail("unknown signing action " + std::to_string(action));
        z.action = static_cast<ZoneSigning::Action>(action);
        auto& p = z.params;
        if (!name(z.zone) || !u32(z.now) || !u8(p.algorithm) || !u8(optout)) return false;
        if (optout > 1) return fail("bad opt-out flag");
        p.nsec3_optout = optout == 1;
        for (uint32_t* v : {&p.validity, &p.refresh, &p.jitter, &p.inception_offset, &p.dnskey_ttl,
                            &p.publish_wait, &p.retire_wait, &p.ds_wait, &p.zsk_lifetime,
                            &p.ksk_lifetime}) {
          if (!u32(*v)) return false;
        }
        uint32_t n = 0;
        if (!count(n, 1 + 2 + 4)) return false;
        z.keys.resize(n);
        for (auto& k : z.keys) {
          uint32_t len = 0;
          std::span<const uint8_t> b;
          if (!u8(k.algorithm) || !u16(k.flags) || !u32(len) || !bytes(len, b)) return false;
          k.private_key.assign(b.begin(), b.end());
        }
        if (!u16(z.key_tag)) return false;
        c = std::move(z);
        return true;
      }
      default:
        return fail("unknown command tag " + std::to_string(tag));
    }
  }

  std::string error;

 private:
  bool fail(std::string why) {
    if (error.empty()) error = std::move(why) + " at byte " + std::to_string(pos_);
    return false;
  }
  std::span<const uint8_t> in_;
  size_t pos_ = 0;
};

std::string plural(size_t n, const char* what) {
  return std::to_string(n) + " " + what + (n == 1 ? "" : "s");
}

}  // namespace

std::string import_id_text(uint64_t id) {
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(id));
  return hex;
}

namespace {
constexpr std::string_view kChunkAhead = " arrived where chunk ";
}  // namespace

std::string chunk_ahead_error(uint64_t id, uint32_t sequence, uint32_t expected) {
  return "import " + import_id_text(id) + ": chunk " + std::to_string(sequence) +
         std::string(kChunkAhead) + std::to_string(expected) + " belongs";
}

bool is_chunk_ahead(std::string_view reason) {
  return reason.rfind("import ", 0) == 0 && reason.find(kChunkAhead) != std::string_view::npos;
}

std::vector<uint8_t> encode_command(const Command& c) {
  Encoder e;
  e.u8(kCommandVersion);
  e.command(c);
  return std::move(e.out);
}

Result<Command> decode_command(std::span<const uint8_t> bytes) {
  if (bytes.empty()) return make_error("command: empty");
  if (bytes[0] != kCommandVersion) {
    return make_error("command: version " + std::to_string(bytes[0]) + ", this build reads " +
                      std::to_string(kCommandVersion));
  }
  Decoder d(bytes.subspan(1));
  Command c;
  if (!d.command(c, 0)) return make_error("command: " + d.error);
  if (d.left() != 0) return make_error("command: " + std::to_string(d.left()) + " trailing bytes");
  return c;
}

const char* signing_action_name(ZoneSigning::Action a) noexcept {
  switch (a) {
    case ZoneSigning::Action::sign: return "sign";
    case ZoneSigning::Action::unsign: return "unsign";
    case ZoneSigning::Action::tick: return "tick";
    case ZoneSigning::Action::roll: return "roll";
    case ZoneSigning::Action::ds_seen: return "ds-seen";
  }
  return "?";
}

std::optional<uint16_t> update_rcode(std::string_view reason) {
  static constexpr std::pair<std::string_view, uint16_t> kCodes[] = {
      {"FORMERR: ", wire::rcode::FORMERR},   {"SERVFAIL: ", wire::rcode::SERVFAIL},
      {"NXDOMAIN: ", wire::rcode::NXDOMAIN}, {"REFUSED: ", wire::rcode::REFUSED},
      {"YXDOMAIN: ", wire::rcode::YXDOMAIN}, {"YXRRSET: ", wire::rcode::YXRRSET},
      {"NXRRSET: ", wire::rcode::NXRRSET},   {"NOTAUTH: ", wire::rcode::NOTAUTH},
      {"NOTZONE: ", wire::rcode::NOTZONE},
  };
  for (const auto& [prefix, code] : kCodes) {
    if (reason.substr(0, prefix.size()) == prefix) return code;
  }
  return std::nullopt;
}

std::string describe(const Command& c) {
  return std::visit(
      [](const auto& cmd) -> std::string {
        using T = std::decay_t<decltype(cmd)>;
        if constexpr (std::is_same_v<T, AddRecords>) {
          return "add " + plural(cmd.records.size(), "record");
        } else if constexpr (std::is_same_v<T, RemoveRecords>) {
          return "remove " + plural(cmd.records.size(), "record");
        } else if constexpr (std::is_same_v<T, RemoveRRset>) {
          return "remove rrset " + cmd.owner.to_text() + " " + wire::type_to_text(cmd.type);
        } else if constexpr (std::is_same_v<T, PutZone>) {
          return "put zone " + cmd.zone.to_text() + " (" + plural(cmd.records.size(), "record") +
                 ")";
        } else if constexpr (std::is_same_v<T, RemoveZone>) {
          return "remove zone " + cmd.zone.to_text();
        } else if constexpr (std::is_same_v<T, SetMembership>) {
          return "set membership";
        } else if constexpr (std::is_same_v<T, Update>) {
          return "update zone " + cmd.zone.to_text() + " (" +
                 plural(cmd.prerequisites.size(), "prerequisite") + ", " +
                 plural(cmd.updates.size(), "update") + ")";
        } else if constexpr (std::is_same_v<T, ImportBegin>) {
          return "begin import " + import_id_text(cmd.id) + " of zone " + cmd.zone.to_text();
        } else if constexpr (std::is_same_v<T, ImportChunk>) {
          return "import " + import_id_text(cmd.id) + " chunk " + std::to_string(cmd.sequence) +
                 " (" + plural(cmd.records.size(), "record") + ")";
        } else if constexpr (std::is_same_v<T, ImportCommit>) {
          return "commit import " + import_id_text(cmd.id) + " (" +
                 plural(cmd.chunks, "chunk") + ")";
        } else if constexpr (std::is_same_v<T, ImportAbort>) {
          return "abort import " + import_id_text(cmd.id);
        } else if constexpr (std::is_same_v<T, ZoneSigning>) {
          // Never the keys' private halves: this text goes to logs.
          std::string s = std::string("signing ") + signing_action_name(cmd.action) + " zone " +
                          cmd.zone.to_text();
          if (!cmd.keys.empty()) s += " (" + plural(cmd.keys.size(), "new key") + ")";
          if (cmd.action == ZoneSigning::Action::ds_seen) s += " key " + std::to_string(cmd.key_tag);
          return s;
        } else {
          return "batch of " + plural(cmd.commands.size(), "command");
        }
      },
      c);
}

}  // namespace raftdns::store
