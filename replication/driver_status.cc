// Driver: node reports, cluster status between peers, waiting until every member has applied an index, and read barriers.
#include "common/bytes.h"
#include "replication/driver.h"

namespace raftdns::replication {

using bytes::get_u64_be;
using bytes::put_u64_be;

namespace {

// A NodeReport between peers: u8 version | fields in declaration order,
// strings as u64 length + bytes, integers as u64, flags as u8.
constexpr uint8_t kReportVersion = 1;

void put_string(std::vector<uint8_t>& out, const std::string& v) {
  put_u64_be(out, v.size());
  out.insert(out.end(), v.begin(), v.end());
}
bool get_string(std::span<const uint8_t>& in, std::string& v) {
  uint64_t n = 0;
  if (!get_u64_be(in, n) || n > in.size()) return false;
  v.assign(in.begin(), in.begin() + static_cast<std::ptrdiff_t>(n));
  in = in.subspan(n);
  return true;
}
bool get_flag(std::span<const uint8_t>& in, bool& v) {
  if (in.empty() || in[0] > 1) return false;
  v = in[0] == 1;
  in = in.subspan(1);
  return true;
}

void encode_report(std::vector<uint8_t>& out, const NodeReport& r) {
  out.push_back(kReportVersion);
  put_string(out, r.id);
  out.push_back(r.reachable ? 1 : 0);
  put_string(out, r.error);
  put_string(out, r.role);
  put_u64_be(out, r.term);
  put_string(out, r.leader);
  put_u64_be(out, r.commit);
  put_u64_be(out, r.applied);
  put_u64_be(out, r.wal_bytes);
  put_u64_be(out, r.snapshot_index);
  put_string(out, r.digest);
  put_u64_be(out, r.peers.size());
  for (const auto& p : r.peers) {
    put_string(out, p.id);
    out.push_back(p.reachable ? 1 : 0);
    put_u64_be(out, p.match);
    put_u64_be(out, p.lag);
    put_u64_be(out, static_cast<uint64_t>(p.last_heard_ms));
  }
}

bool decode_report(std::span<const uint8_t> in, NodeReport& r) {
  if (in.empty() || in[0] != kReportVersion) return false;
  in = in.subspan(1);
  uint64_t peers = 0;
  if (!get_string(in, r.id) || !get_flag(in, r.reachable) || !get_string(in, r.error) ||
      !get_string(in, r.role) || !get_u64_be(in, r.term) || !get_string(in, r.leader) ||
      !get_u64_be(in, r.commit) || !get_u64_be(in, r.applied) || !get_u64_be(in, r.wal_bytes) ||
      !get_u64_be(in, r.snapshot_index) || !get_string(in, r.digest) || !get_u64_be(in, peers) ||
      peers > in.size()) {
    return false;
  }
  for (uint64_t i = 0; i < peers; ++i) {
    PeerReport p;
    uint64_t heard = 0;
    if (!get_string(in, p.id) || !get_flag(in, p.reachable) || !get_u64_be(in, p.match) ||
        !get_u64_be(in, p.lag) || !get_u64_be(in, heard)) {
      return false;
    }
    p.last_heard_ms = static_cast<int64_t>(heard);
    r.peers.push_back(std::move(p));
  }
  return in.empty();
}

}  // namespace

// ---- reports ----

std::vector<std::string> Driver::peer_names() const {
  std::vector<std::string> out;
  if (members_.members.empty()) {
    for (const auto& p : cfg_.peers) out.push_back(p.id);
  } else {
    for (const auto& m : members_.members) {
      if (m.raft_id != self_) out.push_back(m.name);
    }
  }
  return out;
}

NodeReport Driver::local_report() const {
  NodeReport r;
  r.id = cfg_.self_id;
  auto st = node_->status();
  r.role = raft::to_string(st.role);
  r.term = st.term;
  auto lead = names_.find(st.lead);
  r.leader = lead == names_.end() ? "" : lead->second;
  r.commit = st.commit;
  r.applied = applied_;
  r.wal_bytes = wal_->size_bytes();
  r.snapshot_index = wal_->snapshot_index();
  for (const auto& name : peer_names()) {
    PeerReport pr;
    pr.id = name;
    uint64_t rid = raft_id_of(name);
    pr.reachable = peer_reachable(rid);
    auto ps = network_ ? network_->peer_stats(name) : PeerStats{};
    if (ps.last_heard) {
      pr.last_heard_ms =
          std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - *ps.last_heard)
              .count();
    }
    for (const auto& pg : st.progress) {
      if (pg.id == rid) {
        pr.match = pg.match;
        pr.lag = st.last_index > pg.match ? st.last_index - pg.match : 0;
      }
    }
    r.peers.push_back(pr);
  }
  return r;
}

