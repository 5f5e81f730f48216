// dnsadm: the raftdns admin client (zones, records, batches and status over
// the control socket).
//
// Exit codes: 0 success; 1 the operation failed (the daemon refused it, the
// input is invalid, or get found nothing); 2 usage error; 3 the daemon could
// not be reached or did not answer in time. Every failure prints exactly one
// line on stderr, "dnsadm: <reason>".
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <deque>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/duration.h"
#include "daemon/control/protocol.h"
#include "daemon/server/config.h"
#include "daemon/wire/name.h"
#include "daemon/wire/rr.h"
#include "daemon/wire/types.h"
#include "daemon/xfr/client.h"
#include "daemon/zone/zone.h"

namespace {

using raftdns::make_error;
using raftdns::Result;
namespace control = raftdns::control;
namespace wire = raftdns::wire;

constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;
constexpr int kExitUnreachable = 3;
// A batch line without a TTL gets this one.
constexpr uint32_t kBatchDefaultTtl = 3600;

struct Failure {
  int code;
  std::string message;
};

[[noreturn]] void fail(int code, const std::string& message) { throw Failure{code, message}; }

// One line only: a multi-line reason would break "exactly one line".
std::string one_line(std::string text) {
  for (char& c : text) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  while (!text.empty() && text.back() == ' ') text.pop_back();
  return text;
}

control::WireRecord to_wire(const wire::Record& r) {
  auto owner = r.owner.wire();
  return control::WireRecord{{owner.begin(), owner.end()}, r.type, r.rclass, r.ttl, r.rdata};
}

std::vector<uint8_t> name_wire(const std::string& text) {
  auto name = wire::Name::from_text(text);
  if (!name) fail(kExitFailed, "bad name \"" + text + "\": " + name.error());
  auto bytes = name->wire();
  return {bytes.begin(), bytes.end()};
}

uint16_t parse_type(const std::string& text) {
  auto type = wire::type_from_text(text);
  if (!type || *type == 0) fail(kExitFailed, "unknown record type \"" + text + "\"");
  return *type;
}

// The record value as master-file text, exactly as typed (see
// zone::rdata_text_from_words): `dnsadm add n 300 TXT 'v=DMARC1;p=reject'`
// stores the whole value, ';' included.
std::string rdata_text(uint16_t type, const std::vector<std::string>& words) {
  auto text = raftdns::zone::rdata_text_from_words(type, words);
  if (!text) fail(kExitFailed, "bad " + wire::type_to_text(type) + " value: " + text.error());
  return std::move(*text);
}

// A batch line's record, "name [ttl] [class] type value...", with its value
// read by the same rules as `dnsadm add` arguments.
std::string batch_record_text(const std::string& text) {
  auto words = raftdns::zone::split_words(text);
  if (!words) fail(kExitFailed, words.error());
  for (size_t i = 1; i < words->size() && i <= 3; ++i) {
    auto type = wire::type_from_text((*words)[i]);
    if (!type || *type == 0) continue;
    std::string line;
    for (size_t j = 0; j <= i; ++j) line += (j ? " " : "") + (*words)[j];
    std::vector<std::string> value(words->begin() + static_cast<std::ptrdiff_t>(i) + 1,
                                   words->end());
    return line + " " + rdata_text(*type, value);
  }
  return text;  // no type where one belongs: the parser names the problem
}

wire::Record parse_one(const std::string& line, uint32_t default_ttl) {
  std::vector<std::string> warnings;
  auto rr = raftdns::zone::parse_record(line, nullptr, default_ttl, &warnings);
  if (!rr) fail(kExitFailed, rr.error());
  for (const std::string& w : warnings) {
    std::fprintf(stderr, "dnsadm: warning: %s\n", one_line(w).c_str());
  }
  return std::move(*rr);
}

// "ADD: name [ttl] type value" / "REMOVE: name type [value]"; blank lines
// and '#' comments are skipped. Errors name the source and line.
std::vector<control::Change> parse_batch(std::istream& in, const std::string& source) {
  std::vector<control::Change> changes;
  std::string line;
  size_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    const std::string where = source + ":" + std::to_string(number) + ": ";
    size_t start = line.find_first_not_of(" \t\r");
    if (start == std::string::npos || line[start] == '#') continue;
    std::string text = line.substr(start);
    while (!text.empty() && (text.back() == '\r' || text.back() == ' ' || text.back() == '\t')) {
      text.pop_back();
    }
    size_t colon = text.find(':');
    std::string verb = colon == std::string::npos ? "" : text.substr(0, colon);
    for (char& c : verb) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    std::string rest = colon == std::string::npos ? "" : text.substr(colon + 1);
    // A leading blank would make the line continue the previous owner.
    rest.erase(0, rest.find_first_not_of(" \t"));
    if (verb != "ADD" && verb != "REMOVE") {
      fail(kExitFailed, where + "expected \"ADD:\" or \"REMOVE:\" at the start of the line");
    }
    try {
      control::Change change;
      if (verb == "ADD") {
        change.op = control::Op::add;
        change.records.push_back(to_wire(parse_one(batch_record_text(rest), kBatchDefaultTtl)));
      } else {
        std::istringstream words(rest);
        std::vector<std::string> tokens;
        for (std::string w; words >> w;) tokens.push_back(w);
        if (tokens.size() < 2) fail(kExitFailed, "REMOVE needs a name and a type");
        if (tokens.size() == 2) {
          change.op = control::Op::remove_rrset;
          change.owner = name_wire(tokens[0]);
          change.type = parse_type(tokens[1]);
        } else {
          change.op = control::Op::remove;
          change.records.push_back(to_wire(parse_one(batch_record_text(rest), 0)));
        }
      }
      changes.push_back(std::move(change));
    } catch (const Failure& f) {
      fail(f.code, where + f.message);
    }
  }
  if (in.bad()) fail(kExitFailed, "cannot read " + source);
  if (changes.empty()) fail(kExitFailed, source + ": no changes in the batch");
  return changes;
}

std::string format_uptime(uint64_t seconds) {
  std::string out;
  uint64_t days = seconds / 86400, hours = seconds / 3600 % 24, minutes = seconds / 60 % 60;
  if (days) out += std::to_string(days) + "d";
  if (days || hours) out += std::to_string(hours) + "h";
  if (days || hours || minutes) out += std::to_string(minutes) + "m";
  out += std::to_string(seconds % 60) + "s";
  return out;
}

nlohmann::json node_json(const control::NodeInfo& n) {
  nlohmann::json j = nlohmann::json::parse(control::node_info_to_json(n));
  if (n.error.empty()) j.erase("error");
  return j;
}

std::string last_heard(int64_t ms) {
  if (ms < 0) return "never";
  if (ms < 1000) return std::to_string(ms) + "ms ago";
  return std::to_string(ms / 1000) + "s ago";
}

