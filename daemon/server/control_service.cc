// Control requests: decoding records, reads from the store, writes through
// the Proposer, and the Unix socket they arrive on.
#include "daemon/server/control_service.h"

#include <event2/buffer.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <ctime>
#include <deque>
#include <fstream>

#include "daemon/dnssec/key.h"
#include "daemon/server/log.h"
#include "daemon/server/signing_policy.h"
#include "daemon/store/signing.h"
#include "daemon/store/store.h"
#include "daemon/wire/rr.h"
#include "daemon/zone/zone.h"

namespace raftdns::server {
namespace {

using control::Op;
using control::Request;
using control::Response;

// Enough for many concurrent admin clients and write loads; each costs one fd.
constexpr size_t kMaxControlConnections = 512;
constexpr timeval kControlIdleTimeout{60, 0};

Result<wire::Name> decode_name(const std::vector<uint8_t>& wire_form, const char* what) {
  if (wire_form.empty()) return make_error(std::string("request has no ") + what);
  auto name = wire::Name::from_wire(wire_form);
  if (!name) return make_error(std::string("bad ") + what + ": " + name.error());
  return name;
}

Result<std::vector<wire::Record>> decode_records(const std::vector<control::WireRecord>& in,
                                                 bool need_some) {
  if (need_some && in.empty()) return make_error("request carries no records");
  std::vector<wire::Record> out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    const control::WireRecord& r = in[i];
    auto owner = wire::Name::from_wire(r.owner);
    if (!owner) return make_error("record " + std::to_string(i + 1) + ": " + owner.error());
    if (r.rclass != wire::rrclass::IN) {
      return make_error("record " + std::to_string(i + 1) + " (" + owner->to_text() +
                        "): only class IN is served");
    }
    if (Status s = wire::validate_rdata(r.type, r.rdata); !s) {
      return make_error("record " + std::to_string(i + 1) + " (" + owner->to_text() + " " +
                        wire::type_to_text(r.type) + "): " + s.error());
    }
    out.push_back(wire::Record{*owner, r.type, r.rclass, r.ttl, r.rdata});
  }
  return out;
}

// The command one change (or a batch step) stands for.
Result<store::Command> change_command(Op op, const std::vector<control::WireRecord>& records,
                                      const std::vector<uint8_t>& owner, uint16_t type) {
  switch (op) {
    case Op::add: {
      auto rrs = decode_records(records, true);
      if (!rrs) return std::move(rrs).take_error();
      return store::Command{store::AddRecords{std::move(*rrs)}};
    }
    case Op::remove: {
      auto rrs = decode_records(records, true);
      if (!rrs) return std::move(rrs).take_error();
      return store::Command{store::RemoveRecords{std::move(*rrs)}};
    }
    case Op::remove_rrset: {
      auto name = decode_name(owner, "owner name");
      if (!name) return std::move(name).take_error();
      if (type == 0) return make_error("removing an RRset needs its type");
      return store::Command{store::RemoveRRset{*name, type}};
    }
    default:
      return make_error(std::string("operation ") + control::op_name(op) + " is not a change");
  }
}

// The owners and types a change adds (a batch's adds included).
void collect_added(const store::Command& c, std::vector<std::pair<wire::Name, uint16_t>>& out) {
  if (const auto* add = std::get_if<store::AddRecords>(&c)) {
    for (const wire::Record& rr : add->records) out.emplace_back(rr.owner, rr.type);
  } else if (const auto* batch = std::get_if<store::Batch>(&c)) {
    for (const store::Command& step : batch->commands) collect_added(step, out);
  }
}

// One warning per zone for added records that are occluded in the store as
// it now is (the rules of zone::occlusion_of, which a zone file's load
// reports the same way). A warning only: the data is kept and exported.
std::vector<std::string> occlusion_warnings(
    const store::Store& store, const std::vector<std::pair<wire::Name, uint16_t>>& added) {
  std::vector<std::string> out;
  if (added.empty()) return out;
  std::vector<wire::Name> zones;
  for (const store::ZoneInfo& z : store.zones()) zones.push_back(z.name);
  auto has = [&](const wire::Name& n, uint16_t t) { return !store.get(n, t).empty(); };
  // zone -> the occluded records, in the order given
  std::vector<std::pair<wire::Name, std::vector<wire::Record>>> found;
  for (const auto& [owner, type] : added) {
    const wire::Name* zone = nullptr;
    for (const wire::Name& z : zones) {
      if (owner.is_subdomain_of(z) && (!zone || z.label_count() > zone->label_count())) zone = &z;
    }
    if (!zone || !zone::occlusion_of(*zone, owner, type, has)) continue;
    auto it = std::find_if(found.begin(), found.end(), [&](const auto& f) { return f.first == *zone; });
    if (it == found.end()) it = found.insert(found.end(), {*zone, {}});
    it->second.push_back(wire::Record{owner, type, wire::rrclass::IN, 0, {}});
  }
  for (const auto& [zone, records] : found) {
    std::vector<const wire::Record*> ptrs;
    for (const wire::Record& rr : records) ptrs.push_back(&rr);
    out.push_back(zone::occlusion_warning(zone, ptrs));
  }
  return out;
}

// "2026-11-29T17:46:12Z", or empty for 0 (a step not taken).
std::string utc_text(uint32_t seconds) {
  if (seconds == 0) return {};
  const time_t t = static_cast<time_t>(seconds);
  tm parts{};
  gmtime_r(&t, &parts);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &parts);
  return text;
}

