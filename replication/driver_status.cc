// Driver: node reports, cluster status between peers, and waiting until every member has applied an index.
#include <nlohmann/json.hpp>

#include "common/bytes.h"
#include "replication/driver.h"

namespace raftdns::replication {

using bytes::get_u64_be;
using bytes::put_u64_be;

namespace {

nlohmann::json to_json(const NodeReport& r) {
  nlohmann::json peers = nlohmann::json::array();
  for (const auto& p : r.peers) {
    peers.push_back({{"id", p.id},
                     {"reachable", p.reachable},
                     {"match", p.match},
                     {"lag", p.lag},
                     {"last_heard_ms", p.last_heard_ms}});
  }
  return {{"id", r.id},
          {"reachable", r.reachable},
          {"error", r.error},
          {"role", r.role},
          {"term", r.term},
          {"leader", r.leader},
          {"commit", r.commit},
          {"applied", r.applied},
          {"wal_bytes", r.wal_bytes},
          {"snapshot_index", r.snapshot_index},
          {"digest", r.digest},
          {"peers", peers}};
}

NodeReport report_from_json(const nlohmann::json& j) {
  NodeReport r;
  r.id = j.value("id", "");
  r.reachable = j.value("reachable", true);
  r.error = j.value("error", "");
  r.role = j.value("role", "");
  r.term = j.value("term", uint64_t{0});
  r.leader = j.value("leader", "");
  r.commit = j.value("commit", uint64_t{0});
  r.applied = j.value("applied", uint64_t{0});
  r.wal_bytes = j.value("wal_bytes", uint64_t{0});
  r.snapshot_index = j.value("snapshot_index", uint64_t{0});
  r.digest = j.value("digest", "");
  if (j.contains("peers") && j["peers"].is_array()) {
    for (const auto& p : j["peers"]) {
      r.peers.push_back(PeerReport{p.value("id", ""), p.value("reachable", false),
                                   p.value("match", uint64_t{0}), p.value("lag", uint64_t{0}),
                                   p.value("last_heard_ms", int64_t{-1})});
    }
  }
  return r;
}

}  // namespace

// ---- reports ----

NodeReport Driver::local_report(bool light) const {
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
  if (!light) r.digest = sm_.digest();
  for (const auto& p : cfg_.peers) {
    PeerReport pr;
    pr.id = p.id;
    uint64_t rid = raft_id_of(p.id);
    pr.reachable = peer_reachable(rid);
    auto ps = network_ ? network_->peer_stats(p.id) : PeerStats{};
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

void Driver::on_status_request(const std::string& peer, std::span<const uint8_t> p) {
  uint64_t id = 0;
  if (!get_u64_be(p, id)) return;
  std::vector<uint8_t> out;
  put_u64_be(out, id);
  auto body = to_json(local_report(id == 0)).dump();
  out.insert(out.end(), body.begin(), body.end());
  network_->send(peer, kStatusReply, out);
}

void Driver::cluster_report(Clock::time_point deadline,
                           std::function<void(std::vector<NodeReport>)> done) {
  uint64_t id = ++next_request_;
  auto& req = reports_[id];
  req.deadline = deadline;
  req.done = std::move(done);
  req.reports.push_back(local_report());
  std::vector<uint8_t> ask;
  put_u64_be(ask, id);
  for (const auto& p : cfg_.peers) {
    NodeReport missing;
    missing.id = p.id;
    missing.reachable = false;
    missing.error = "no answer";
    req.slot[p.id] = req.reports.size();
    req.reports.push_back(missing);
    if (!network_ || !network_->send(p.id, kStatusRequest, ask)) {
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
  try {
    r = report_from_json(nlohmann::json::parse(p.begin(), p.end()));
  } catch (const std::exception&) {
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
  for (const auto& p : cfg_.peers) {
    auto got = peer_applied_.find(p.id);
    if (got == peer_applied_.end() || got->second < need) {
      network_->send(p.id, kStatusRequest, ask);
    }
  }
}

}  // namespace raftdns::replication