void print_status(const control::StatusInfo& s, bool as_json) {
  if (as_json) {
    nlohmann::json j = {{"version", s.version},   {"node_id", s.node_id},
                        {"role", s.role},         {"uptime_seconds", s.uptime_seconds},
                        {"zones", s.zones},       {"records", s.records},
                        {"queries", s.queries},   {"applied_index", s.applied_index},
                        {"applied_term", s.applied_term},
                        {"imports", s.imports},   {"staged_records", s.staged_records},
                        {"reclaim_pending", s.reclaim_pending}};
    if (s.cluster) j["cluster"] = node_json(*s.cluster);
    if (!s.updates.empty()) j["updates"] = s.updates;
    std::printf("%s\n", j.dump().c_str());
    return;
  }
  std::printf("version:        %s\n", s.version.c_str());
  std::printf("node:           %s\n", s.node_id.c_str());
  std::printf("role:           %s\n", s.role.c_str());
  std::printf("uptime:         %s\n", format_uptime(s.uptime_seconds).c_str());
  std::printf("zones:          %llu\n", static_cast<unsigned long long>(s.zones));
  std::printf("records:        %llu\n", static_cast<unsigned long long>(s.records));
  std::printf("queries served: %llu\n", static_cast<unsigned long long>(s.queries));
  std::printf("applied index:  %llu\n", static_cast<unsigned long long>(s.applied_index));
  if (s.imports || s.reclaim_pending) {
    std::printf("imports:        %llu staged (%llu records), %llu contents to reclaim\n",
                static_cast<unsigned long long>(s.imports),
                static_cast<unsigned long long>(s.staged_records),
                static_cast<unsigned long long>(s.reclaim_pending));
  }
  if (!s.updates.empty()) {
    std::string line;
    for (const auto& [result, count] : s.updates) {
      line += (line.empty() ? "" : ", ") + result + " " + std::to_string(count);
    }
    std::printf("updates:        %s\n", line.c_str());
  }
  if (!s.cluster) return;
  const control::NodeInfo& c = *s.cluster;
  std::printf("term:           %llu\n", static_cast<unsigned long long>(c.term));
  std::printf("leader:         %s\n", c.leader.empty() ? "(none)" : c.leader.c_str());
  std::printf("commit index:   %llu\n", static_cast<unsigned long long>(c.commit));
  std::printf("wal size:       %llu bytes\n", static_cast<unsigned long long>(c.wal_bytes));
  std::printf("snapshot index: %llu\n", static_cast<unsigned long long>(c.snapshot_index));
  if (c.peers.empty()) return;
  std::printf("peers:\n  %-12s %-10s %10s %8s  %s\n", "ID", "REACHABLE", "MATCH", "LAG",
              "LAST HEARD");
  for (const auto& p : c.peers) {
    std::printf("  %-12s %-10s %10llu %8llu  %s\n", p.id.c_str(), p.reachable ? "yes" : "no",
                static_cast<unsigned long long>(p.match), static_cast<unsigned long long>(p.lag),
                last_heard(p.last_heard_ms).c_str());
  }
}

// One row per node; equal digests at equal applied indexes mean equal data.
void print_cluster(const std::vector<control::NodeInfo>& nodes, bool as_json) {
  if (as_json) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& n : nodes) arr.push_back(node_json(n));
    std::printf("%s\n", nlohmann::json{{"nodes", arr}}.dump().c_str());
    return;
  }
  std::printf("%-12s %-10s %6s %-12s %10s %10s %12s  %s\n", "NODE", "ROLE", "TERM", "LEADER",
              "COMMIT", "APPLIED", "WAL BYTES", "DIGEST");
  for (const auto& n : nodes) {
    if (!n.reachable) {
      std::printf("%-12s (unreachable: %s)\n", n.id.c_str(), n.error.c_str());
      continue;
    }
    std::printf("%-12s %-10s %6llu %-12s %10llu %10llu %12llu  %s\n", n.id.c_str(),
                n.role.c_str(), static_cast<unsigned long long>(n.term),
                n.leader.empty() ? "-" : n.leader.c_str(),
                static_cast<unsigned long long>(n.commit),
                static_cast<unsigned long long>(n.applied),
                static_cast<unsigned long long>(n.wal_bytes), n.digest.c_str());
  }
}

// dnsadm backup: pulls the chunks into FILE.tmp, makes it durable, then
// renames it to FILE, so FILE is only ever a complete copy.
// The first request waits for the daemon to catch up with the cluster (at
// most `chunk_ms`, the --timeout) and then for its copy (`first_ms`).
void write_backup(const std::string& socket_path, const std::string& file, uint32_t first_ms,
                  uint32_t chunk_ms, uint64_t chunk_bytes, bool local) {
  const std::string tmp = file + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) fail(kExitFailed, "cannot create " + tmp + ": " + std::strerror(errno));
  auto abandon = [&](int code, const std::string& why) {
    ::close(fd);
    ::unlink(tmp.c_str());
    fail(code, why + "; no backup was written");
  };
  control::Request request;
  request.op = control::Op::backup;
  request.timeout_ms = chunk_ms;
  request.chunk_bytes = chunk_bytes;
  request.local = local;
  uint64_t written = 0, total = 0, index = 0, requests = 0;
  std::string id;
  do {
    ++requests;
    request.backup_id = id;
    request.offset = written;
    auto response =
        control::call(socket_path, request, (id.empty() ? chunk_ms + first_ms : chunk_ms) + 2000);
    if (!response) abandon(kExitUnreachable, response.error());
    if (!response->ok) abandon(kExitFailed, response->error);
    if (!response->backup || response->backup->offset != written ||
        (!id.empty() && response->backup->id != id)) {
      abandon(kExitFailed, "the daemon sent a backup chunk out of order");
    }
    const control::BackupChunk& chunk = *response->backup;
    id = chunk.id;
    total = chunk.total;
    index = chunk.index;
    if (chunk.data.empty() && written < total) abandon(kExitFailed, "the daemon sent an empty chunk");
    size_t off = 0;
    while (off < chunk.data.size()) {
      ssize_t n = ::write(fd, chunk.data.data() + off, chunk.data.size() - off);
      if (n < 0) abandon(kExitFailed, "writing " + tmp + ": " + std::strerror(errno));
      off += static_cast<size_t>(n);
    }
    written += chunk.data.size();
  } while (written < total);
  if (::fsync(fd) != 0) abandon(kExitFailed, "fsync " + tmp + ": " + std::strerror(errno));
  ::close(fd);
  if (::rename(tmp.c_str(), file.c_str()) != 0) {
    ::unlink(tmp.c_str());
    fail(kExitFailed, "rename " + tmp + " to " + file + ": " + std::strerror(errno));
  }
  std::printf("backup at applied index %llu (%llu bytes in %llu chunks) written to %s\n",
              static_cast<unsigned long long>(index), static_cast<unsigned long long>(total),
              static_cast<unsigned long long>(requests), file.c_str());
}