// A DS record in presentation form (RFC 4034 §5.3), "zone. TTL IN DS tag
// algorithm digest-type HEX", as a parent's registry takes it.
std::string ds_text(const wire::Name& zone, uint32_t ttl, const std::vector<uint8_t>& rdata) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string out = zone.to_text() + " " + std::to_string(ttl) + " IN DS " +
                    std::to_string(rdata[0] << 8 | rdata[1]) + " " + std::to_string(rdata[2]) +
                    " " + std::to_string(rdata[3]) + " ";
  for (size_t i = 4; i < rdata.size(); ++i) {
    out.push_back(kDigits[rdata[i] >> 4]);
    out.push_back(kDigits[rdata[i] & 15]);
  }
  return out;
}

// What zone_keys shows of a signed zone: no private key is in a
// SigningInfo, so none can reach the reply.
std::vector<control::SigningKey> key_list(const store::SigningInfo& info) {
  std::vector<control::SigningKey> out;
  for (const store::SigningKeyInfo& k : info.keys) {
    control::SigningKey key;
    key.tag = k.tag;
    key.algorithm = k.algorithm;
    const bool ksk = (k.flags & dnssec::flag::kSep) != 0;
    key.role = ksk ? "KSK" : "ZSK";
    key.state = store::key_state_name(k.state);
    key.published = utc_text(k.published_at);
    key.active = utc_text(k.active_at);
    key.retired = utc_text(k.retired_at);
    key.ds_seen = utc_text(k.ds_seen_at);
    key.cds = k.cds;
    if (ksk) {
      // The DS to hand to the parent: SHA-256 (digest type 2, RFC 4509).
      key.ds = ds_text(info.zone, info.params.dnskey_ttl, dnssec::ds_rdata(info.zone, k.dnskey));
    }
    out.push_back(std::move(key));
  }
  return out;
}

}  // namespace

// --- ControlService ---

ControlService::ControlService(store::Store& store, Proposer& proposer, StatusSource status)
    : store_(store),
      proposer_(proposer),
      status_(std::move(status)),
      now_([] { return static_cast<uint32_t>(std::time(nullptr)); }) {}

