// Binary codecs for Message and ConfChange: versioned, little-endian, bounds-checked.
//
// Message, version 1:
//   u8 version(1) u8 type
//   u64 to, from, term, log_term, index, commit, reject_hint   u8 reject(0|1)
//   u32 entry_count, then per entry: u64 index, u64 term, u8 type, u32 len, len bytes
//   u8 has_snapshot(0|1), then if 1: u64 index, u64 term,
//       u32 n, n x u64 voters, u32 m, m x u64 learners
//   u32 context_len, context bytes
// ConfChange, version 1:
//   u8 version(1) u8 type u64 node_id u32 context_len, context bytes
// All integers little-endian. Nothing may follow the last field.
#include <cstring>
#include <string>

#include "replication/core/types.h"

namespace raftdns::raft {

namespace {

constexpr uint8_t kMessageVersion = 1;
constexpr uint8_t kConfChangeVersion = 1;

class Writer {
 public:
  void u8(uint8_t v) { out_.push_back(v); }
  void u32(uint32_t v) {
    for (int i = 0; i < 4; ++i) out_.push_back(static_cast<uint8_t>(v >> (8 * i)));
  }
  void u64(uint64_t v) {
    for (int i = 0; i < 8; ++i) out_.push_back(static_cast<uint8_t>(v >> (8 * i)));
  }
  void bytes(const std::vector<uint8_t>& b) {
    u32(static_cast<uint32_t>(b.size()));
    out_.insert(out_.end(), b.begin(), b.end());
  }
  std::vector<uint8_t> take() { return std::move(out_); }

 private:
  std::vector<uint8_t> out_;
};

// The first failure is sticky: later reads return zeros and the error stays the first one.
class Reader {
 public:
  explicit Reader(std::span<const uint8_t> in) : in_(in) {}

  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  size_t remaining() const { return in_.size() - pos_; }

  void fail(std::string what) {
    if (error_.empty()) error_ = what + " at byte " + std::to_string(pos_);
  }
  bool need(size_t n, const char* what) {
    if (!ok()) return false;
    if (remaining() < n) {
      fail(std::string("truncated ") + what);
      return false;
    }
    return true;
  }
  uint8_t u8(const char* what) {
    if (!need(1, what)) return 0;
    return in_[pos_++];
  }
  uint32_t u32(const char* what) {
    if (!need(4, what)) return 0;
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(in_[pos_ + i]) << (8 * i);
    pos_ += 4;
    return v;
  }
  uint64_t u64(const char* what) {
    if (!need(8, what)) return 0;
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(in_[pos_ + i]) << (8 * i);
    pos_ += 8;
    return v;
  }
  bool flag(const char* what) {
    const uint8_t v = u8(what);
    if (v > 1) fail(std::string("invalid ") + what + " flag " + std::to_string(v));
    return v == 1;
  }
  std::vector<uint8_t> bytes(const char* what) {
    const uint32_t n = u32(what);
    if (!need(n, what)) return {};
    std::vector<uint8_t> out(in_.begin() + static_cast<std::ptrdiff_t>(pos_),
                             in_.begin() + static_cast<std::ptrdiff_t>(pos_ + n));
    pos_ += n;
    return out;
  }
  // A count of items at least min_item_size bytes each must fit in what is left; this
  // stops a forged count from reserving gigabytes.
  uint32_t count(const char* what, size_t min_item_size) {
    const uint32_t n = u32(what);
    if (ok() && static_cast<uint64_t>(n) * min_item_size > remaining()) {
      fail(std::string("impossible ") + what + " count " + std::to_string(n));
      return 0;
    }
    return n;
  }
  void expect_end(const char* what) {
    if (ok() && remaining() != 0)
      fail(std::to_string(remaining()) + " trailing bytes after " + what);
  }

