// Rendering the daemon's metrics and answering the health endpoints.
#include "daemon/server/metrics_service.h"

#include <array>

#include "daemon/server/dns_worker.h"
#include "daemon/server/metrics_process.h"
#include "daemon/server/metrics_text.h"
#include "daemon/store/read_txn.h"

namespace raftdns::server {
namespace {

using Type = MetricsText::Type;
constexpr auto kRelaxed = std::memory_order_relaxed;

uint64_t sum_workers(const std::vector<const DnsWorker*>& workers,
                     const std::atomic<uint64_t> WorkerCounters::*field) {
  uint64_t total = 0;
  for (const DnsWorker* w : workers) total += (w->counters().*field).load(kRelaxed);
  return total;
}

void write_dns(MetricsText& out, const std::vector<const DnsWorker*>& workers) {
  // Summed over workers; only label sets that occurred are written.
  std::array<std::array<std::array<uint64_t, kRcodeSlots>, kQtypeSlots>, kDnsProtocols> queries{};
  std::array<uint64_t, kDnsProtocols> truncated{};
  uint64_t accepted = 0, closed = 0, transfers = 0, transfers_refused = 0;
  for (const DnsWorker* w : workers) {
    transfers += w->transfers_started();
    transfers_refused += w->transfers_refused();
    const DnsMetrics& m = w->metrics();
    for (size_t p = 0; p < kDnsProtocols; ++p) {
      for (size_t q = 0; q < kQtypeSlots; ++q) {
        for (size_t r = 0; r < kRcodeSlots; ++r) queries[p][q][r] += m.responses[p][q][r].load(kRelaxed);
      }
      truncated[p] += m.truncated[p].load(kRelaxed);
    }
    accepted += m.tcp_accepted.load(kRelaxed);
    closed += m.tcp_closed.load(kRelaxed);
  }
  out.family("raftdns_dns_transfers_total", Type::counter,
             "Zone transfers (AXFR, IXFR) by result: started, or refused (policy, TSIG).");
  out.sample("raftdns_dns_transfers_total", {{"result", "started"}}, transfers);
  out.sample("raftdns_dns_transfers_total", {{"result", "refused"}}, transfers_refused);
  out.family("raftdns_dns_queries_total", Type::counter,
             "DNS queries answered, by transport, query type and response code (before rate "
             "limiting).");
  for (size_t p = 0; p < kDnsProtocols; ++p) {
    for (size_t q = 0; q < kQtypeSlots; ++q) {
      for (size_t r = 0; r < kRcodeSlots; ++r) {
        if (queries[p][q][r] == 0) continue;
        out.sample("raftdns_dns_queries_total",
                   {{"protocol", protocol_label(p)}, {"qtype", qtype_label(q)},
                    {"rcode", rcode_label(r)}},
                   queries[p][q][r]);
      }
    }
  }
  out.family("raftdns_dns_truncated_responses_total", Type::counter,
             "Responses sent with the TC bit because they did not fit, by transport.");
  for (size_t p = 0; p < kDnsProtocols; ++p) {
    out.sample("raftdns_dns_truncated_responses_total", {{"protocol", protocol_label(p)}},
               truncated[p]);
  }
  out.family("raftdns_dns_rrl_actions_total", Type::counter,
             "UDP responses held back by response rate limiting: dropped, or slipped (sent "
             "truncated instead).");
  out.sample("raftdns_dns_rrl_actions_total", {{"action", "drop"}},
             sum_workers(workers, &WorkerCounters::rrl_dropped));
  out.sample("raftdns_dns_rrl_actions_total", {{"action", "slip"}},
             sum_workers(workers, &WorkerCounters::rrl_slipped));
  out.family("raftdns_dns_answer_cache_total", Type::counter,
             "Queries the workers' answer caches take, by result: hit (the answer reused), or "
             "miss (answered from the store).");
  out.sample("raftdns_dns_answer_cache_total", {{"result", "hit"}},
             sum_workers(workers, &WorkerCounters::answer_cache_hits));
  out.sample("raftdns_dns_answer_cache_total", {{"result", "miss"}},
             sum_workers(workers, &WorkerCounters::answer_cache_misses));
  out.gauge("raftdns_dns_tcp_connections_open", "DNS TCP connections open now.",
            static_cast<double>(accepted >= closed ? accepted - closed : 0));
  out.counter("raftdns_dns_tcp_connections_accepted_total", "DNS TCP connections accepted.",
              accepted);
  out.counter("raftdns_dns_tcp_connections_refused_total",
              "DNS TCP connections refused at the total or per-client cap.",
              sum_workers(workers, &WorkerCounters::tcp_refused));
  out.counter("raftdns_dns_udp_dropped_total",
              "UDP queries not answered: too large, no store view, or the reply could not be sent.",
              sum_workers(workers, &WorkerCounters::udp_dropped));
  out.counter("raftdns_dns_oversized_queries_total",
              "Queries larger than dns.max_message_size (UDP dropped, TCP connection closed).",
              sum_workers(workers, &WorkerCounters::oversized));
  out.gauge("raftdns_dns_workers", "DNS worker threads.", static_cast<double>(workers.size()));
}

void write_raft(MetricsText& out, const LoopSnapshot& s, const replication::DriverMetrics* d) {
  const replication::NodeReport& n = s.node;
  if (s.has_cluster) {
    out.gauge("raftdns_raft_term", "Current Raft term.", static_cast<double>(n.term));
    out.family("raftdns_raft_role", Type::gauge,
               "This node's Raft role: 1 for the current one, 0 for the others.");
    for (const char* role : {"follower", "pre-candidate", "candidate", "leader"}) {
      out.sample("raftdns_raft_role", {{"role", role}}, uint64_t{n.role == role});
    }
    out.gauge("raftdns_raft_leader_present", "1 when this node knows a leader, else 0.",
              n.leader.empty() ? 0 : 1);
    out.gauge("raftdns_raft_commit_index", "Highest log index known to be committed.",
              static_cast<double>(n.commit));
    out.gauge("raftdns_raft_applied_index", "Highest log index applied to the store.",
              static_cast<double>(n.applied));
    const QuorumView q = quorum_view(n);
    out.gauge("raftdns_raft_voters", "Cluster members as this node is configured: itself and "
              "its peers.", static_cast<double>(q.voters));
    out.gauge("raftdns_raft_voters_reachable",
              "Members this node reaches (connected and heard from lately), itself included.",
              static_cast<double>(q.reachable));
    out.gauge("raftdns_raft_quorum_reachable",
              "1 when a majority of members is reachable from this node, so writes can commit.",
              q.has_quorum() ? 1 : 0);
    out.family("raftdns_raft_peer_reachable", Type::gauge,
               "1 when the peer is connected and was heard from within two election timeouts.");
    for (const auto& p : n.peers) {
      out.sample("raftdns_raft_peer_reachable", {{"peer", p.id}}, uint64_t{p.reachable});
    }
    out.family("raftdns_raft_peer_last_heard_seconds", Type::gauge,
               "Seconds since this node last received a frame from the peer.");
    for (const auto& p : n.peers) {
      if (p.last_heard_ms < 0) continue;
      out.sample("raftdns_raft_peer_last_heard_seconds", {{"peer", p.id}},
                 static_cast<double>(p.last_heard_ms) / 1000.0);
    }
    // Match indexes are tracked by the leader only.
    out.family("raftdns_raft_peer_match_lag_entries", Type::gauge,
               "On the leader: entries the peer's log is behind the leader's last index.");
    if (n.role == "leader") {
      for (const auto& p : n.peers) {
        out.sample("raftdns_raft_peer_match_lag_entries", {{"peer", p.id}}, p.lag);
      }
    }
    out.gauge("raftdns_wal_size_bytes", "Bytes in use in live WAL segments.",
              static_cast<double>(n.wal_bytes));
    out.gauge("raftdns_wal_snapshot_index", "Log index the WAL was compacted or reset to.",
              static_cast<double>(n.snapshot_index));
  }
  if (!d) return;
  out.counter("raftdns_raft_leader_changes_total", "Times this node saw a new leader.",
              d->leader_changes.load(kRelaxed));
  out.counter("raftdns_raft_proposals_total", "Writes submitted on this node.",
              d->proposals.load(kRelaxed));
  out.counter("raftdns_raft_proposal_failures_total",
              "Writes submitted on this node that failed (no quorum, timeout, rejected).",
              d->proposal_failures.load(kRelaxed));
  out.family("raftdns_wal_fsync_duration_seconds", Type::histogram,
             "Time of each WAL fdatasync (a group commit of a batch of entries).");
  out.histogram("raftdns_wal_fsync_duration_seconds", {}, d->wal.fsync_seconds.snapshot());
  out.counter("raftdns_wal_written_bytes_total", "Record bytes appended to WAL segments.",
              d->wal.bytes_written.load(kRelaxed));
  out.gauge("raftdns_wal_segments", "Live WAL segment files.",
            static_cast<double>(d->wal.segments.load(kRelaxed)));
  out.family("raftdns_store_apply_duration_seconds", Type::histogram,
             "Time of each store write transaction applying a run of committed entries.");
  out.histogram("raftdns_store_apply_duration_seconds", {}, d->apply_seconds.snapshot());
  out.counter("raftdns_store_snapshots_made_total", "Store copies made to send to a follower.",
              d->snapshots_made.load(kRelaxed));
  out.counter("raftdns_store_snapshots_sent_total", "Snapshots streamed to a follower in full.",
              d->snapshots_sent.load(kRelaxed));
  out.counter("raftdns_store_snapshot_sent_bytes_total", "Bytes of snapshots sent in full.",
              d->snapshot_bytes_sent.load(kRelaxed));
  out.counter("raftdns_store_snapshots_received_total",
              "Snapshots received from the leader and installed.",
              d->snapshots_received.load(kRelaxed));
  out.counter("raftdns_store_snapshot_received_bytes_total", "Bytes of snapshots installed.",
              d->snapshot_bytes_received.load(kRelaxed));
}

void write_store(MetricsText& out, const LoopSnapshot& s) {
  out.gauge("raftdns_store_zones", "Zones in the store.", static_cast<double>(s.store.zones));
  out.gauge("raftdns_store_records", "Records in the store.", static_cast<double>(s.store.records));
  out.family("raftdns_zone_serial", Type::gauge, "SOA serial of the zone as applied here.");
  std::vector<std::string> names;
  names.reserve(s.zones.size());
  for (const auto& z : s.zones) names.push_back(z.name.to_text());
  for (size_t i = 0; i < s.zones.size(); ++i) {
    out.sample("raftdns_zone_serial", {{"zone", names[i]}}, uint64_t{s.zones[i].serial});
  }
  out.family("raftdns_zone_records", Type::gauge, "Records in the zone.");
  for (size_t i = 0; i < s.zones.size(); ++i) {
    out.sample("raftdns_zone_records", {{"zone", names[i]}}, s.zones[i].records);
  }
  out.family("raftdns_control_requests_total", Type::counter,
             "Control-socket requests answered, by command and result.");
  for (const auto& [key, count] : s.control) {
    out.sample("raftdns_control_requests_total",
               {{"command", control::op_name(key.first)}, {"result", key.second ? "ok" : "error"}},
               count);
  }
}

void write_updates(MetricsText& out, const UpdateCounters& u) {
  out.family("raftdns_dns_updates_total", Type::counter,
             "RFC 2136 UPDATE messages answered, by result: applied, prerequisite_failed "
             "(YXDOMAIN, YXRRSET, NXDOMAIN, NXRRSET), refused (no grant, or a zone rule), "
             "notauth (bad TSIG, zone not served), malformed (FORMERR, NOTZONE), failed "
             "(SERVFAIL: no quorum, timeout).");
  const std::pair<const char*, const std::atomic<uint64_t>*> results[] = {
      {"applied", &u.applied},   {"prerequisite_failed", &u.prerequisite_failed},
      {"refused", &u.refused},   {"notauth", &u.notauth},
      {"malformed", &u.malformed}, {"failed", &u.failed},
  };
  for (const auto& [result, count] : results) {
    out.sample("raftdns_dns_updates_total", {{"result", result}},
               count->load(std::memory_order_relaxed));
  }
}

}  // namespace

QuorumView quorum_view(const replication::NodeReport& node) {
  QuorumView q;
  q.voters = 1 + node.peers.size();
  for (const auto& p : node.peers) q.reachable += p.reachable ? 1 : 0;
  return q;
}

MetricsService::MetricsService(Sources sources) : sources_(std::move(sources)) {}

void MetricsService::publish(std::shared_ptr<const LoopSnapshot> snapshot) {
  snapshot_.store(std::move(snapshot), std::memory_order_release);
}

std::string MetricsService::render() const {
  MetricsText out;
  out.family("raftdns_build_info", Type::gauge, "Always 1; labels carry the version and node id.");
  out.sample("raftdns_build_info", {{"version", RAFTDNS_VERSION}, {"node", sources_.node_id}},
             uint64_t{1});
  write_dns(out, sources_.workers);
  if (sources_.updates) write_updates(out, *sources_.updates);
  if (auto s = latest()) {
    write_raft(out, *s, sources_.driver);
    write_store(out, *s);
  }
  write_process_metrics(out);
  return out.take();
}

HttpAnswer MetricsService::metrics() const {
  HttpAnswer a;
  a.body = render();
  a.content_type = "text/plain; version=0.0.4; charset=utf-8";
  return a;
}

// Sound: the main loop still turns (it published lately) and the store
// still gives a read view. Either failing means a restart is the cure.
HttpAnswer MetricsService::healthz() const {
  HttpAnswer a;
  auto s = latest();
  if (!s) {
    a.code = 503;
    a.body = "starting\n";
    return a;
  }
  const auto age = std::chrono::steady_clock::now() - s->taken;
  if (age > sources_.loop_stall_limit) {
    a.code = 503;
    a.body = "main loop stalled: no state published for " +
             std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(age).count()) +
             " ms\n";
    return a;
  }
  if (!sources_.store->begin_read()) {
    a.code = 503;
    a.body = "store: cannot open a read transaction\n";
    return a;
  }
  a.body = "ok\n";
  return a;
}

// Ready: DNS is served from a store at or beyond the index it held at
// start. Quorum does not matter for readiness (answers never stop), but the
// body says whether writes can commit.
HttpAnswer MetricsService::readyz() const {
  HttpAnswer a;
  auto s = latest();
  if (!serving_.load(std::memory_order_acquire) || !s) {
    a.code = 503;
    a.body = "not ready: DNS workers not serving yet\n";
    return a;
  }
  if (s->store.applied_index < sources_.applied_at_start) {
    a.code = 503;
    a.body = "not ready: store at applied index " + std::to_string(s->store.applied_index) +
             ", below " + std::to_string(sources_.applied_at_start) + " at start\n";
    return a;
  }
  a.body = "ready: serving DNS from applied index " + std::to_string(s->store.applied_index) + "\n";
  if (s->has_cluster) {
    const QuorumView q = quorum_view(s->node);
    a.body += std::string(q.has_quorum() ? "quorum: " : "no quorum: ") +
              std::to_string(q.reachable) + " of " + std::to_string(q.voters) +
              " voters reachable; leader " + (s->node.leader.empty() ? "none" : s->node.leader) +
              "\n";
  }
  return a;
}

}  // namespace raftdns::server