void ControlService::signing(const Request& request, Reply reply) {
  auto zone = decode_name(request.zone, "zone name");
  if (!zone) return reply(Response::failure(zone.error()));
  const std::string name = zone->to_text();
  if (store_.get(*zone, wire::rrtype::SOA).empty()) {
    return reply(Response::failure("zone " + name + " does not exist"));
  }
  std::optional<store::SigningInfo> info = store_.signing(*zone);
  if (request.op == Op::zone_sign) {
    if (info) return reply(Response::failure("zone " + name + " is already signed online"));
  } else if (!info) {
    return reply(Response::failure("zone " + name + " is not signed online"));
  }
  store::ZoneSigning command;
  command.zone = *zone;
  command.now = now_();
  auto add_key = [&](uint8_t algorithm, uint16_t flags) -> Status {
    auto key = store::make_new_key(algorithm, flags);
    if (!key) return make_error("zone " + name + ": cannot make a key: " + key.error());
    command.keys.push_back(std::move(*key));
    return {};
  };
  switch (request.op) {
    case Op::zone_keys: {
      Response r;
      r.keys = key_list(*info);
      if (!info->complete) {
        r.warnings.push_back("zone " + name +
                             " is still being signed: do not give its DS to the parent yet");
      }
      return reply(std::move(r));
    }
    case Op::zone_sign: {
      command.action = store::ZoneSigning::Action::sign;
      command.params = apply_overrides(signing_defaults_, request);
      if (Status s = check_signing_params(command.params, SigningNames::dnsadm); !s) {
        return reply(Response::failure("zone " + name + ": " + s.error()));
      }
      for (uint16_t flags : {dnssec::kKskFlags, dnssec::kZskFlags}) {
        if (Status s = add_key(command.params.algorithm, flags); !s) {
          return reply(Response::failure(s.error()));
        }
      }
      break;
    }
    case Op::zone_unsign:
      command.action = store::ZoneSigning::Action::unsign;
      break;
    case Op::zone_roll: {
      if (request.role != "ksk" && request.role != "zsk") {
        return reply(Response::failure("zone " + name +
                                       ": the key to roll is \"ksk\" or \"zsk\", not \"" +
                                       request.role + "\""));
      }
      command.action = store::ZoneSigning::Action::roll;
      const uint16_t flags = request.role == "ksk" ? dnssec::kKskFlags : dnssec::kZskFlags;
      if (Status s = add_key(info->params.algorithm, flags); !s) {
        return reply(Response::failure(s.error()));
      }
      break;
    }
    case Op::zone_ds_seen: {
      const bool known = std::any_of(info->keys.begin(), info->keys.end(), [&](const auto& k) {
        return k.tag == request.key_tag && (k.flags & dnssec::flag::kSep) != 0;
      });
      if (!known) {
        return reply(Response::failure("zone " + name + " has no KSK with tag " +
                                       std::to_string(request.key_tag)));
      }
      command.action = store::ZoneSigning::Action::ds_seen;
      command.key_tag = request.key_tag;
      break;
    }
    default:
      return reply(Response::failure(std::string("operation ") + control::op_name(request.op) +
                                     " is not a signing step"));
  }
  propose(std::move(command), request, std::move(reply));
}

void ControlService::propose(store::Command command, const Request& request, Reply reply,
                             std::vector<std::pair<wire::Name, uint16_t>> added) {
  ProposalOptions options;
  options.deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(request.timeout_ms);
  options.wait_for_all = request.wait == control::Wait::all;
  std::string what = store::describe(command);
  proposer_.submit(std::move(command), options,
                   [this, reply = std::move(reply), what,
                    added = std::move(added)](Status status, uint64_t index) {
                     if (!status) {
                       log_info("refused " + what + ": " + status.error());
                       reply(Response::failure(status.error()));
                       return;
                     }
                     log_info("applied " + what + " at index " + std::to_string(index));
                     Response r;
                     r.index = index;
                     r.warnings = occlusion_warnings(store_, added);
                     for (const std::string& w : r.warnings) log_warning(w);
                     reply(std::move(r));
                   });
}

void ControlService::handle(const Request& request, Reply reply) {
  // The service outlives every request: ControlListener drops replies for
  // connections that are gone, and the daemon destroys it after the driver.
  dispatch(request, [this, op = request.op, reply = std::move(reply)](Response response) {
    ++request_counts_[{op, response.ok}];
    reply(std::move(response));
  });
}