void Driver::digest(std::function<void(std::string)> done) {
  // The job is made here, on the loop, so that it reads the state as
  // applied now; only the reading runs on the other thread. Nothing is
  // being applied then, so the state is the one at applied_.
  drain_applier();
  digests_.push_back({std::async(std::launch::async, sm_.digest_job()), std::move(done)});
  update_pump();
}

void Driver::reap_digests() {
  std::vector<std::pair<std::function<void(std::string)>, std::string>> ready;
  for (auto it = digests_.begin(); it != digests_.end();) {
    if (it->result.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
      ++it;
      continue;
    }
    ready.emplace_back(std::move(it->done), it->result.get());
    it = digests_.erase(it);
  }
  // Called after the list is settled: a callback may ask for another digest.
  for (auto& [done, d] : ready) done(std::move(d));
}

// A status request: u64 id, then optionally a u8 that is kStatusNoDigest when
// the asker does not want the digest. Id 0 (the waits' polling) never wants it.
void Driver::on_status_request(const std::string& peer, std::span<const uint8_t> p) {
  uint64_t id = 0;
  if (!get_u64_be(p, id)) return;
  const bool want_digest = id != 0 && !(p.size() == 1 && p[0] == kStatusNoDigest);
  // The report's applied index must be the one the digest is taken at.
  if (want_digest) drain_applier();
  NodeReport r = local_report();
  auto reply = [this, peer, id](const NodeReport& report) {
    std::vector<uint8_t> out;
    put_u64_be(out, id);
    encode_report(out, report);
    network_->send(peer, kStatusReply, out);
  };
  if (!want_digest) return reply(r);
  digest([r = std::move(r), reply](std::string d) mutable {
    r.digest = std::move(d);
    reply(r);
  });
}

void Driver::cluster_report(Clock::time_point deadline,
                            std::function<void(std::vector<NodeReport>)> done, bool digests) {
  uint64_t id = ++next_request_;
  auto& req = reports_[id];
  req.deadline = deadline;
  req.done = std::move(done);
  if (digests) drain_applier();  // the digest is taken at the reported applied index
  req.reports.push_back(local_report());
  if (digests) {
    req.own_digest_pending = true;
    digest([this, id](std::string d) {
      auto it = reports_.find(id);
      if (it == reports_.end()) return;  // answered at its deadline without it
      it->second.reports[0].digest = std::move(d);
      it->second.own_digest_pending = false;
      maybe_finish_report(id);
    });
  }
  std::vector<uint8_t> ask;
  put_u64_be(ask, id);
  if (!digests) ask.push_back(kStatusNoDigest);
  for (const auto& name : peer_names()) {
    NodeReport missing;
    missing.id = name;
    missing.reachable = false;
    missing.error = "no answer";
    req.slot[name] = req.reports.size();
    req.reports.push_back(missing);
    if (!network_ || !network_->send(name, kStatusRequest, ask)) {
      req.reports.back().error = "not connected";
    }
  }
  maybe_finish_report(id);
}

void Driver::expire_reports(Clock::time_point now) {
  for (auto it = reports_.begin(); it != reports_.end();) {
    if (now < it->second.deadline) {
      ++it;
      continue;
    }
    ReportRequest req = std::move(it->second);
    it = reports_.erase(it);
    if (req.done) req.done(std::move(req.reports));
  }
}

void Driver::maybe_finish_report(uint64_t id) {
  auto it = reports_.find(id);
  if (it == reports_.end()) return;
  if (it->second.own_digest_pending) return;
  for (const auto& r : it->second.reports) {
    if (!r.reachable && r.error == "no answer") return;
  }
  ReportRequest req = std::move(it->second);
  reports_.erase(it);
  if (req.done) req.done(std::move(req.reports));
}

void Driver::on_status_reply(const std::string& peer, std::span<const uint8_t> p) {
  uint64_t id = 0;
  if (!get_u64_be(p, id)) return;
  NodeReport r;
  if (!decode_report(p, r)) {
    log("peer " + peer + ": malformed status reply");
    return;
  }
  peer_applied_[peer] = std::max(peer_applied_[peer], r.applied);
  if (id == 0) {
    check_waits(false);
    return;
  }
  auto it = reports_.find(id);
  if (it == reports_.end()) return;
  auto slot = it->second.slot.find(peer);
  if (slot == it->second.slot.end()) return;
  r.id = peer;
  r.reachable = true;
  it->second.reports[slot->second] = std::move(r);
  maybe_finish_report(id);
}

// ---- waiting for every member ----

