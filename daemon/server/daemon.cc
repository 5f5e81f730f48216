// Daemon wiring, signals and the main loop.
#include "daemon/server/daemon.h"

#include <event2/thread.h>
#include <fcntl.h>
#include <sodium.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <ctime>
#include <thread>

#include "daemon/server/catalog.h"
#include "daemon/server/control_service.h"
#include "daemon/server/dns_worker.h"
#include "daemon/server/log.h"
#include "daemon/server/metrics_http.h"
#include "daemon/server/metrics_service.h"
#include "daemon/server/notify.h"
#include "daemon/server/proposer.h"
#include "daemon/server/sd_notify.h"
#include "daemon/server/signing_clock.h"
#include "daemon/server/update_service.h"
#include "daemon/store/store.h"
#include "replication/key.h"
#include "replication/membership.h"
#include "replication/node.h"

namespace raftdns::server {
namespace {

// The DNS Cookie secret (RFC 9018): a keyed BLAKE2b of a fixed label under
// the cluster key, so every node makes and checks the same cookies without
// the cluster key itself ever keying anything but the peer frames. Without
// a key file (a lone node), a random secret for this process.
query::CookieSecret cookie_secret(const Config& c) {
  static constexpr char kLabel[] = "raftdns DNS cookie secret (RFC 9018), v1";
  query::CookieSecret secret{};
  if (!c.cluster_key_file.empty()) {
    if (auto key = replication::load_key_file(c.cluster_key_file)) {
      crypto_generichash(secret.data(), secret.size(), reinterpret_cast<const uint8_t*>(kLabel),
                         sizeof(kLabel) - 1, key->bytes.data(), key->bytes.size());
      return secret;
    }
  }
  static const query::CookieSecret random = [] {
    query::CookieSecret r{};
    randombytes_buf(r.data(), r.size());
    return r;
  }();
  return random;
}

query::EngineConfig engine_config(const Config& c) {
  query::EngineConfig e;
  e.identity = c.identity;
  e.version = c.version;
  e.max_udp_size = c.max_udp_size;
  e.minimal_responses = c.minimal_responses;
  e.cookies = c.cookies;
  e.cookie_secret = cookie_secret(c);
  return e;
}

std::shared_ptr<const xfr::TransferSettings> transfer_settings(const Config& c) {
  auto s = std::make_shared<xfr::TransferSettings>();
  s->keys = c.tsig_keys;
  s->policy = xfr::TransferPolicy(c.transfer_allow);
  s->warn = [](const std::string& line) { log_warning(line); };
  s->info = [](const std::string& line) { log_info(line); };
  return s;
}

Status make_directories(const std::string& path, mode_t mode) {
  for (size_t slash = path.find('/', 1);; slash = path.find('/', slash + 1)) {
    std::string dir = slash == std::string::npos ? path : path.substr(0, slash);
    if (!dir.empty() && ::mkdir(dir.c_str(), mode) != 0 && errno != EEXIST) {
      return make_error("cannot create directory " + dir + ": " + std::strerror(errno));
    }
    if (slash == std::string::npos) return {};
  }
}

unsigned resolve_workers(unsigned configured) {
  if (configured != 0) return configured;
  unsigned cpus = std::thread::hardware_concurrency();
  return cpus == 0 ? 1 : cpus;
}

std::string monotonic_usec() {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  return std::to_string(static_cast<uint64_t>(now.tv_sec) * 1000000u +
                        static_cast<uint64_t>(now.tv_nsec) / 1000u);
}

}  // namespace

Daemon::Daemon(Config config) : config_(std::move(config)) {}

Daemon::~Daemon() { shutdown(); }

Status Daemon::start() {
  started_ = std::chrono::steady_clock::now();
  set_log_level(config_.log_level);
  // TCP clients, control clients and peers each hold a descriptor; the soft
  // limit (often 1024) is lower than the connection caps allow, so raise it
  // to the hard limit.
  if (rlimit fds{}; ::getrlimit(RLIMIT_NOFILE, &fds) == 0 && fds.rlim_cur < fds.rlim_max) {
    fds.rlim_cur = fds.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &fds) != 0) log_warning("cannot raise the open-file limit");
  }
  // Workers are stopped from the main thread (event_base_loopexit), which
  // libevent only allows once locking is on.
  if (evthread_use_pthreads() != 0) return make_error("libevent has no pthread support");
  base_.reset(event_base_new());
  if (!base_) return make_error("cannot create the main event loop");

  if (Status s = make_directories(config_.data_dir, 0750); !s) return s;
  const std::string store_dir = config_.data_dir + "/store";
  store::StoreOptions store_options;
  store_options.journal_entries = config_.journal_entries;
  auto store = store::Store::open(store_dir, store_options);
  if (!store) return make_error("cannot open the store: " + store.error());
  store_ = std::move(*store);
  const store::StoreStats stats = store_->stats();
  applied_at_start_ = stats.applied_index;
  log_info("store " + store_dir + " open: " + std::to_string(stats.zones) + " zones, " +
           std::to_string(stats.records) + " records, applied index " +
           std::to_string(stats.applied_index));

  settings_ = std::make_unique<ServingSettings>(engine_config(config_));
  limiter_ =
      std::make_unique<ConnectionLimiter>(config_.tcp_max_connections, config_.tcp_max_per_client);
  const unsigned workers = resolve_workers(config_.workers);
  WorkerOptions options = worker_options(config_);
  options.transfer = transfer_settings(config_);
  refusals_ = std::make_unique<xfr::RefusalLog>();
  options.refusals = refusals_.get();
  main_inbox_ = std::make_shared<Inbox>(base_.get());
  updates_ = std::make_unique<UpdateService>(config_, config_.tsig_keys, *store_, main_inbox_);
  for (unsigned i = 0; i < workers; ++i) {
    auto worker =
        std::make_unique<DnsWorker>(i, *store_, *settings_, *limiter_, options, updates_.get());
    if (Status s = worker->listen(config_.listen); !s) return s;
    workers_.push_back(std::move(worker));
  }

  driver_metrics_ = std::make_unique<replication::DriverMetrics>();
  if (Status s = open_metrics(); !s) return s;

  // DNS is served from the store at once: before the WAL is read and
  // before Raft has a leader.
  for (auto& w : workers_) w->start();
  if (metrics_) {
    metrics_->set_serving();
    metrics_http_->start();
  }
  if (Status s = open_cluster(); !s) return s;
  proposer_ = std::make_unique<ClusterProposer>(*cluster_);
  updates_->set_proposer(proposer_.get());

  control_service_ = std::make_unique<ControlService>(*store_, *proposer_, [this] {
    control::StatusInfo s;
    const store::StoreStats st = store_->stats();
    s.version = RAFTDNS_VERSION;
    s.node_id = config_.node_id;
    s.uptime_seconds = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::seconds>(
                                                 std::chrono::steady_clock::now() - started_)
                                                 .count());
    s.zones = st.zones;
    s.records = st.records;
    s.queries = queries_served();
    const UpdateCounters& u = updates_->counters();
    s.updates = {{"applied", u.applied.load(std::memory_order_relaxed)},
                 {"prerequisite_failed", u.prerequisite_failed.load(std::memory_order_relaxed)},
                 {"refused", u.refused.load(std::memory_order_relaxed)},
                 {"notauth", u.notauth.load(std::memory_order_relaxed)},
                 {"malformed", u.malformed.load(std::memory_order_relaxed)},
                 {"failed", u.failed.load(std::memory_order_relaxed)}};
    s.applied_index = st.applied_index;
    s.applied_term = st.applied_term;
    s.imports = st.imports;
    s.staged_records = st.staged_records;
    s.reclaim_pending = st.reclaim_pending;
    s.cluster = cluster_->local_report();
    s.role = s.cluster->role;
    return s;
  });
  control_service_->set_cluster_status(
      [this](std::chrono::steady_clock::time_point deadline,
             std::function<void(std::vector<control::NodeInfo>)> done) {
        cluster_->cluster_report(deadline, std::move(done));
      });
  control_service_->set_status_digest(
      [this](std::function<void(std::string)> done) { cluster_->digest(std::move(done)); });
  control_service_->set_cluster_admin(cluster_admin());
  control_service_->set_signing_defaults(config_.signing_defaults);
  control_ = std::make_unique<ControlListener>(base_.get(), *control_service_);
  if (Status s = control_->open(config_.control_socket, config_.control_group); !s) return s;

  ::signal(SIGPIPE, SIG_IGN);
  for (int sig : {SIGTERM, SIGINT}) {
    signal_events_.emplace_back(
        evsignal_new(base_.get(), sig, forward_to<&Daemon::on_terminate>, this));
  }
  signal_events_.emplace_back(
      evsignal_new(base_.get(), SIGHUP, forward_to<&Daemon::on_reload>, this));
  for (auto& ev : signal_events_) event_add(ev.get(), nullptr);

  // NOTIFY for every change this node applies, from here on.
  notify_ = std::make_unique<NotifySender>(base_.get(), *store_, config_.notify, config_.tsig_keys);
  if (Status s = notify_->open(); !s) return s;
  if (config_.catalog_zone) {
    catalog_ = std::make_unique<CatalogKeeper>(base_.get(), *store_, *proposer_,
                                               *config_.catalog_zone,
                                               [this] { return cluster_->is_leader(); });
    if (Status s = catalog_->start(); !s) return s;
  }
  signing_clock_ = std::make_unique<SigningClock>(
      base_.get(), *store_, *proposer_, std::chrono::seconds(config_.dnssec_tick_interval),
      [this] { return cluster_->is_leader(); });
  if (Status s = signing_clock_->start(); !s) return s;
  // The store tells of changed zones on the thread that applied them (the
  // cluster's apply thread): the keepers are the main loop's.
  store_->set_change_observer([this, inbox = main_inbox_](const std::vector<wire::Name>& zones) {
    inbox->post([this, zones] {
      if (notify_) notify_->zones_changed(zones);
      if (catalog_) catalog_->zones_changed();
      if (signing_clock_) signing_clock_->zones_changed();
    });
  });
  if (Status s = cluster_->start(); !s) return s;
  reclaim_timer_.reset(event_new(base_.get(), -1, 0, forward_to<&Daemon::reclaim_slice>, this));
  reclaim_slice();
  if (metrics_) {
    publish_metrics();
    metrics_timer_.reset(
        event_new(base_.get(), -1, EV_PERSIST, forward_to<&Daemon::publish_metrics>, this));
    timeval period{0, 250000};
    event_add(metrics_timer_.get(), &period);
  }
  std::string listening;
  for (const auto& a : config_.listen) listening += (listening.empty() ? "" : ", ") + a.to_text();
  log_info("raftdnsd " + std::string(RAFTDNS_VERSION) + " node " + config_.node_id +
           " serving DNS on " + listening + " with " + std::to_string(workers) +
           " workers; control socket " + config_.control_socket);
  sd_notify_send("READY=1\nSTATUS=serving\nMAINPID=" + std::to_string(::getpid()));
  return {};
}