void ControlService::dispatch(const Request& request, Reply reply) {
  switch (request.op) {
    case Op::status: {
      Response r;
      r.status = status_();
      if (!status_digest_ || !r.status->cluster) return reply(std::move(r));
      // The digest job reads the store as it is now, at the applied index the
      // status reports.
      status_digest_([r = std::move(r), reply = std::move(reply)](std::string digest) mutable {
        r.status->cluster->digest = std::move(digest);
        reply(std::move(r));
      });
      return;
    }
    case Op::member_list: {
      if (!admin_.list) return reply(Response::failure("this node has no cluster"));
      auto deadline =
          std::chrono::steady_clock::now() + std::chrono::milliseconds(request.timeout_ms);
      admin_.list(deadline, [reply = std::move(reply)](std::vector<control::MemberInfo> members) {
        Response r;
        r.members = std::move(members);
        reply(std::move(r));
      });
      return;
    }
    case Op::member_add:
    case Op::member_promote:
    case Op::member_remove: {
      if (!admin_.change) return reply(Response::failure("this node has no cluster"));
      if (request.member.empty()) return reply(Response::failure("no member id given"));
      auto deadline =
          std::chrono::steady_clock::now() + std::chrono::milliseconds(request.timeout_ms);
      std::string what = std::string(control::op_name(request.op)) + " " + request.member;
      admin_.change(request, deadline,
                    [reply = std::move(reply), what](Status status, uint64_t index) {
                      if (!status) {
                        log_info("refused " + what + ": " + status.error());
                        return reply(Response::failure(status.error()));
                      }
                      log_info("applied " + what + " at index " + std::to_string(index));
                      Response r;
                      r.index = index;
                      reply(std::move(r));
                    });
      return;
    }
    case Op::leader_transfer: {
      if (!admin_.transfer) return reply(Response::failure("this node has no cluster"));
      auto deadline =
          std::chrono::steady_clock::now() + std::chrono::milliseconds(request.timeout_ms);
      admin_.transfer(request.member, deadline, [reply = std::move(reply)](Status status) {
        reply(status ? Response{} : Response::failure(status.error()));
      });
      return;
    }
    case Op::backup: {
      if (!admin_.backup) return reply(Response::failure("backups are not available"));
      admin_.backup(request, std::move(reply));
      return;
    }
    case Op::cluster_status: {
      if (!cluster_status_) return reply(Response::failure("this node has no cluster"));
      auto deadline =
          std::chrono::steady_clock::now() + std::chrono::milliseconds(request.timeout_ms);
      cluster_status_(deadline, [reply = std::move(reply)](std::vector<control::NodeInfo> nodes) {
        Response r;
        r.nodes = std::move(nodes);
        reply(std::move(r));
      });
      return;
    }
    case Op::zone_list: {
      Response r;
      for (const store::ZoneInfo& z : store_.zones()) {
        r.zones.push_back({z.name.to_text(), z.serial, z.records});
      }
      reply(std::move(r));
      return;
    }
    case Op::zone_export: {
      auto zone = decode_name(request.zone, "zone name");
      if (!zone) return reply(Response::failure(zone.error()));
      auto records = store_.zone_records(*zone);
      if (!records) return reply(Response::failure(records.error()));
      Response r;
      r.text = zone::export_zone(*zone, *records);
      reply(std::move(r));
      return;
    }
    case Op::zone_put: {
      auto zone = decode_name(request.zone, "zone name");
      if (!zone) return reply(Response::failure(zone.error()));
      auto records = decode_records(request.records, true);
      if (!records) return reply(Response::failure(records.error()));
      // dnsadm validated the file already; a daemon checks again because
      // the socket is the trust boundary.
      std::vector<std::string> warnings;
      if (Status s = zone::validate_zone(*zone, *records, &warnings); !s) {
        return reply(Response::failure("zone " + zone->to_text() + ": " + s.error()));
      }
      for (const std::string& w : warnings) log_warning(w);
      propose(store::PutZone{*zone, std::move(*records)}, request, std::move(reply));
      return;
    }
    case Op::zone_export_part: {
      auto zone = decode_name(request.zone, "zone name");
      if (!zone) return reply(Response::failure(zone.error()));
      auto part = store_.export_part(*zone, request.cursor, control::kExportPartRecords);
      if (!part) return reply(Response::failure(part.error()));
      Response r;
      r.text = zone::export_zone(*zone, part->records);
      // Only the first part opens with the $ORIGIN line.
      if (!request.cursor.empty()) r.text.erase(0, r.text.find('\n') + 1);
      r.cursor = std::move(part->cursor);
      reply(std::move(r));
      return;
    }
    case Op::zone_import_begin: {
      auto zone = decode_name(request.zone, "zone name");
      if (!zone) return reply(Response::failure(zone.error()));
      if (request.import_id == 0) return reply(Response::failure("an import needs an import_id"));
      propose(store::ImportBegin{request.import_id, *zone}, request, std::move(reply));
      return;
    }
    case Op::zone_import_chunk: {
      if (request.import_id == 0) return reply(Response::failure("an import needs an import_id"));
      if (request.records.size() > control::kMaxImportChunkRecords) {
        return reply(Response::failure(
            "an import chunk carries at most " + std::to_string(control::kMaxImportChunkRecords) +
            " records, this one " + std::to_string(request.records.size())));
      }
      auto records = decode_records(request.records, true);
      if (!records) return reply(Response::failure(records.error()));
      propose(store::ImportChunk{request.import_id, request.sequence, std::move(*records)}, request,
              std::move(reply));
      return;
    }
    case Op::zone_import_commit: {
      if (request.import_id == 0) return reply(Response::failure("an import needs an import_id"));
      propose(store::ImportCommit{request.import_id, request.sequence}, request, std::move(reply));
      return;
    }
    case Op::zone_import_abort: {
      if (request.import_id == 0) return reply(Response::failure("an import needs an import_id"));
      propose(store::ImportAbort{request.import_id}, request, std::move(reply));
      return;
    }
    case Op::zone_remove: {
      auto zone = decode_name(request.zone, "zone name");
      if (!zone) return reply(Response::failure(zone.error()));
      propose(store::RemoveZone{*zone}, request, std::move(reply));
      return;
    }
    case Op::add:
    case Op::remove:
    case Op::remove_rrset: {
      auto command = change_command(request.op, request.records, request.owner, request.type);
      if (!command) return reply(Response::failure(command.error()));
      std::vector<std::pair<wire::Name, uint16_t>> added;
      collect_added(*command, added);
      propose(std::move(*command), request, std::move(reply), std::move(added));
      return;
    }
    case Op::zone_sign:
    case Op::zone_unsign:
    case Op::zone_keys:
    case Op::zone_roll:
    case Op::zone_ds_seen:
      signing(request, std::move(reply));
      return;
    case Op::get: {
      auto owner = decode_name(request.owner, "owner name");
      if (!owner) return reply(Response::failure(owner.error()));
      Response r;
      for (const wire::Record& rr : store_.get(*owner, request.type)) {
        r.lines.push_back(wire::record_to_text(rr));
      }
      reply(std::move(r));
      return;
    }
    case Op::batch: {
      if (request.changes.empty()) return reply(Response::failure("batch is empty"));
      store::Batch batch;
      for (size_t i = 0; i < request.changes.size(); ++i) {
        const control::Change& c = request.changes[i];
        auto command = change_command(c.op, c.records, c.owner, c.type);
        if (!command) {
          return reply(
              Response::failure("batch change " + std::to_string(i + 1) + ": " + command.error()));
        }
        batch.commands.push_back(std::move(*command));
      }
      std::vector<std::pair<wire::Name, uint16_t>> added;
      for (const store::Command& step : batch.commands) collect_added(step, added);
      propose(std::move(batch), request, std::move(reply), std::move(added));
      return;
    }
  }
  reply(Response::failure("unknown operation"));
}

