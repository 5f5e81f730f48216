// Value types shared by the Raft core, its storage interface and its wire codec.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"

namespace raftdns::raft {

// Node ids are chosen by the operator; 0 means "nobody" (no leader, no vote).
inline constexpr uint64_t kNoNode = 0;

enum class EntryType : uint8_t {
  normal = 0,       // data is an application command (possibly empty: a leader's no-op)
  conf_change = 1,  // data is an encoded ConfChange
};

struct Entry {
  uint64_t index = 0;
  uint64_t term = 0;
  EntryType type = EntryType::normal;
  std::vector<uint8_t> data;

  bool operator==(const Entry&) const = default;
};

// The bytes an entry is charged for by the size limits (payload plus a fixed header cost).
inline uint64_t entry_size(const Entry& e) { return e.data.size() + 24; }

// Must match wal::HardState field for field: it is what the WAL persists.
struct HardState {
  uint64_t term = 0;
  uint64_t vote = kNoNode;
  uint64_t commit = 0;

  bool operator==(const HardState&) const = default;
};

// The membership at some log position. Voters and learners are disjoint and sorted.
struct ConfState {
  std::vector<uint64_t> voters;
  std::vector<uint64_t> learners;

  bool operator==(const ConfState&) const = default;
};

// A single-server membership change, carried in an EntryType::conf_change entry.
struct ConfChange {
  enum Type : uint8_t {
    add_voter = 0,        // add a new voter, or promote a learner
    remove_voter = 1,     // remove a voter or a learner
    add_learner = 2,      // add a non-voting member that receives the log
    promote_learner = 3,  // make an existing learner a voter
  };
  Type type = add_voter;
  uint64_t node_id = kNoNode;
  std::vector<uint8_t> context;  // opaque to the core (e.g. the new member's address)

  bool operator==(const ConfChange&) const = default;
};

// What the core knows of a snapshot: the log position it replaces and the membership
// there. The data itself (an LMDB copy) is moved by the driver, out of band.
struct SnapshotMeta {
  uint64_t index = 0;
  uint64_t term = 0;
  ConfState conf;

  bool operator==(const SnapshotMeta&) const = default;
};

enum class MessageType : uint8_t {
  app = 1,               // append entries (also the probe); index/log_term = previous entry
  app_resp = 2,          // index = last matching index, or the rejected index with a hint
  vote = 3,              // request vote; index/log_term = candidate's last entry
  vote_resp = 4,         //
  pre_vote = 5,          // "would you vote for me at term+1?" (does not change any term)
  pre_vote_resp = 6,     //
  heartbeat = 7,         // commit = min(follower match, leader commit); context = ReadIndex ctx
  heartbeat_resp = 8,    //
  snap = 9,              // install the snapshot described by `snapshot`
  timeout_now = 10,      // leadership transfer: campaign now, skipping PreVote and leases
  read_index = 11,       // follower forwards a ReadIndex request to the leader
  read_index_resp = 12,  // index = read index; context = the request's ctx
  transfer_leader = 13,  // follower forwards a transfer request; from = the transferee
  prop = 14,             // follower-forwarded proposal; entries = the proposed entries
};
inline constexpr uint8_t kMaxMessageType = 14;

const char* to_string(MessageType type);

struct Message {
  MessageType type = MessageType::app;
  uint64_t to = kNoNode;
  uint64_t from = kNoNode;
  uint64_t term = 0;
  uint64_t log_term = 0;
  uint64_t index = 0;
  uint64_t commit = 0;
  uint64_t reject_hint = 0;
  bool reject = false;
  std::vector<Entry> entries;
  std::optional<SnapshotMeta> snapshot;
  std::vector<uint8_t> context;

  bool operator==(const Message&) const = default;
};

// Versioned, bounds-checked binary codecs. Decoders reject truncated input, trailing
// bytes, unknown versions and out-of-range enum values; they never read past the span.
std::vector<uint8_t> encode_message(const Message& m);
Result<Message> decode_message(std::span<const uint8_t> bytes);
std::vector<uint8_t> encode_conf_change(const ConfChange& cc);
Result<ConfChange> decode_conf_change(std::span<const uint8_t> bytes);

// A human-readable one-line description, for logs and failing tests.
std::string describe(const Message& m);

}  // namespace raftdns::raft