 private:
  std::span<const uint8_t> in_;
  size_t pos_ = 0;
  std::string error_;
};

void write_ids(Writer& w, const std::vector<uint64_t>& ids) {
  w.u32(static_cast<uint32_t>(ids.size()));
  for (uint64_t id : ids) w.u64(id);
}

std::vector<uint64_t> read_ids(Reader& r, const char* what) {
  const uint32_t n = r.count(what, 8);
  std::vector<uint64_t> ids;
  ids.reserve(n);
  for (uint32_t i = 0; i < n && r.ok(); ++i) ids.push_back(r.u64(what));
  return ids;
}

}  // namespace

const char* to_string(MessageType type) {
  switch (type) {
    case MessageType::app:
      return "app";
    case MessageType::app_resp:
      return "app_resp";
    case MessageType::vote:
      return "vote";
    case MessageType::vote_resp:
      return "vote_resp";
    case MessageType::pre_vote:
      return "pre_vote";
    case MessageType::pre_vote_resp:
      return "pre_vote_resp";
    case MessageType::heartbeat:
      return "heartbeat";
    case MessageType::heartbeat_resp:
      return "heartbeat_resp";
    case MessageType::snap:
      return "snap";
    case MessageType::timeout_now:
      return "timeout_now";
    case MessageType::read_index:
      return "read_index";
    case MessageType::read_index_resp:
      return "read_index_resp";
    case MessageType::transfer_leader:
      return "transfer_leader";
    case MessageType::prop:
      return "prop";
  }
  return "unknown";
}

std::string describe(const Message& m) {
  std::string s = std::string(to_string(m.type)) + " " + std::to_string(m.from) + "->" +
                  std::to_string(m.to) + " term=" + std::to_string(m.term);
  switch (m.type) {
    case MessageType::app:
      s += " prev=" + std::to_string(m.index) + "/" + std::to_string(m.log_term) +
           " commit=" + std::to_string(m.commit) + " entries=" + std::to_string(m.entries.size());
      break;
    case MessageType::app_resp:
      s += " index=" + std::to_string(m.index);
      if (m.reject) {
        s += " reject hint=" + std::to_string(m.reject_hint) + "/" + std::to_string(m.log_term);
      }
      break;
    case MessageType::vote:
    case MessageType::pre_vote:
      s += " last=" + std::to_string(m.index) + "/" + std::to_string(m.log_term);
      break;
    case MessageType::vote_resp:
    case MessageType::pre_vote_resp:
      s += m.reject ? " rejected" : " granted";
      break;
    case MessageType::heartbeat:
      s += " commit=" + std::to_string(m.commit);
      break;
    case MessageType::snap:
      if (m.snapshot) {
        s += " snapshot=" + std::to_string(m.snapshot->index) + "/" +
             std::to_string(m.snapshot->term);
      }
      break;
    case MessageType::read_index_resp:
      s += " index=" + std::to_string(m.index);
      break;
    default:
      break;
  }
  return s;
}

std::vector<uint8_t> encode_message(const Message& m) {
  Writer w;
  w.u8(kMessageVersion);
  w.u8(static_cast<uint8_t>(m.type));
  w.u64(m.to);
  w.u64(m.from);
  w.u64(m.term);
  w.u64(m.log_term);
  w.u64(m.index);
  w.u64(m.commit);
  w.u64(m.reject_hint);
  w.u8(m.reject ? 1 : 0);
  w.u32(static_cast<uint32_t>(m.entries.size()));
  for (const Entry& e : m.entries) {
    w.u64(e.index);
    w.u64(e.term);
    w.u8(static_cast<uint8_t>(e.type));
    w.bytes(e.data);
  }
  w.u8(m.snapshot ? 1 : 0);
  if (m.snapshot) {
    w.u64(m.snapshot->index);
    w.u64(m.snapshot->term);
    write_ids(w, m.snapshot->conf.voters);
    write_ids(w, m.snapshot->conf.learners);
  }
  w.bytes(m.context);
  return w.take();
}

Result<Message> decode_message(std::span<const uint8_t> bytes) {
  Reader r(bytes);
  const uint8_t version = r.u8("version");
  if (r.ok() && version != kMessageVersion) {
    return make_error("raft message: unsupported version " + std::to_string(version));
  }
  Message m;
  const uint8_t type = r.u8("type");
  if (r.ok() && (type == 0 || type > kMaxMessageType)) {
    return make_error("raft message: unknown type " + std::to_string(type));
  }
  m.type = static_cast<MessageType>(type);
  m.to = r.u64("to");
  m.from = r.u64("from");
  m.term = r.u64("term");
  m.log_term = r.u64("log_term");
  m.index = r.u64("index");
  m.commit = r.u64("commit");
  m.reject_hint = r.u64("reject_hint");
  m.reject = r.flag("reject");
  constexpr size_t kMinEntrySize = 8 + 8 + 1 + 4;
  const uint32_t n = r.count("entry", kMinEntrySize);
  m.entries.reserve(n);
  for (uint32_t i = 0; i < n && r.ok(); ++i) {
    Entry e;
    e.index = r.u64("entry index");
    e.term = r.u64("entry term");
    const uint8_t et = r.u8("entry type");
    if (r.ok() && et > static_cast<uint8_t>(EntryType::conf_change)) {
      r.fail("unknown entry type " + std::to_string(et));
    }
    e.type = static_cast<EntryType>(et);
    e.data = r.bytes("entry data");
    m.entries.push_back(std::move(e));
  }
  if (r.flag("snapshot")) {
    SnapshotMeta s;
    s.index = r.u64("snapshot index");
    s.term = r.u64("snapshot term");
    s.conf.voters = read_ids(r, "voter");
    s.conf.learners = read_ids(r, "learner");
    m.snapshot = std::move(s);
  }
  m.context = r.bytes("context");
  r.expect_end("message");
  if (!r.ok()) return make_error("raft message: " + r.error());
  // Entries in an append are consecutive; anything else is forged or corrupt.
  for (size_t i = 1; i < m.entries.size(); ++i) {
    if (m.entries[i].index != m.entries[i - 1].index + 1) {
      return make_error("raft message: entry indexes are not consecutive");
    }
  }
  return m;
}

std::vector<uint8_t> encode_conf_change(const ConfChange& cc) {
  Writer w;
  w.u8(kConfChangeVersion);
  w.u8(static_cast<uint8_t>(cc.type));
  w.u64(cc.node_id);
  w.bytes(cc.context);
  return w.take();
}

Result<ConfChange> decode_conf_change(std::span<const uint8_t> bytes) {
  Reader r(bytes);
  const uint8_t version = r.u8("version");
  if (r.ok() && version != kConfChangeVersion) {
    return make_error("conf change: unsupported version " + std::to_string(version));
  }
  ConfChange cc;
  const uint8_t type = r.u8("type");
  if (r.ok() && type > ConfChange::promote_learner) {
    return make_error("conf change: unknown type " + std::to_string(type));
  }
  cc.type = static_cast<ConfChange::Type>(type);
  cc.node_id = r.u64("node id");
  cc.context = r.bytes("context");
  r.expect_end("conf change");
  if (!r.ok()) return make_error("conf change: " + r.error());
  return cc;
}

}  // namespace raftdns::raft