// --- group lookup ---

Result<gid_t> resolve_group(const std::string& group, const std::string& group_file) {
  gid_t gid = 0;
  auto [end, ec] = std::from_chars(group.data(), group.data() + group.size(), gid);
  if (!group.empty() && ec == std::errc() && end == group.data() + group.size()) return gid;
  std::ifstream in(group_file);
  if (!in) return make_error("cannot read " + group_file + " to find group \"" + group + "\"");
  std::string line;
  while (std::getline(in, line)) {
    // name:password:gid:members
    size_t a = line.find(':');
    if (a == std::string::npos || line.compare(0, a, group) != 0 || a != group.size()) continue;
    size_t b = line.find(':', a + 1);
    if (b == std::string::npos) continue;
    size_t c = line.find(':', b + 1);
    std::string_view id(line.data() + b + 1, (c == std::string::npos ? line.size() : c) - b - 1);
    auto [p, err] = std::from_chars(id.data(), id.data() + id.size(), gid);
    if (err == std::errc() && p == id.data() + id.size()) return gid;
  }
  return make_error("group \"" + group + "\" is not in " + group_file);
}

// --- ControlListener ---

struct ControlListener::Connection {
  ControlListener* owner = nullptr;
  BufferEventPtr bev;
  control::FrameReader reader;
  // The answers owed, in the order the requests came: a slot fills when the
  // service answers its request, and the filled slots at the front go out.
  // At most control::kMaxPipelinedRequests are owed; reading waits beyond.
  struct Owed {
    std::optional<Response> response;
    bool close_after = false;  // the oversized-request refusal ends the connection
  };
  std::deque<Owed> owed;
  uint64_t first_owed = 0;   // the sequence number of owed.front()
  bool in_process = false;   // inside process(): replies only fill their slot
  bool closing = false;      // close once the output is flushed