// One row per member, the leader marked with '*'.
void print_members(const std::vector<control::MemberInfo>& members, bool as_json) {
  if (as_json) {
    std::printf("%s\n", control::members_to_json(members).c_str());
    return;
  }
  std::printf("%-2s%-12s %-24s %-8s %-10s %10s %10s\n", "", "ID", "PEER ADDRESS", "ROLE",
              "REACHABLE", "MATCH", "APPLIED");
  for (const auto& m : members) {
    std::string role = m.voter ? "voter" : (m.auto_promote ? "learner+" : "learner");
    std::string match = m.match ? std::to_string(m.match) : "-";
    std::string applied = m.applied ? std::to_string(m.applied) : "-";
    std::printf("%-2s%-12s %-24s %-8s %-10s %10s %10s\n", m.leader ? "*" : "", m.id.c_str(),
                m.address.c_str(), role.c_str(), m.reachable ? "yes" : "no", match.c_str(),
                applied.c_str());
  }
}

// `zone add --from-primary`: an AXFR from the zone's current primary, done
// here rather than in the daemon so the daemon's loops never wait on a
// remote server and the operator sees the primary's answer directly. The
// zone is checked like a zone file before anything is sent to the daemon;
// any failure imports nothing.
std::vector<wire::Record> fetch_from_primary(const wire::Name& origin, const std::string& primary,
                                             const std::string& tsig_name,
                                             const std::string& config_path) {
  std::string with_port = primary;
  const bool bracketed = !primary.empty() && primary.front() == '[';
  const size_t colons = static_cast<size_t>(std::count(primary.begin(), primary.end(), ':'));
  if (bracketed ? primary.find("]:") == std::string::npos : colons == 0) {
    with_port += ":53";
  } else if (!bracketed && colons > 1) {
    with_port = "[" + primary + "]:53";  // a bare IPv6 address
  }
  auto address = raftdns::server::parse_socket_address(with_port);
  if (!address) fail(kExitUsage, "--from-primary " + primary + ": " + address.error());

  std::optional<raftdns::server::Config> config;
  const raftdns::tsig::Key* key = nullptr;
  if (!tsig_name.empty()) {
    auto loaded = raftdns::server::load_config(config_path);
    if (!loaded) fail(kExitFailed, "--tsig needs the key from the config: " + loaded.error());
    config = std::move(*loaded);
    auto key_name = wire::Name::from_text(tsig_name);
    if (key_name) key = config->tsig_keys.find(*key_name);
    if (!key) fail(kExitFailed, "no [[tsig]] key \"" + tsig_name + "\" in " + config_path);
  }
  auto fetched = raftdns::xfr::fetch_axfr(address->get(), address->length, address->to_text(),
                                          origin, key, std::chrono::seconds(10));
  if (!fetched) fail(kExitFailed, fetched.error() + "; nothing was imported");
  if (auto valid = raftdns::zone::validate_zone(origin, fetched->records); !valid) {
    fail(kExitFailed, "the zone from " + address->to_text() + " is not valid: " + valid.error() +
                          "; nothing was imported");
  }
  std::fprintf(stderr, "fetched %s serial %u from %s: %zu records in %zu messages\n",
               origin.to_text().c_str(), fetched->serial, address->to_text().c_str(),
               fetched->records.size(), fetched->messages);
  return std::move(fetched->records);
}

// ---- streamed zone import and export ----

// Set by SIGINT/SIGTERM while an import or export runs: the import is then
// aborted on the cluster before dnsadm exits.
std::atomic<bool> g_interrupted{false};
extern "C" void on_interrupt(int) { g_interrupted.store(true); }

class InterruptGuard {
 public:
  InterruptGuard() {
    struct sigaction sa {};
    sa.sa_handler = on_interrupt;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGINT, &sa, &old_int_);
    ::sigaction(SIGTERM, &sa, &old_term_);
  }
  ~InterruptGuard() {
    ::sigaction(SIGINT, &old_int_, nullptr);
    ::sigaction(SIGTERM, &old_term_, nullptr);
  }

 private:
  struct sigaction old_int_ {}, old_term_ {};
};

constexpr int kExitInterrupted = 130;
// Records per import chunk. Each chunk is one Raft entry that every node
// applies in one go on its main loop, so applying it must stay a small
// fraction of an election timeout (500 ms by default) however busy the
// machine is. The size adapts: each chunk aims at a round trip of
// kImportChunkTarget (apply included), from kImportChunkFirst records, never
// fewer than kImportChunkMin nor more than the protocol allows.
constexpr size_t kImportChunkFirst = 5000;
constexpr size_t kImportChunkMin = 1000;
constexpr auto kImportChunkTarget = std::chrono::milliseconds(150);
static_assert(kImportChunkFirst <= control::kMaxImportChunkRecords);

// A one-line progress report on stderr, only when both stdout and stderr are
// terminals and only once the work has taken more than a second, so scripts
// and pipes see exactly what they saw before.
class Progress {
 public:
  Progress(std::string what, uint64_t total)
      : what_(std::move(what)),
        total_(total),
        enabled_(::isatty(STDOUT_FILENO) && ::isatty(STDERR_FILENO)),
        start_(std::chrono::steady_clock::now()) {}
  ~Progress() { finish(); }

  // The total, once known (0: unknown, no ETA).
  void set_total(uint64_t total) { total_ = total; }
  // `done` of `total_` units are through; `extra` is shown before the rate.
  void update(uint64_t done, const std::string& extra) {
    if (!enabled_) return;
    auto now = std::chrono::steady_clock::now();
    double elapsed = std::chrono::duration<double>(now - start_).count();
    if (elapsed < 1.0 || now - last_ < std::chrono::milliseconds(200)) return;
    last_ = now;
    double rate = done / elapsed;
    char line[256];
    std::string eta = "?";
    if (rate > 0 && total_ >= done) {
      eta = std::to_string(static_cast<uint64_t>((total_ - done) / rate)) + "s";
    }
    std::snprintf(line, sizeof line, "\r%s: %s, %.0f records/s, ETA %s\033[K", what_.c_str(),
                  extra.c_str(), rate, eta.c_str());
    std::fputs(line, stderr);
    shown_ = true;
  }
  void finish() {
    if (shown_) std::fputs("\r\033[K", stderr);
    shown_ = false;
  }

 private:
  std::string what_;
  uint64_t total_;
  bool enabled_;
  bool shown_ = false;
  std::chrono::steady_clock::time_point start_, last_{};
};

// Failures of a write that may succeed when sent again: no leader or quorum
// for a moment (an election), or an answer lost with its leader.
bool is_transient(const std::string& error) {
  return error.rfind("no quorum", 0) == 0 ||
         error.rfind("timed out waiting for the change to commit", 0) == 0;
}

