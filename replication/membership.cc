// Membership: encoding of the replicated member list and of conf change contexts, and applying a change.
#include "replication/membership.h"

#include <algorithm>

#include "common/bytes.h"

namespace raftdns::replication {

using bytes::get_u64_be;
using bytes::put_u64_be;

namespace {

constexpr uint8_t kMembershipV1 = 1;  // voters and learners as ids only
constexpr uint8_t kMembershipV2 = 2;  // | u64 count | per member: u64 id | u8 flags | name | address
constexpr uint8_t kChangeVersion = 1;
constexpr uint8_t kFlagVoter = 1;
constexpr uint8_t kFlagAutoPromote = 2;
constexpr size_t kMaxText = 1024;

void put_text(std::vector<uint8_t>& out, const std::string& s) {
  put_u64_be(out, s.size());
  out.insert(out.end(), s.begin(), s.end());
}

bool get_text(std::span<const uint8_t>& in, std::string& s) {
  uint64_t n = 0;
  if (!get_u64_be(in, n) || n > in.size() || n > kMaxText) return false;
  s.assign(in.begin(), in.begin() + static_cast<std::ptrdiff_t>(n));
  in = in.subspan(n);
  return true;
}

bool get_byte(std::span<const uint8_t>& in, uint8_t& b) {
  if (in.empty()) return false;
  b = in[0];
  in = in.subspan(1);
  return true;
}

}  // namespace

const Member* Membership::find(uint64_t raft_id) const {
  for (const auto& m : members) {
    if (m.raft_id == raft_id) return &m;
  }
  return nullptr;
}

const Member* Membership::find_name(const std::string& name) const {
  for (const auto& m : members) {
    if (m.name == name) return &m;
  }
  return nullptr;
}

const Member* Membership::find_address(const std::string& address) const {
  if (address.empty()) return nullptr;
  for (const auto& m : members) {
    if (m.address == address) return &m;
  }
  return nullptr;
}

raft::ConfState Membership::conf() const {
  raft::ConfState c;
  for (const auto& m : members) (m.voter ? c.voters : c.learners).push_back(m.raft_id);
  std::sort(c.voters.begin(), c.voters.end());
  std::sort(c.learners.begin(), c.learners.end());
  return c;
}

size_t Membership::voter_count() const {
  return static_cast<size_t>(
      std::count_if(members.begin(), members.end(), [](const Member& m) { return m.voter; }));
}

std::string Membership::describe() const {
  std::string out;
  for (const auto& m : members) {
    if (!out.empty()) out += ", ";
    out += (m.name.empty() ? std::to_string(m.raft_id) : m.name) +
           (m.voter ? " (voter)" : " (learner)");
  }
  return out;
}

std::vector<uint8_t> encode_member_change(const MemberChange& c) {
  std::vector<uint8_t> out{kChangeVersion};
  put_u64_be(out, c.origin);
  put_u64_be(out, c.request);
  put_text(out, c.name);
  put_text(out, c.address);
  out.push_back(c.auto_promote ? kFlagAutoPromote : 0);
  return out;
}

std::optional<MemberChange> decode_member_change(std::span<const uint8_t> in) {
  MemberChange c;
  uint8_t version = 0, flags = 0;
  if (!get_byte(in, version) || version != kChangeVersion || !get_u64_be(in, c.origin) ||
      !get_u64_be(in, c.request) || !get_text(in, c.name) || !get_text(in, c.address) ||
      !get_byte(in, flags) || !in.empty()) {
    return std::nullopt;
  }
  c.auto_promote = (flags & kFlagAutoPromote) != 0;
  return c;
}

// Mirrors raft::Raft::apply_conf_change branch for branch, so the record
// and the core's configuration never disagree.
void apply_member_change(Membership& m, const raft::ConfChange& cc) {
  const uint64_t n = cc.node_id;
  if (n == raft::kNoNode) return;
  auto ctx = decode_member_change(cc.context);
  auto it = std::find_if(m.members.begin(), m.members.end(),
                         [n](const Member& x) { return x.raft_id == n; });
  auto learn = [&](Member& x) {
    if (!ctx) return;
    if (!ctx->name.empty()) x.name = ctx->name;
    if (!ctx->address.empty()) x.address = ctx->address;
  };
  switch (cc.type) {
    case raft::ConfChange::add_voter:
      if (it == m.members.end()) {
        Member x;
        x.raft_id = n;
        learn(x);
        x.voter = true;
        m.members.push_back(std::move(x));
      } else {
        learn(*it);
        it->voter = true;
        it->auto_promote = false;
      }
      break;
    case raft::ConfChange::remove_voter:
      if (it != m.members.end() && !(it->voter && m.voter_count() == 1)) m.members.erase(it);
      break;
    case raft::ConfChange::add_learner:
      if (it == m.members.end()) {
        Member x;
        x.raft_id = n;
        learn(x);
        x.auto_promote = ctx && ctx->auto_promote;
        m.members.push_back(std::move(x));
      }
      break;
    case raft::ConfChange::promote_learner:
      if (it != m.members.end() && !it->voter) {
        it->voter = true;
        it->auto_promote = false;
      }
      break;
  }
  std::sort(m.members.begin(), m.members.end(),
            [](const Member& a, const Member& b) { return a.raft_id < b.raft_id; });
}

std::vector<uint8_t> encode_membership(const Membership& m) {
  std::vector<uint8_t> out{kMembershipV2};
  put_u64_be(out, m.members.size());
  for (const auto& x : m.members) {
    put_u64_be(out, x.raft_id);
    out.push_back(static_cast<uint8_t>((x.voter ? kFlagVoter : 0) |
                                       (x.auto_promote ? kFlagAutoPromote : 0)));
    put_text(out, x.name);
    put_text(out, x.address);
  }
  return out;
}

std::optional<Membership> decode_membership_record(std::span<const uint8_t> in) {
  uint8_t version = 0;
  if (!get_byte(in, version)) return std::nullopt;
  Membership m;
  uint64_t n = 0;
  if (version == kMembershipV1) {
    for (bool voter : {true, false}) {
      if (!get_u64_be(in, n) || n > in.size() / 8) return std::nullopt;
      for (uint64_t i = 0; i < n; ++i) {
        Member x;
        if (!get_u64_be(in, x.raft_id)) return std::nullopt;
        x.voter = voter;
        m.members.push_back(std::move(x));
      }
    }
  } else if (version == kMembershipV2) {
    if (!get_u64_be(in, n) || n > in.size() / 9) return std::nullopt;
    for (uint64_t i = 0; i < n; ++i) {
      Member x;
      uint8_t flags = 0;
      if (!get_u64_be(in, x.raft_id) || !get_byte(in, flags) || !get_text(in, x.name) ||
          !get_text(in, x.address)) {
        return std::nullopt;
      }
      x.voter = (flags & kFlagVoter) != 0;
      x.auto_promote = (flags & kFlagAutoPromote) != 0;
      m.members.push_back(std::move(x));
    }
  } else {
    return std::nullopt;
  }
  if (!in.empty()) return std::nullopt;
  std::sort(m.members.begin(), m.members.end(),
            [](const Member& a, const Member& b) { return a.raft_id < b.raft_id; });
  return m;
}

}  // namespace raftdns::replication