  void on_read(bufferevent*) { owner->on_read(*this); }
  void on_write(bufferevent*) {
    if (closing) owner->drop(*this);
  }
  void on_event(bufferevent*, short what) { owner->on_event(*this, what); }
};

ControlListener::ControlListener(event_base* base, ControlService& service)
    : base_(base), service_(service) {}

ControlListener::~ControlListener() { close(); }

Status ControlListener::open(const std::string& path, const std::string& group) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(addr.sun_path)) {
    return make_error("control socket path \"" + path + "\" is empty or too long");
  }
  std::memcpy(addr.sun_path, path.data(), path.size());

  // Create missing parent directories (systemd's RuntimeDirectory usually
  // made the last one already).
  for (size_t slash = path.find('/', 1); slash != std::string::npos;
       slash = path.find('/', slash + 1)) {
    std::string dir = path.substr(0, slash);
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
      return make_error("cannot create directory " + dir + ": " + std::strerror(errno));
    }
  }

  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) return make_error(path + " exists and is not a socket");
    UniqueFd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (probe && ::connect(probe.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
      return make_error("another raftdnsd is already serving control socket " + path);
    }
    ::unlink(path.c_str());
  }

  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return make_error(std::string("cannot create control socket: ") + std::strerror(errno));
  // The socket is never reachable with wider permissions than 0660, not
  // even between bind() and chmod().
  mode_t old_mask = ::umask(0117);
  int bound = ::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  int bind_errno = errno;
  ::umask(old_mask);
  if (bound != 0) {
    return make_error("cannot bind control socket " + path + ": " + std::strerror(bind_errno));
  }
  path_ = path;
  ::chmod(path.c_str(), 0660);
  if (!group.empty()) {
    auto gid = resolve_group(group);
    if (!gid) return make_error("control.group: " + gid.error());
    if (::chown(path.c_str(), static_cast<uid_t>(-1), *gid) != 0) {
      return make_error("cannot give control socket " + path + " to group " + group + ": " +
                        std::strerror(errno));
    }
  }
  if (::listen(fd.get(), 64) != 0) {
    return make_error("cannot listen on control socket " + path + ": " + std::strerror(errno));
  }
  evconnlistener* listener =
      evconnlistener_new(base_, forward_to<&ControlListener::on_accept>, this,
                         LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, fd.get());
  if (!listener) return make_error("cannot watch control socket " + path);
  fd.release();
  listener_.reset(listener);
  return {};
}

void ControlListener::close() {
  listener_.reset();
  connections_.clear();
  if (!path_.empty()) {
    ::unlink(path_.c_str());
    path_.clear();
  }
}

void ControlListener::on_accept(evconnlistener*, evutil_socket_t fd, sockaddr*, int) {
  if (connections_.size() >= kMaxControlConnections) {
    log_warning("control socket: too many connections, refusing one");
    ::close(fd);
    return;
  }
  bufferevent* bev = bufferevent_socket_new(base_, fd, BEV_OPT_CLOSE_ON_FREE);
  if (!bev) {
    ::close(fd);
    return;
  }
  auto conn = std::make_shared<Connection>();
  conn->owner = this;
  conn->bev.reset(bev);
  bufferevent_setcb(bev, forward_to<&Connection::on_read>,
                    forward_to<&Connection::on_write>,
                    forward_to<&Connection::on_event>, conn.get());
  bufferevent_set_timeouts(bev, &kControlIdleTimeout, &kControlIdleTimeout);
  bufferevent_enable(bev, EV_READ | EV_WRITE);
  connections_.emplace(conn.get(), conn);
}