struct Channel {
  std::string socket_path;
  uint32_t timeout_ms;
};

Result<control::Response> send(const Channel& ch, control::Request request) {
  request.timeout_ms = ch.timeout_ms;
  auto response = control::call(ch.socket_path, request, ch.timeout_ms + 2000);
  if (!response) fail(kExitUnreachable, response.error());
  if (!response->ok) return make_error(response->error);
  return std::move(*response);
}

// Sends a write of the import, resending it while the failure is transient
// and the deadline allows: a chunk applied twice is recognized by its
// sequence number, so the import goes on across a leader change.
Result<control::Response> send_import_write(const Channel& ch, const control::Request& request) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ch.timeout_ms);
  for (;;) {
    auto r = send(ch, request);
    if (r || !is_transient(r.error()) || std::chrono::steady_clock::now() >= deadline ||
        g_interrupted.load()) {
      return r;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

// Records on their way into an import: a loader fills it (a zone file is
// parsed on its own thread while the chunks already parsed are sent), the
// import loop drains it. When the loader ends it says whether the zone is
// good, with its warnings; a zone file's records can be refused only then
// (a CNAME beside other data a million lines later), so the import is
// committed only after that.
class RecordFeed {
 public:
  // Records parsed ahead of the import at most: the loader waits beyond
  // (a 10M-record file is not held twice in memory).
  static constexpr size_t kMaxQueued = 200000;

  // Loader side. False once the import has stopped listening.
  bool push(std::span<const wire::Record> records) {
    std::vector<control::WireRecord> converted;
    converted.reserve(records.size());
    for (const auto& r : records) converted.push_back(to_wire(r));
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return queue_.size() < kMaxQueued || stopped_ || discarding_; });
    if (stopped_) return false;
    parsed_ += records.size();
    if (discarding_) return true;
    for (auto& w : converted) queue_.push_back(std::move(w));
    cv_.notify_all();
    return true;
  }
  void finish(std::optional<std::string> error, std::vector<std::string> warnings) {
    std::lock_guard lock(mu_);
    finished_ = true;
    error_ = std::move(error);
    warnings_ = std::move(warnings);
    cv_.notify_all();
  }

  // Import side. Moves up to `n` records into `out`; with `block`, first
  // waits until there is one or the loader has finished.
  void pull(size_t n, std::vector<control::WireRecord>& out, bool block) {
    std::unique_lock lock(mu_);
    if (block) cv_.wait(lock, [&] { return !queue_.empty() || finished_; });
    while (n-- > 0 && !queue_.empty()) {
      out.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    cv_.notify_all();  // room for the loader
  }
  bool has_records() {
    std::lock_guard lock(mu_);
    return !queue_.empty();
  }
  size_t available() {
    std::lock_guard lock(mu_);
    return queue_.size();
  }
  bool finished() {
    std::lock_guard lock(mu_);
    return finished_;
  }
  // Waits for the loader's verdict: nullopt when the zone is good. Records
  // parsed meanwhile are no longer kept: the caller sends no more.
  std::optional<std::string> verdict() {
    std::unique_lock lock(mu_);
    discarding_ = true;
    cv_.notify_all();
    cv_.wait(lock, [&] { return finished_; });
    return error_;
  }
  std::vector<std::string> take_warnings() {
    std::lock_guard lock(mu_);
    return std::move(warnings_);
  }
  uint64_t parsed() {
    std::lock_guard lock(mu_);
    return parsed_;
  }
  void stop() {
    std::lock_guard lock(mu_);
    stopped_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<control::WireRecord> queue_;
  uint64_t parsed_ = 0;
  bool finished_ = false;
  bool stopped_ = false;
  bool discarding_ = false;
  std::optional<std::string> error_;
  std::vector<std::string> warnings_;
};

// Loads a zone file into a feed on its own thread. Its destructor stops the
// load (if it still runs) and joins the thread, however the import ends.
class FileLoader {
 public:
  FileLoader(RecordFeed& feed, std::string path, wire::Name origin) : feed_(feed) {
    thread_ = std::thread([this, path = std::move(path), origin = std::move(origin)] {
      raftdns::zone::LoadStream stream;
      stream.sink = [this](std::span<const wire::Record> batch) { return feed_.push(batch); };
      auto parsed = raftdns::zone::load_zone_file(path, origin, 3600, &stream);
      if (!parsed) return feed_.finish(parsed.error(), {});
      // RRsets the store, merging the records as sent, would give another
      // TTL than the file's rules (a duplicate dropped, TTLs lowered to the
      // lowest) go again, whole, at the end: the last TTL holds.
      std::vector<wire::Record> again;
      again.reserve(parsed->restated.size());
      for (uint32_t i : parsed->restated) again.push_back(parsed->records[i]);
      if (!again.empty() && !feed_.push(again)) return feed_.finish("stopped", {});
      feed_.finish(std::nullopt, std::move(parsed->warnings));
    });
  }
  ~FileLoader() {
    feed_.stop();
    thread_.join();
  }
  FileLoader(const FileLoader&) = delete;
  FileLoader& operator=(const FileLoader&) = delete;

 private:
  RecordFeed& feed_;
  std::thread thread_;
};

// A chunk the store refused because an earlier one has not reached it (the
// earlier one was lost with a leader while chunks were in flight): the
// refusal changes nothing (store::chunk_ahead_error), and sending again from
// the lost one goes on.
bool is_out_of_place(const std::string& error) {
  return error.rfind("import ", 0) == 0 && error.find(" arrived where chunk ") != std::string::npos;
}

// Streams the feed's records into the cluster as one staged import of
// `origin` (see store::ImportBegin): begin, chunks sized as above, then
// commit, which switches the zone in one step, once the feed says the zone
// is good. Up to kImportWindow chunks are in flight on one connection (the
// daemon proposes them in the order sent), so the cluster replicates and
// applies one chunk while the next is on its way. A transient failure (a
// leader change) drains the window and sends again from the first chunk not
// confirmed: a chunk already applied is recognized by its sequence number
// and changes nothing. A bad zone, any other failure or Ctrl-C aborts the
// import, and the zone keeps its old content. `source` names the file (or
// primary) in messages.
constexpr size_t kImportWindow = 3;
static_assert(kImportWindow <= control::kMaxPipelinedRequests);

void import_zone(const Channel& ch, const wire::Name& origin, RecordFeed& feed,
                 const std::string& source, control::Wait wait) {
  InterruptGuard guard;
  std::random_device random;
  uint64_t id = 0;
  while (id == 0) id = (uint64_t{random()} << 32) ^ random();
  auto apex = origin.wire();

  // The import begins when its first chunk is ready: a small file found
  // bad is refused before anything reaches the cluster.
  bool begun = false;
  auto abort_import = [&](const std::string& why, int code) {
    feed.stop();
    if (!begun) fail(code, why);
    control::Request abort;
    abort.op = control::Op::zone_import_abort;
    abort.import_id = id;
    abort.timeout_ms = ch.timeout_ms;
    auto r = control::call(ch.socket_path, abort, ch.timeout_ms + 2000);
    fail(code, why + "; import aborted, zone " + origin.to_text() + " is unchanged" +
                   (r && r->ok ? "" : " (the staged part is reclaimed when the import goes stale)"));
  };
  // A refusal from the cluster: when the file itself is bad, its error
  // (which names the file and line) is the one to give.
  auto refused = [&](const std::string& error) {
    if (auto bad = feed.verdict()) abort_import(*bad, kExitFailed);
    abort_import(source + ": " + error, kExitFailed);
  };
  const uint32_t wait_ms = ch.timeout_ms + 2000;
  auto connection = control::Connection::open(ch.socket_path, wait_ms);
  if (!connection) fail(kExitUnreachable, connection.error());

  Progress progress("importing " + origin.to_text(), 0);
  // The chunks sent and not yet confirmed, by sequence number: a chunk sent
  // again is the same chunk.
  std::map<uint32_t, control::Request> unconfirmed;
  struct InFlight {
    uint32_t sequence;
    std::chrono::steady_clock::time_point sent_at;
  };
  std::deque<InFlight> in_flight;
  uint32_t next = 0;       // the next chunk to send
  uint32_t made = 0;       // chunks made from the feed so far
  uint64_t sent = 0, applied = 0;
  size_t chunk_size = kImportChunkFirst;
  auto last_answer = std::chrono::steady_clock::now();
  bool retrying = false;   // sending again after a transient failure
  std::chrono::steady_clock::time_point retry_deadline{};
  auto show = [&] {
    if (feed.finished()) progress.set_total(feed.parsed());  // the ETA from then on
    progress.update(applied, "parsed " + std::to_string(feed.parsed()) + ", sent " +
                                 std::to_string(sent) + ", applied " + std::to_string(applied));
  };
  for (;;) {
    if (g_interrupted.load()) abort_import("interrupted", kExitInterrupted);
    if (feed.finished()) {
      if (auto bad = feed.verdict()) abort_import(*bad, kExitFailed);
    }
    // Fill the window: chunks to send again first, then new ones, made from
    // the feed: a full one (or the rest, once the loader has finished); with
    // nothing in flight, wait for one.
    while (in_flight.size() < kImportWindow) {
      if (next == made) {
        if (!in_flight.empty() && feed.available() < chunk_size && !feed.finished()) break;
        control::Request chunk;
        chunk.op = control::Op::zone_import_chunk;
        chunk.import_id = id;
        chunk.sequence = made;
        chunk.timeout_ms = ch.timeout_ms;
        while (chunk.records.size() < chunk_size) {
          const size_t before = chunk.records.size();
          feed.pull(chunk_size - before, chunk.records, true);
          if (chunk.records.size() == before) break;  // the loader has finished
        }
        if (chunk.records.empty()) break;
        if (!begun) {
          if (feed.finished()) {
            if (auto bad = feed.verdict()) abort_import(*bad, kExitFailed);
          }
          control::Request begin;
          begin.op = control::Op::zone_import_begin;
          begin.zone.assign(apex.begin(), apex.end());
          begin.import_id = id;
          if (auto r = send_import_write(ch, begin); !r) {
            fail(kExitFailed, source + ": " + r.error());
          }
          begun = true;
        }
        unconfirmed.emplace(made, std::move(chunk));
        ++made;
      }
      const control::Request& chunk = unconfirmed.at(next);
      if (auto s = connection->send(chunk, wait_ms); !s) {
        if (g_interrupted.load()) abort_import("interrupted", kExitInterrupted);
        abort_import(source + ": " + s.error(), kExitFailed);
      }
      in_flight.push_back({next, std::chrono::steady_clock::now()});
      if (!retrying) sent += chunk.records.size();
      ++next;
      show();
    }
    if (in_flight.empty()) {
      if (feed.finished() && !feed.has_records()) break;  // every chunk confirmed
      continue;
    }
    auto r = connection->receive(wait_ms);
    if (g_interrupted.load()) abort_import("interrupted", kExitInterrupted);
    if (!r) abort_import(source + ": " + r.error(), kExitFailed);
    const InFlight done = in_flight.front();
    in_flight.pop_front();
    if (r->ok) {
      retrying = false;
      auto it = unconfirmed.find(done.sequence);
      applied += it->second.records.size();
      unconfirmed.erase(it);
      // The next size, from the time this chunk took beyond the one before
      // it (with chunks in flight, that is the cluster's time per chunk):
      // at most double or half at a time.
      const auto now = std::chrono::steady_clock::now();
      const double took =
          std::chrono::duration<double>(now - std::max(done.sent_at, last_answer)).count();
      last_answer = now;
      const double target = std::chrono::duration<double>(kImportChunkTarget).count();
      const double scale = std::clamp(target / std::max(took, 1e-3), 0.5, 2.0);
      chunk_size = std::clamp(static_cast<size_t>(static_cast<double>(chunk_size) * scale),
                              kImportChunkMin, control::kMaxImportChunkRecords);
      show();
      continue;
    }
    if (!is_transient(r->error) && !is_out_of_place(r->error)) refused(r->error);
    // A leader change: wait for the answers still owed (whatever they are),
    // then send again from this chunk, as long as the deadline allows.
    const auto now = std::chrono::steady_clock::now();
    if (!retrying) retry_deadline = now + std::chrono::milliseconds(ch.timeout_ms);
    retrying = true;
    if (now >= retry_deadline) abort_import(source + ": " + r->error, kExitFailed);
    while (!in_flight.empty()) {
      auto rest = connection->receive(wait_ms);
      if (!rest) abort_import(source + ": " + rest.error(), kExitFailed);
      in_flight.pop_front();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    next = done.sequence;
  }
  if (auto bad = feed.verdict()) abort_import(*bad, kExitFailed);
  for (const std::string& w : feed.take_warnings()) {
    progress.finish();
    std::fprintf(stderr, "dnsadm: warning: %s\n", one_line(w).c_str());
  }
  if (g_interrupted.load()) abort_import("interrupted", kExitInterrupted);
  progress.finish();
  control::Request commit;
  commit.op = control::Op::zone_import_commit;
  commit.import_id = id;
  commit.sequence = made;
  commit.wait = wait;
  if (auto r = send_import_write(ch, commit); !r) {
    fail(kExitFailed, source + ": " + r.error() + "; zone " + origin.to_text() + " is unchanged");
  }
}

// Streams a zone's master file to stdout, one part at a time.
void export_zone(const Channel& ch, const wire::Name& origin) {
  InterruptGuard guard;
  uint64_t total = 0;
  {
    control::Request list;
    list.op = control::Op::zone_list;
    if (auto r = send(ch, list)) {
      for (const auto& z : r->zones) {
        if (z.name == origin.to_text()) total = z.records;
      }
    }
  }
  Progress progress("exporting " + origin.to_text(), total);
  control::Request part;
  part.op = control::Op::zone_export_part;
  auto apex = origin.wire();
  part.zone.assign(apex.begin(), apex.end());
  uint64_t written = 0;
  do {
    if (g_interrupted.load()) fail(kExitInterrupted, "interrupted");
    auto r = send(ch, part);
    if (!r) fail(kExitFailed, r.error());
    if (std::fwrite(r->text.data(), 1, r->text.size(), stdout) != r->text.size()) {
      fail(kExitFailed, "cannot write the output");
    }
    written += static_cast<uint64_t>(std::count(r->text.begin(), r->text.end(), '\n'));
    progress.update(written, std::to_string(written) + " of " + std::to_string(total) + " records");
    part.cursor = std::move(r->cursor);
  } while (!part.cursor.empty());
}

// A duration option of `zone sign`: seconds, or "90s", "2h", "1d12h".
std::optional<uint32_t> duration_option(const std::string& option, const std::string& text) {
  if (text.empty()) return std::nullopt;
  auto seconds = raftdns::parse_duration(text);
  if (!seconds) {
    fail(kExitUsage, "--" + option + " \"" + text +
                         "\" is not a duration (seconds, or e.g. 90s, 2h, 14d; see dnsadm --help)");
  }
  return static_cast<uint32_t>(*seconds);
}

void print_keys(const std::vector<control::SigningKey>& keys) {
  auto when = [](const std::string& t) { return t.empty() ? std::string("-") : t; };
  for (const auto& k : keys) {
    std::printf("%s\ttag %u\talgorithm %u\t%s\tpublished %s\tactive %s\tretired %s\tds-seen %s%s\n",
                k.role.c_str(), unsigned{k.tag}, unsigned{k.algorithm}, k.state.c_str(),
                when(k.published).c_str(), when(k.active).c_str(), when(k.retired).c_str(),
                when(k.ds_seen).c_str(), k.cds ? "\tcds" : "");
  }
  for (const auto& k : keys) {
    if (!k.ds.empty()) std::printf("%s\n", k.ds.c_str());
  }
}

int run(int argc, char** argv) {
  CLI::App app{"dnsadm: manage the zones and records of a raftdns server", "dnsadm"};
  app.fallthrough();
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("dnsadm ") + RAFTDNS_VERSION);
  std::string socket_path = control::kDefaultSocketPath;
  double timeout_seconds = 5;
  std::string wait = "local";
  app.add_option("--socket", socket_path, "control socket of raftdnsd")->capture_default_str();
  app.add_option("--timeout", timeout_seconds, "seconds to wait for the daemon")
      ->capture_default_str()
      ->check(CLI::Range(0.001, 86400.0));
  app.add_option("--wait", wait, "writes return once applied on this node (local) or on all")
      ->check(CLI::IsMember({"local", "all"}))
      ->capture_default_str();

  control::Request request;
  // Set by the chosen subcommand: builds the request and prints the answer.
  std::function<void(const control::Response&)> print = [](const control::Response&) {};

  CLI::App* zone = app.add_subcommand("zone", "manage whole zones");
  zone->require_subcommand(1);
  std::string zone_name, zone_file;
  std::string from_primary, tsig_name, config_path = "/etc/raftdns/raftdns.toml";
  CLI::App* zone_add =
      zone->add_subcommand("add", "import a zone from a master file or from another primary");
  zone_add->add_option("NAME", zone_name, "zone apex")->required();
  auto* file_opt =
      zone_add->add_option("--file", zone_file, "master file ($INCLUDE paths are read here)");
  auto* primary_opt = zone_add->add_option(
      "--from-primary", from_primary,
      "fetch the zone by AXFR from this server, ADDR[:PORT] (IPv6 as [ADDR]:PORT)");
  file_opt->excludes(primary_opt);
  zone_add->add_option("--tsig", tsig_name, "sign the AXFR with this [[tsig]] key of the config")
      ->needs(primary_opt);
  zone_add->add_option("--config", config_path, "raftdnsd config holding the --tsig key")
      ->capture_default_str();
  CLI::App* zone_list = zone->add_subcommand("list", "list zones with serial and record count");
  CLI::App* zone_export = zone->add_subcommand("export", "print a zone as a master file");
  zone_export->add_option("NAME", zone_name, "zone apex")->required();
  CLI::App* zone_remove = zone->add_subcommand("remove", "delete a zone and all its records");
  zone_remove->add_option("NAME", zone_name, "zone apex")->required();
  CLI::App* zone_sign =
      zone->add_subcommand("sign", "sign a zone online (DNSSEC), on every node of the cluster");
  zone_sign->footer(
      "DURATION: seconds, or numbers with units largest first (w d h m s): 90s, 2h, 14d, 1d12h.\n"
      "An option not given takes the value of the daemon's [dnssec] config.");
  zone_sign->add_option("NAME", zone_name, "zone apex")->required();
  unsigned algorithm = 0;
  zone_sign
      ->add_option("--algorithm", algorithm,
                   "13 (ECDSA P-256) or 15 (Ed25519); default: the [dnssec] config's")
      ->check(CLI::IsMember({13u, 15u}));
  bool nsec3_optout = false;
  zone_sign->add_flag("--nsec3-optout", nsec3_optout,
                      "NSEC3 opt-out: insecure delegations get no NSEC3 of their own");
  // Each unset value comes from the daemon's [dnssec] config.
  const std::pair<const char*, const char*> kDurations[] = {
      {"validity", "how long a signature is valid"},
      {"refresh", "renew a signature once less than this is left"},
      {"jitter", "spread expirations over this much"},
      {"dnskey-ttl", "TTL of the DNSKEY, CDS and CDNSKEY records"},
      {"publish-wait", "a new key is published this long before it signs"},
      {"retire-wait", "a replaced ZSK stays published this long"},
      {"ds-wait", "after ds-seen, the old KSK stays this long"},
      {"zsk-lifetime", "roll the ZSK this often (0: never by itself)"},
      {"ksk-lifetime", "roll the KSK this often (0: only when asked)"},
  };
  std::map<std::string, std::string> durations;
  for (const auto& [option, help] : kDurations) {
    zone_sign->add_option(std::string("--") + option, durations[option], help)
        ->type_name("DURATION");
  }
  CLI::App* zone_unsign =
      zone->add_subcommand("unsign", "stop signing a zone; its signatures and keys are removed");
  zone_unsign->add_option("NAME", zone_name, "zone apex")->required();
  CLI::App* zone_keys = zone->add_subcommand(
      "keys", "list a signed zone's keys, and the DS records to give the parent");
  zone_keys->add_option("NAME", zone_name, "zone apex")->required();
  std::string roll_role;
  CLI::App* zone_roll =
      zone->add_subcommand("roll", "start a rollover of the zone's KSK or ZSK now");
  zone_roll->add_option("NAME", zone_name, "zone apex")->required();
  zone_roll->add_option("ROLE", roll_role, "ksk or zsk")
      ->required()
      ->check(CLI::IsMember({"ksk", "zsk"}));
  uint16_t ds_tag = 0;
  CLI::App* zone_ds_seen = zone->add_subcommand(
      "ds-seen", "confirm the parent publishes the DS of the new KSK with tag TAG");
  zone_ds_seen->add_option("NAME", zone_name, "zone apex")->required();
  zone_ds_seen->add_option("TAG", ds_tag, "the new KSK's key tag (dnsadm zone keys)")->required();

  std::string name, ttl, type;
  std::vector<std::string> rdata;
  CLI::App* add = app.add_subcommand("add", "add a record");
  add->add_option("NAME", name)->required();
  add->add_option("TTL", ttl)->required();
  add->add_option("TYPE", type)->required();
  add->add_option("RDATA", rdata, "record data in presentation format")->required();
  CLI::App* remove =
      app.add_subcommand("remove", "remove a record, or the whole RRset without RDATA");
  remove->add_option("NAME", name)->required();
  remove->add_option("TYPE", type)->required();
  remove->add_option("RDATA", rdata, "record data; omit to remove the RRset");
  CLI::App* get = app.add_subcommand("get", "show the records at a name");
  get->add_option("NAME", name)->required();
  get->add_option("TYPE", type, "only this type");
  std::string batch_file = "-";
  CLI::App* batch = app.add_subcommand("batch", "apply ADD:/REMOVE: lines atomically");
  batch->add_option("FILE", batch_file, "batch file, or - for standard input")
      ->capture_default_str();
  bool as_json = false;
  CLI::App* status = app.add_subcommand("status", "show the daemon's state");
  status->add_flag("--json", as_json, "one JSON object, for scripts");
  bool whole_cluster = false;
  status->add_flag("--cluster", whole_cluster, "ask every node and print one table");

  CLI::App* member = app.add_subcommand("member", "list, add, promote and remove cluster members");
  member->require_subcommand(1);
  std::string member_id, member_address;
  bool member_json = false, stay_learner = false;
  CLI::App* member_list = member->add_subcommand("list", "show every member and its state");
  member_list->add_flag("--json", member_json, "one JSON array, for scripts");
  CLI::App* member_add = member->add_subcommand(
      "add", "add a node as a learner; it becomes a voter once it has caught up");
  member_add->add_option("ID", member_id, "the new node's id ([node] id in its config)")
      ->required();
  member_add->add_option("ADDRESS", member_address, "its peer address, ADDR:PORT")->required();
  member_add->add_flag("--learner", stay_learner,
                       "keep it a learner (a read replica that never votes)");
  CLI::App* member_promote = member->add_subcommand("promote", "make a caught-up learner a voter");
  member_promote->add_option("ID", member_id)->required();
  CLI::App* member_remove =
      member->add_subcommand("remove", "remove a member (the leader hands over first)");
  member_remove->add_option("ID", member_id)->required();
  std::string backup_file;
  CLI::App* backup = app.add_subcommand(
      "backup", "write a consistent copy of the store (data, membership, applied index) to FILE");
  backup->add_option("FILE", backup_file, "where to write it (here, where dnsadm runs)")
      ->required();
  uint64_t chunk_bytes = 0;
  backup->add_option("--chunk-size", chunk_bytes,
                     "bytes per request (default and most: 8 MiB)")
      ->check(CLI::Range(uint64_t{1}, uint64_t{control::kBackupChunkSize}));
  bool backup_local = false;
  backup->add_flag("--local", backup_local,
                   "copy what this node has applied now, without first catching up with the "
                   "cluster's commit index (no leader or quorum needed; may lack the latest "
                   "changes)");
  CLI::App* leader = app.add_subcommand("leader", "leadership");
  leader->require_subcommand(1);
  CLI::App* leader_transfer =
      leader->add_subcommand("transfer", "hand leadership to ID, or to the most up-to-date voter");
  leader_transfer->add_option("ID", member_id, "the voter to lead");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    fail(kExitUsage, std::string(e.what()) + " (see dnsadm --help)");
  }

  if (zone_add->parsed()) {
    auto origin = wire::Name::from_text(zone_name);
    if (!origin) fail(kExitFailed, "bad zone name \"" + zone_name + "\": " + origin.error());
    if (from_primary.empty() && zone_file.empty()) {
      fail(kExitUsage, "zone add needs --file or --from-primary (see dnsadm --help)");
    }
    const auto timeout_ms = static_cast<uint32_t>(std::ceil(timeout_seconds * 1000));
    // Each part is a bounded write, but a loaded cluster may take a while
    // to apply one: no part waits less than 30 s.
    Channel ch{socket_path, std::max<uint32_t>(timeout_ms, 30000)};
    const auto how = wait == "all" ? control::Wait::all : control::Wait::local;
    RecordFeed feed;
    if (!from_primary.empty()) {
      auto records = fetch_from_primary(*origin, from_primary, tsig_name, config_path);
      feed.push(records);
      feed.finish(std::nullopt, {});
      import_zone(ch, *origin, feed, from_primary, how);
      return 0;
    }
    // The file is parsed while the records already parsed are sent.
    if (std::ifstream probe(zone_file); !probe) {
      fail(kExitFailed, zone_file + ": cannot open zone file: " + std::strerror(errno));
    }
    FileLoader loader(feed, zone_file, *origin);
    import_zone(ch, *origin, feed, zone_file,
                wait == "all" ? control::Wait::all : control::Wait::local);
    return 0;
  } else if (zone_list->parsed()) {
    request.op = control::Op::zone_list;
    print = [](const control::Response& r) {
      for (const auto& z : r.zones) {
        std::printf("%s\tserial %u\t%llu records\n", z.name.c_str(), z.serial,
                    static_cast<unsigned long long>(z.records));
      }
    };
  } else if (zone_export->parsed()) {
    auto origin = wire::Name::from_text(zone_name);
    if (!origin) fail(kExitFailed, "bad zone name \"" + zone_name + "\": " + origin.error());
    const auto timeout_ms = static_cast<uint32_t>(std::ceil(timeout_seconds * 1000));
    export_zone(Channel{socket_path, timeout_ms}, *origin);
    return 0;
  } else if (zone_remove->parsed()) {
    request.op = control::Op::zone_remove;
    request.zone = name_wire(zone_name);
  } else if (zone_sign->parsed()) {
    request.op = control::Op::zone_sign;
    request.zone = name_wire(zone_name);
    request.algorithm = static_cast<uint8_t>(algorithm);
    request.nsec3_optout = nsec3_optout;
    control::SigningOverrides& o = request.signing;
    o.validity = duration_option("validity", durations["validity"]);
    o.refresh = duration_option("refresh", durations["refresh"]);
    o.jitter = duration_option("jitter", durations["jitter"]);
    o.dnskey_ttl = duration_option("dnskey-ttl", durations["dnskey-ttl"]);
    o.publish_wait = duration_option("publish-wait", durations["publish-wait"]);
    o.retire_wait = duration_option("retire-wait", durations["retire-wait"]);
    o.ds_wait = duration_option("ds-wait", durations["ds-wait"]);
    o.zsk_lifetime = duration_option("zsk-lifetime", durations["zsk-lifetime"]);
    o.ksk_lifetime = duration_option("ksk-lifetime", durations["ksk-lifetime"]);
    print = [zone_name](const control::Response& r) {
      std::printf("zone %s is signed (index %llu); see dnsadm zone keys for its DS\n",
                  zone_name.c_str(), static_cast<unsigned long long>(r.index));
    };
  } else if (zone_unsign->parsed() || zone_roll->parsed() || zone_ds_seen->parsed()) {
    request.op = zone_unsign->parsed() ? control::Op::zone_unsign
                 : zone_roll->parsed() ? control::Op::zone_roll
                                       : control::Op::zone_ds_seen;
    request.zone = name_wire(zone_name);
    request.role = roll_role;
    request.key_tag = ds_tag;
    std::string done = zone_unsign->parsed() ? "zone " + zone_name + " is no longer signed"
                       : zone_roll->parsed()
                           ? "started a " + roll_role + " rollover of zone " + zone_name
                           : "recorded the parent's DS for key " + std::to_string(ds_tag) +
                                 " of zone " + zone_name;
    print = [done](const control::Response& r) {
      std::printf("%s (index %llu)\n", done.c_str(), static_cast<unsigned long long>(r.index));
    };
  } else if (zone_keys->parsed()) {
    request.op = control::Op::zone_keys;
    request.zone = name_wire(zone_name);
    print = [](const control::Response& r) { print_keys(r.keys); };
  } else if (add->parsed()) {
    request.op = control::Op::add;
    uint16_t t = parse_type(type);
    std::string line = name + " " + ttl + " IN " + type + " " + rdata_text(t, rdata);
    request.records.push_back(to_wire(parse_one(line, 0)));
  } else if (remove->parsed()) {
    uint16_t t = parse_type(type);
    if (rdata.empty()) {
      request.op = control::Op::remove_rrset;
      request.owner = name_wire(name);
      request.type = t;
    } else {
      request.op = control::Op::remove;
      std::string line = name + " 0 IN " + type + " " + rdata_text(t, rdata);
      request.records.push_back(to_wire(parse_one(line, 0)));
    }
  } else if (get->parsed()) {
    request.op = control::Op::get;
    request.owner = name_wire(name);
    request.type = type.empty() ? 0 : parse_type(type);
    std::string what = name + (type.empty() ? "" : " " + type);
    print = [what](const control::Response& r) {
      if (r.lines.empty()) fail(kExitFailed, "no records at " + what);
      for (const auto& l : r.lines) std::printf("%s\n", l.c_str());
    };
  } else if (batch->parsed()) {
    request.op = control::Op::batch;
    if (batch_file == "-") {
      request.changes = parse_batch(std::cin, "<stdin>");
    } else {
      std::ifstream in(batch_file);
      if (!in) fail(kExitFailed, "cannot open batch file " + batch_file);
      request.changes = parse_batch(in, batch_file);
    }
  } else if (member_list->parsed()) {
    request.op = control::Op::member_list;
    print = [member_json](const control::Response& r) { print_members(r.members, member_json); };
  } else if (member_add->parsed() || member_promote->parsed() || member_remove->parsed()) {
    request.op = member_add->parsed()       ? control::Op::member_add
                 : member_promote->parsed() ? control::Op::member_promote
                                            : control::Op::member_remove;
    request.member = member_id;
    request.address = member_address;
    request.learner = stay_learner;
    std::string done = member_add->parsed()       ? "added " + member_id + " as a learner"
                       : member_promote->parsed() ? "promoted " + member_id + " to voter"
                                                  : "removed " + member_id;
    if (member_add->parsed() && !stay_learner) {
      done += "; it becomes a voter once it has caught up";
    }
    print = [done](const control::Response& r) {
      std::printf("%s (index %llu)\n", done.c_str(), static_cast<unsigned long long>(r.index));
    };
  } else if (backup->parsed()) {
    // A copy of any size is pulled in bounded chunks, one request each.
    const auto timeout_ms = static_cast<uint32_t>(std::ceil(timeout_seconds * 1000));
    // Making the copy may take longer than a write: give it a minute at least.
    const uint32_t copy_ms = std::max<uint32_t>(timeout_ms, 60000);
    write_backup(socket_path, backup_file, copy_ms, timeout_ms, chunk_bytes, backup_local);
    return 0;
  } else if (leader_transfer->parsed()) {
    request.op = control::Op::leader_transfer;
    request.member = member_id;
  } else if (status->parsed() && whole_cluster) {
    request.op = control::Op::cluster_status;
    print = [as_json](const control::Response& r) { print_cluster(r.nodes, as_json); };
  } else if (status->parsed()) {
    request.op = control::Op::status;
    print = [as_json](const control::Response& r) {
      if (!r.status) fail(kExitUnreachable, "the daemon sent no status");
      print_status(*r.status, as_json);
    };
  }

  request.wait = wait == "all" ? control::Wait::all : control::Wait::local;
  const auto timeout_ms = static_cast<uint32_t>(std::ceil(timeout_seconds * 1000));
  request.timeout_ms = timeout_ms;
  // The daemon answers by the deadline with its own reason (no quorum, not
  // applied everywhere); give it a moment more before calling it unreachable.
  auto response = control::call(socket_path, request, timeout_ms + 2000);
  if (!response) fail(kExitUnreachable, response.error());
  if (!response->ok) fail(kExitFailed, response->error);
  for (const std::string& w : response->warnings) {
    std::fprintf(stderr, "dnsadm: warning: %s\n", one_line(w).c_str());
  }
  print(*response);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    int code = run(argc, argv);
    if (std::fflush(stdout) != 0) {
      std::fprintf(stderr, "dnsadm: cannot write the output\n");
      return kExitFailed;
    }
    return code;
  } catch (const Failure& f) {
    std::fflush(stdout);
    std::fprintf(stderr, "dnsadm: %s\n", one_line(f.message).c_str());
    return f.code;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "dnsadm: %s\n", one_line(e.what()).c_str());
    return kExitFailed;
  }
}