std::vector<std::string> Driver::members_behind(uint64_t index) const {
  std::vector<std::string> behind;
  auto consider = [&](uint64_t id) {
    if (id == self_) {
      if (applied_ < index) behind.push_back(cfg_.self_id);
      return;
    }
    auto name = names_.find(id);
    std::string n = name == names_.end() ? std::to_string(id) : name->second;
    auto got = peer_applied_.find(n);
    if (got == peer_applied_.end() || got->second < index) behind.push_back(n);
  };
  for (auto v : applied_conf_.voters) consider(v);
  for (auto l : applied_conf_.learners) consider(l);
  return behind;
}

// Returns true when the wait is finished (and has been answered).
bool Driver::check_wait(AllWait& w, bool expired) {
  auto behind = members_behind(w.index);
  if (behind.empty()) {
    w.done({});
    return true;
  }
  if (!expired) return false;
  std::string names;
  for (const auto& b : behind) {
    if (!names.empty()) names += ", ";
    auto got = peer_applied_.find(b);
    names += b + (got == peer_applied_.end() ? std::string(" (no answer)")
                                             : " (applied " + std::to_string(got->second) + ")");
  }
  w.done(make_error("not applied everywhere by the deadline: index " + std::to_string(w.index) +
                    " missing on " + names));
  return true;
}

void Driver::check_waits(bool expire_now) {
  check_barriers(expire_now);
  auto now = Clock::now();
  for (auto it = waits_.begin(); it != waits_.end();) {
    if (check_wait(*it, expire_now && now >= it->deadline)) {
      it = waits_.erase(it);
    } else {
      ++it;
    }
  }
}

void Driver::wait_applied_everywhere(uint64_t index, Clock::time_point deadline,
                                     std::function<void(Status)> done) {
  AllWait w{index, deadline, std::move(done)};
  if (check_wait(w, false)) return;
  waits_.push_back(std::move(w));
  poll_peers_for_waits();
}

void Driver::poll_peers_for_waits() {
  if (waits_.empty() || !network_) return;
  uint64_t need = 0;
  for (const auto& w : waits_) need = std::max(need, w.index);
  std::vector<uint8_t> ask;
  put_u64_be(ask, 0);
  for (const auto& name : peer_names()) {
    auto got = peer_applied_.find(name);
    if (got == peer_applied_.end() || got->second < need) {
      network_->send(name, kStatusRequest, ask);
    }
  }
}

// ---- read barriers ----
//
// A barrier's ReadIndex context is this node's raft id and the barrier's
// number, so that no two nodes' requests meet in the leader's queue.

void Driver::read_barrier(Clock::time_point deadline, std::function<void(Status, uint64_t)> done) {
  if (removed_) return done(make_error("this node was removed from the cluster"), 0);
  if (stopped_) return done(make_error("the server is shutting down"), 0);
  barriers_.emplace(++next_barrier_, Barrier{deadline, std::move(done)});
  ask_read_index();
  wake();
}

void Driver::ask_read_index() {
  for (auto& [id, b] : barriers_) {
    if (b.answered) continue;
    if (--b.wait_ticks > 0) continue;
    std::vector<uint8_t> context;
    put_u64_be(context, self_);
    put_u64_be(context, id);
    // Refused while no leader is known: asked again at the next tick.
    b.wait_ticks = node_->read_index(std::move(context)) ? cfg_.election_ticks : 0;
  }
}

void Driver::on_read_states(const std::vector<raft::ReadState>& states) {
  for (const auto& rs : states) {
    std::span<const uint8_t> in(rs.context);
    uint64_t node = 0, id = 0;
    if (!get_u64_be(in, node) || !get_u64_be(in, id) || node != self_) continue;
    auto it = barriers_.find(id);
    if (it == barriers_.end() || it->second.answered) continue;
    it->second.answered = true;
    it->second.index = rs.index;
  }
  check_barriers(false);
}

void Driver::check_barriers(bool expire_now) {
  if (barriers_.empty()) return;
  auto now = Clock::now();
  for (auto it = barriers_.begin(); it != barriers_.end();) {
    Barrier& b = it->second;
    Status outcome;
    if (b.answered && applied_ >= b.index) {
      outcome = Status{};
    } else if (expire_now && now >= b.deadline) {
      if (!b.answered) {
        outcome = make_error("the leader did not confirm its commit index by the deadline (" +
                             no_leader_reason() + ")");
      } else {
        outcome = make_error("not applied through the cluster's commit index " +
                             std::to_string(b.index) + " by the deadline (applied " +
                             std::to_string(applied_) + ")");
      }
    } else {
      ++it;
      continue;
    }
    auto done = std::move(b.done);
    it = barriers_.erase(it);
    done(std::move(outcome), applied_);
  }
}

}  // namespace raftdns::replication