void ControlListener::on_read(Connection& conn) {
  evbuffer* input = bufferevent_get_input(conn.bev.get());
  uint8_t chunk[65536];
  for (;;) {
    int n = evbuffer_remove(input, chunk, sizeof(chunk));
    if (n <= 0) break;
    conn.reader.feed({chunk, static_cast<size_t>(n)});
  }
  auto it = connections_.find(&conn);
  if (it == connections_.end()) return;
  std::shared_ptr<Connection> keep = it->second;
  process(keep);
}

void ControlListener::on_event(Connection& conn, short) {
  // EOF, error or idle timeout: a pending write still completes in the
  // store, its reply just has nowhere to go.
  drop(conn);
}

void ControlListener::drop(Connection& conn) { connections_.erase(&conn); }

void ControlListener::flush(Connection& conn) {
  std::string out;
  bool close_after = false;
  while (!conn.owed.empty() && conn.owed.front().response) {
    out += control::frame(control::encode_response_body(*conn.owed.front().response));
    close_after = conn.owed.front().close_after;
    conn.owed.pop_front();
    ++conn.first_owed;
    if (close_after) {
      conn.closing = true;
      conn.owed.clear();
      bufferevent_disable(conn.bev.get(), EV_READ);
      break;
    }
  }
  if (out.empty()) return;
  // Answers are small and the socket's buffer mostly empty: written at once
  // they cost one send, where the bufferevent would arm the descriptor for
  // writing, write on the next turn of the loop and disarm it again. What
  // does not fit goes through the bufferevent, behind nothing. A last
  // answer goes through it whole: its write callback closes the connection.
  size_t sent = 0;
  evbuffer* output = bufferevent_get_output(conn.bev.get());
  if (!close_after && evbuffer_get_length(output) == 0) {
    ssize_t n = ::send(bufferevent_getfd(conn.bev.get()), out.data(), out.size(),
                       MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0) sent = static_cast<size_t>(n);
  }
  if (sent < out.size()) bufferevent_write(conn.bev.get(), out.data() + sent, out.size() - sent);
}

// Reads and hands on the connection's requests while fewer than
// kMaxPipelinedRequests answers are owed. The service acts on each request
// as it is handed on (a write is proposed then), so writes sent on one
// connection are proposed in the order sent, whatever order they finish in.
void ControlListener::process(const std::shared_ptr<Connection>& conn) {
  if (conn->in_process) return;
  conn->in_process = true;
  while (!conn->closing && conn->owed.size() < control::kMaxPipelinedRequests) {
    std::optional<std::string> body = conn->reader.next();
    if (!body) {
      if (conn->reader.oversized()) {
        conn->owed.push_back(
            {Response::failure("request of " + std::to_string(conn->reader.announced_size()) +
                               " bytes is larger than the limit of " +
                               std::to_string(control::kMaxFrameSize) + " bytes"),
             true});
        log_warning("control socket: refused an oversized request");
        bufferevent_disable(conn->bev.get(), EV_READ);
        flush(*conn);
      }
      break;
    }
    auto request = control::decode_request_body(
        {reinterpret_cast<const uint8_t*>(body->data()), body->size()});
    if (!request) {
      log_warning("control socket: refused a request: " + request.error());
      conn->owed.push_back({Response::failure("bad request: " + request.error()), false});
      flush(*conn);
      continue;
    }
    const uint64_t sequence = conn->first_owed + conn->owed.size();
    conn->owed.emplace_back();
    std::weak_ptr<Connection> weak = conn;
    service_.handle(*request, [this, weak, sequence](Response response) {
      std::shared_ptr<Connection> c = weak.lock();
      if (!c || !connections_.contains(c.get()) || c->closing) return;
      if (sequence < c->first_owed || sequence - c->first_owed >= c->owed.size()) return;
      c->owed[sequence - c->first_owed].response = std::move(response);
      flush(*c);
      process(c);  // a slot is free: read on (a no-op inside process itself)
    });
  }
  if (!conn->closing) {
    if (conn->owed.size() < control::kMaxPipelinedRequests) {
      bufferevent_enable(conn->bev.get(), EV_READ);
    } else {
      bufferevent_disable(conn->bev.get(), EV_READ);
    }
  }
  conn->in_process = false;
}

}  // namespace raftdns::server