Status Daemon::open_cluster() {
  replication::NodeConfig nc;
  nc.self_id = config_.node_id;
  if (config_.cluster_listen) nc.listen = config_.cluster_listen->to_text();
  if (config_.cluster_advertise) nc.advertise = config_.cluster_advertise->to_text();
  nc.join = config_.cluster_join;
  nc.force_new_cluster = config_.force_new_cluster;
  nc.on_removed = [this](const std::string& why) {
    // Its data would go stale with no one noticing: stop answering.
    log_error("cluster: " + why + "; stopping");
    exit_status_ = kExitRemoved;
    sd_notify_send("STOPPING=1\nSTATUS=removed from the cluster");
    event_base_loopbreak(base_.get());
  };
  nc.on_fatal = [this](const std::string& why) {
    std::string line = why;
    if (!config_.cluster_key_file.empty()) {
      line += " (this node's key_file: " + config_.cluster_key_file + ")";
    }
    log_error(line + "; stopping");
    exit_status_ = 1;
    sd_notify_send("STOPPING=1\nSTATUS=" + why);
    event_base_loopbreak(base_.get());
  };
  if (!config_.cluster_key_file.empty()) {
    auto key = replication::load_key_file(config_.cluster_key_file);
    if (!key) return make_error(key.error());
    nc.key = *key;
  }
  nc.peers = config_.peers;
  nc.wal_dir = config_.data_dir + "/wal";
  nc.snapshot_dir = config_.data_dir + "/snapshots";
  nc.tick = std::chrono::milliseconds(config_.tick_ms);
  nc.election_ticks = static_cast<int>(config_.election_ticks);
  nc.heartbeat_ticks = static_cast<int>(config_.heartbeat_ticks);
  nc.compact_entries = config_.compact_entries;
  nc.compact_bytes = config_.compact_bytes;
  nc.log = [](const std::string& line) { log_info(line); };
  nc.metrics = driver_metrics_.get();
  // The store's commits (each with its fdatasync) run beside the log's. A
  // follower, which no client waits on, gathers up to 10 ms of changes per
  // commit: about a quarter as many syncs, on a disk the log's syncs need.
  nc.apply_thread = true;
  nc.apply_linger = std::chrono::milliseconds(10);
  state_machine_ = std::make_unique<StoreStateMachine>(*store_);
  auto node = replication::ClusterNode::open(base_.get(), std::move(nc), *state_machine_);
  if (!node) return make_error("cannot open the replication log: " + node.error());
  cluster_ = std::move(*node);
  log_info("cluster: node " + config_.node_id + " with " + std::to_string(config_.peers.size()) +
           " peers" +
           (config_.cluster_listen ? ", peer port " + config_.cluster_listen->to_text() : ""));
  return {};
}

