// Membership: the cluster's members with their peer addresses and roles, as the replicated state records them.
//
// The Raft core knows members only as 64-bit ids (raft_id_of the operator's
// string id) and roles. Every node must also be able to dial every member,
// including ones that were added after its own TOML was written, so the
// replicated membership carries each member's string id and peer address.
// They travel in the `context` of each conf change entry (MemberChange) and
// are recorded, whole, with every applied membership change (the state
// machine's membership bytes) and in every snapshot.
//
// The TOML's [[cluster.peer]] list only seeds the bootstrap entries of a new
// cluster. From then on this record rules, as etcd's --initial-cluster does.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"
#include "replication/core/types.h"

namespace raftdns::replication {

struct Member {
  uint64_t raft_id = 0;  // raft_id_of(name)
  std::string name;      // the operator's node id, e.g. "n2"
  std::string address;   // numeric peer address "addr:port"; empty if never known
  bool voter = false;
  // A learner that the leader promotes to voter by itself once it has caught
  // up (dnsadm member add without --learner).
  bool auto_promote = false;

  bool operator==(const Member&) const = default;
};

struct Membership {
  std::vector<Member> members;  // sorted by raft_id

  const Member* find(uint64_t raft_id) const;
  const Member* find_name(const std::string& name) const;
  const Member* find_address(const std::string& address) const;
  raft::ConfState conf() const;
  size_t voter_count() const;
  // "n1 (voter), n2 (learner)" for messages.
  std::string describe() const;

  bool operator==(const Membership&) const = default;
};

// A membership change as an operator asks for it (dnsadm member ...).
struct MemberRequest {
  enum class Kind : uint8_t { add, promote, remove };
  Kind kind = Kind::add;
  std::string name;
  std::string address;        // add only
  bool stay_learner = false;  // add only: never promote by itself
};

// What a conf change entry's context carries: the member it is about and,
// when it was submitted through the driver, who is waiting for it.
struct MemberChange {
  uint64_t origin = 0;   // raft id of the submitting node (0: the leader's own initiative)
  uint64_t request = 0;  // the origin's request id
  std::string name;
  std::string address;
  bool auto_promote = false;
};
std::vector<uint8_t> encode_member_change(const MemberChange& c);
std::optional<MemberChange> decode_member_change(std::span<const uint8_t> in);

// Applies a committed conf change to the record. The core has already
// validated it (on the leader); an entry from an older version without a
// context keeps whatever name and address were known.
void apply_member_change(Membership& m, const raft::ConfChange& cc);

// The encoded record (version 2). Version 1 records (ids only, from older
// releases) decode with empty names; the driver fills them from its config.
std::vector<uint8_t> encode_membership(const Membership& m);
std::optional<Membership> decode_membership_record(std::span<const uint8_t> in);

}  // namespace raftdns::replication