ControlService::ClusterAdmin Daemon::cluster_admin() {
  ControlService::ClusterAdmin admin;
  admin.list = [this](ControlService::ClusterAdmin::Deadline deadline,
                      std::function<void(std::vector<control::MemberInfo>)> done) {
    cluster_->cluster_report(deadline, [this, done = std::move(done)](
                                           std::vector<control::NodeInfo> reports) {
      const NodeReport* leader = nullptr;
      for (const auto& r : reports) {
        if (r.reachable && r.role == "leader") leader = &r;
      }
      std::vector<control::MemberInfo> out;
      for (const auto& m : cluster_->membership().members) {
        control::MemberInfo info;
        info.id = m.name;
        info.address = m.address;
        info.voter = m.voter;
        info.auto_promote = m.auto_promote;
        info.leader = !reports.empty() && reports[0].leader == m.name;
        info.reachable = m.name == config_.node_id;
        for (const auto& p : reports.empty() ? std::vector<PeerReport>{} : reports[0].peers) {
          if (p.id == m.name) info.reachable = p.reachable;
        }
        for (const auto& r : reports) {
          if (r.id == m.name && r.reachable) info.applied = r.applied;
        }
        if (leader) {
          if (leader->id == m.name) info.match = leader->commit;
          for (const auto& p : leader->peers) {
            if (p.id == m.name) info.match = p.match;
          }
        }
        out.push_back(std::move(info));
      }
      std::sort(out.begin(), out.end(),
                [](const auto& a, const auto& b) { return a.id < b.id; });
      done(std::move(out));
    }, /*digests=*/false);
  };
  admin.change = [this](const control::Request& request,
                        ControlService::ClusterAdmin::Deadline deadline,
                        std::function<void(Status, uint64_t)> done) {
    replication::MemberRequest r;
    r.name = request.member;
    r.address = request.address;
    r.stay_learner = request.learner;
    r.kind = request.op == control::Op::member_add       ? replication::MemberRequest::Kind::add
             : request.op == control::Op::member_promote ? replication::MemberRequest::Kind::promote
                                                         : replication::MemberRequest::Kind::remove;
    if (!config_.cluster_listen || config_.cluster_key_file.empty()) {
      return done(make_error("this node has no cluster.listen and cluster.key_file: it cannot "
                             "have peers (set both and restart it first)"),
                  0);
    }
    cluster_->change_membership(r, deadline, std::move(done));
  };
  admin.backup = [this](const control::Request& request, ControlService::Reply reply) {
    backup_chunk(request, std::move(reply));
  };
  admin.transfer = [this](const std::string& target, ControlService::ClusterAdmin::Deadline deadline,
                          std::function<void(Status)> done) {
    cluster_->transfer_leadership(target, deadline, std::move(done));
  };
  return admin;
}

// dnsadm backup. The first request (no id) waits until this node has
// applied everything committed in the cluster before it (unless `local`),
// then has a consistent copy of the store made on a thread (the
// StateMachine's snapshot copy, so it holds the data, the membership and
// the applied index) and answers with its first chunk; each later request
// reads the next chunk. One copy at a time; it is deleted after its last
// chunk, or when the next backup starts.
void Daemon::backup_chunk(const control::Request& request, ControlService::Reply reply) {
  const uint64_t limit = request.chunk_bytes == 0
                             ? control::kBackupChunkSize
                             : std::min<uint64_t>(request.chunk_bytes, control::kBackupChunkSize);
  auto read_chunk = [this, limit](uint64_t offset) -> control::Response {
    const BackupCopy& b = *backup_;
    if (offset > b.size) return control::Response::failure("backup offset beyond its end");
    control::BackupChunk chunk{b.id, b.index, b.term, b.size, offset, {}};
    chunk.data.resize(std::min<uint64_t>(limit, b.size - offset));
    int fd = ::open(b.path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return control::Response::failure("backup " + b.path + ": " + std::strerror(errno));
    size_t got = 0;
    while (got < chunk.data.size()) {
      ssize_t n = ::pread(fd, chunk.data.data() + got, chunk.data.size() - got,
                          static_cast<off_t>(offset + got));
      if (n <= 0) {
        int err = errno;
        ::close(fd);
        return control::Response::failure("backup " + b.path + ": " +
                                          (n == 0 ? "short read" : std::strerror(err)));
      }
      got += static_cast<size_t>(n);
    }
    ::close(fd);
    bool last = offset + chunk.data.size() >= b.size;
    control::Response r;
    r.backup = std::move(chunk);
    if (last) forget_backup();
    return r;
  };
  if (!request.backup_id.empty()) {
    if (!backup_ || backup_->id != request.backup_id) {
      return reply(control::Response::failure("no backup " + request.backup_id +
                                              " in progress (a newer one replaced it?)"));
    }
    return reply(read_chunk(request.offset));
  }
  if (backup_running_) {
    return reply(control::Response::failure("a backup copy is being made; try again shortly"));
  }
  backup_running_ = true;
  auto copy = [this, read_chunk](ControlService::Reply reply) {
    forget_backup();
    if (backup_thread_.joinable()) backup_thread_.join();
    unsigned char raw[8];
    randombytes_buf(raw, sizeof raw);
    std::string id;
    for (unsigned char c : raw) {
      static const char* kHex = "0123456789abcdef";
      id += kHex[c >> 4];
      id += kHex[c & 15];
    }
    std::string dir = config_.data_dir + "/snapshots/backup-" + id;
    if (Status s = make_directories(dir, 0700); !s) {
      backup_running_ = false;
      return reply(control::Response::failure(s.error()));
    }
    log_info("backup " + id + ": copying the store");
    backup_thread_ = std::thread([this, id, dir, inbox = main_inbox_, reply = std::move(reply),
                                  read_chunk]() mutable {
      auto made = state_machine_->write_snapshot(dir);
      inbox->post([this, id, dir, made = std::move(made), reply = std::move(reply),
                   read_chunk]() mutable {
        backup_running_ = false;
        if (!made) {
          std::error_code ignore;
          std::filesystem::remove_all(dir, ignore);
          return reply(control::Response::failure("backup: " + made.error()));
        }
        std::error_code ec;
        uint64_t size = std::filesystem::file_size(made->path, ec);
        if (ec) return reply(control::Response::failure("backup: " + ec.message()));
        backup_ = BackupCopy{id, dir, made->path, made->position.index, made->position.term, size};
        log_info("backup " + id + ": applied index " + std::to_string(made->position.index) + ", " +
                 std::to_string(size) + " bytes");
        reply(read_chunk(0));
      });
    });
  };
  if (request.local) return copy(std::move(reply));
  // The copy holds every change committed anywhere before the request, not
  // only what this node (a follower a moment behind, say) has applied.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(request.timeout_ms);
  cluster_->read_barrier(deadline, [this, copy, reply = std::move(reply)](Status caught_up,
                                                                          uint64_t) mutable {
    if (!caught_up) {
      backup_running_ = false;
      return reply(control::Response::failure(
          "backup: cannot catch up with the cluster's commit index: " + caught_up.error() +
          " (dnsadm backup --local copies what this node has applied)"));
    }
    copy(std::move(reply));
  });
}

void Daemon::forget_backup() {
  if (!backup_) return;
  std::error_code ignore;
  std::filesystem::remove_all(backup_->dir, ignore);
  backup_.reset();
}

Status Daemon::open_metrics() {
  if (!config_.metrics_listen) return {};
  MetricsService::Sources sources;
  sources.node_id = config_.node_id;
  for (const auto& w : workers_) sources.workers.push_back(w.get());
  sources.store = store_.get();
  sources.driver = driver_metrics_.get();
  sources.updates = &updates_->counters();
  sources.applied_at_start = applied_at_start_;
  metrics_ = std::make_unique<MetricsService>(std::move(sources));
  metrics_http_ = std::make_unique<MetricsHttpServer>();
  metrics_http_->route("/metrics", [m = metrics_.get()] { return m->metrics(); });
  metrics_http_->route("/healthz", [m = metrics_.get()] { return m->healthz(); });
  metrics_http_->route("/readyz", [m = metrics_.get()] { return m->readyz(); });
  if (Status s = metrics_http_->listen(*config_.metrics_listen); !s) return s;
  // Until the main loop runs, the snapshot holds the store figures only.
  publish_metrics();
  log_info("metrics on http://" + config_.metrics_listen->to_text() + "/metrics");
  return {};
}

// Main loop: copies what only this thread may read into a fresh snapshot
// for the metrics thread. The store figures take a scan of the zones table,
// so they are refreshed only when the applied index has moved.
void Daemon::publish_metrics(evutil_socket_t, short) {
  if (!metrics_) return;
  auto s = std::make_shared<LoopSnapshot>();
  s->taken = std::chrono::steady_clock::now();
  if (cluster_) {
    s->has_cluster = true;
    s->node = cluster_->local_report();
  }
  const uint64_t applied = store_->applied_index();
  if (last_snapshot_ && last_snapshot_->store.applied_index == applied) {
    s->store = last_snapshot_->store;
    s->zones = last_snapshot_->zones;
  } else {
    s->store = store_->stats();
    s->zones = store_->zones();
  }
  if (control_service_) s->control = control_service_->request_counts();
  last_snapshot_ = s;
  metrics_->publish(std::move(s));
}

void Daemon::run() {
  event_base_dispatch(base_.get());
  shutdown();
}

void Daemon::on_terminate(evutil_socket_t signal, short) {
  log_info(std::string("received ") + (signal == SIGINT ? "SIGINT" : "SIGTERM") +
           ", shutting down");
  sd_notify_send("STOPPING=1\nSTATUS=shutting down");
  event_base_loopbreak(base_.get());
}

void Daemon::on_reload(evutil_socket_t, short) {
  sd_notify_send("RELOADING=1\nMONOTONIC_USEC=" + monotonic_usec());
  auto fresh = load_config(config_.path);
  if (!fresh) {
    log_error("reload failed, keeping the running config: " + fresh.error());
    sd_notify_send("READY=1\nSTATUS=serving (last reload failed)");
    return;
  }
  ReloadPlan plan = plan_reload(config_, *fresh);
  for (const std::string& key : plan.ignored_keys) {
    log_warning("reload: " + key + " changed; it takes effect after a restart");
  }
  config_.log_level = fresh->log_level;
  config_.identity = fresh->identity;
  config_.version = fresh->version;
  config_.minimal_responses = fresh->minimal_responses;
  config_.cookies = fresh->cookies;
  set_log_level(config_.log_level);
  settings_->publish(engine_config(config_));
  log_info(std::string("reloaded ") + config_.path + ": log level " +
           log_level_text(config_.log_level));
  sd_notify_send("READY=1\nSTATUS=serving");
}

void Daemon::reclaim_slice(evutil_socket_t, short) {
  // A slice deletes a few thousand RRsets (milliseconds), so heartbeats and
  // applies interleave with the reclaiming of even a 10M-record zone.
  constexpr size_t kSlice = 4096;
  auto progress = store_->reclaim(kSlice);
  if (!progress) log_error("reclaiming old zone content: " + progress.error());
  const bool more = progress && !progress->done;
  timeval delay = more ? timeval{0, 5000} : timeval{1, 0};
  event_add(reclaim_timer_.get(), &delay);
}

uint64_t Daemon::queries_served() const {
  uint64_t total = 0;
  for (const auto& w : workers_) total += w->counters().queries.load(std::memory_order_relaxed);
  return total;
}

void Daemon::shutdown() {
  // The metrics thread reads the workers' counters: it stops first.
  if (metrics_http_) metrics_http_->stop();
  metrics_timer_.reset();
  reclaim_timer_.reset();
  metrics_http_.reset();
  metrics_.reset();
  if (control_) control_->close();
  // A backup copy still being made reads the store: it ends first.
  if (backup_thread_.joinable()) backup_thread_.join();
  forget_backup();
  for (auto& w : workers_) w->stop();
  workers_.clear();
  // Fails the requests still waiting for a commit while everything their
  // replies pass through is alive; syncs the WAL and stops the transport.
  if (cluster_) cluster_->stop();
  if (store_) store_->set_change_observer({});
  catalog_.reset();
  signing_clock_.reset();
  notify_.reset();
  if (main_inbox_) main_inbox_->close();
  control_.reset();
  control_service_.reset();
  proposer_.reset();
  updates_.reset();
  cluster_.reset();
  state_machine_.reset();
  if (store_) {
    if (Status s = store_->sync(); !s) log_error("store sync at shutdown failed: " + s.error());
    store_.reset();
    log_info("store closed");
  }
  signal_events_.clear();
}

}  // namespace raftdns::server
