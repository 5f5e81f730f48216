// Control-socket protocol shared by raftdnsd and dnsadm: typed requests and
// responses, their JSON encoding, and the length-prefixed framing.
//
// A frame is a 4-byte big-endian body length followed by a JSON object whose
// "v" member is kProtocolVersion (for an import chunk, then 0x00 and its
// packed records). The daemon answers every frame with exactly one response
// frame, in order, and reads up to kMaxPipelinedRequests frames ahead. A request with another version, a body that
// is not the expected JSON, or a length above kMaxFrameSize is refused with
// an error response; only an oversized frame also ends the connection (its
// body is never read).
//
// Names and RDATA travel in uncompressed wire form as lowercase hex, so the
// protocol is exact for any octet and this library needs no DNS code. The
// one exception is bulk: a zone_import_chunk's records follow the JSON
// document in binary, after a 0x00 that ends it (see protocol.cc).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/node_report.h"
#include "common/result.h"

namespace raftdns::control {

inline constexpr uint32_t kProtocolVersion = 1;
inline constexpr size_t kFrameHeaderSize = 4;
// A zone of any size travels in many requests (zone_import_*,
// zone_export_part), each far below this; zone_put stays for whole zones
// that fit.
inline constexpr size_t kMaxFrameSize = size_t{64} << 20;  // 64 MiB body
// The most records one zone_import_chunk may carry: a chunk is one Raft
// entry (a few MiB at most) and one bounded apply.
inline constexpr size_t kMaxImportChunkRecords = 20000;
// The most records one zone_export_part answers with.
inline constexpr size_t kExportPartRecords = 50000;
inline constexpr const char* kDefaultSocketPath = "/run/raftdns/control.sock";

// One resource record as it travels on the socket.
struct WireRecord {
  std::vector<uint8_t> owner;  // uncompressed wire-form name
  uint16_t type = 0;
  uint16_t rclass = 1;
  uint32_t ttl = 0;
  std::vector<uint8_t> rdata;

  friend bool operator==(const WireRecord&, const WireRecord&) = default;
};

enum class Op : uint8_t {
  status,        // -> StatusInfo
  zone_list,     // -> zones
  zone_export,   // zone -> text (master file)
  zone_put,      // zone, records: create or replace a whole zone
  zone_remove,   // zone
  add,           // records
  remove,        // records: exact RRs (TTL ignored)
  remove_rrset,  // owner, type
  get,           // owner, type (0 = all) -> lines
  batch,         // changes, applied atomically
  cluster_status,  // -> nodes: this node's view and every peer's
  // A zone import of any size, streamed (see store::ImportBegin):
  zone_import_begin,   // zone, import_id
  zone_import_chunk,   // import_id, sequence, records (at most kMaxImportChunkRecords)
  zone_import_commit,  // import_id, sequence = the number of chunks sent
  zone_import_abort,   // import_id
  zone_export_part,    // zone, cursor -> text, cursor (empty after the last part)
  member_list,      // -> members
  member_add,       // member, address, learner: add as a learner (promoted once caught up)
  member_promote,   // member
  member_remove,    // member (the leader too: it hands over first)
  leader_transfer,  // member (empty: the most up-to-date other voter)
  backup,           // backup_id (empty: make a new copy), offset -> backup (one chunk)
  // Online DNSSEC signing (docs/ARCHITECTURE.md, "Online signing"):
  zone_sign,     // zone, algorithm, nsec3_optout, signing: turn signing on
  zone_unsign,   // zone: turn it off, dropping every signature and key
  zone_keys,     // zone -> keys (public parts and DS only)
  zone_roll,     // zone, role: start a KSK or ZSK rollover now
  zone_ds_seen,  // zone, key_tag: the parent publishes this KSK's DS
};
const char* op_name(Op op) noexcept;
std::optional<Op> op_from_name(std::string_view name) noexcept;

// One step of a batch: add, remove or remove_rrset with the same fields as
// the single-change requests.
struct Change {
  Op op = Op::add;
  std::vector<WireRecord> records;
  std::vector<uint8_t> owner;
  uint16_t type = 0;

  friend bool operator==(const Change&, const Change&) = default;
};

// How long a write may wait, and for whom. "local" returns once the change
// is applied on the node that received it; "all" once every node of the
// cluster has applied it (the same as "local" on a single node).
enum class Wait : uint8_t { local, all };

// zone_sign: the values that override the node's [dnssec] defaults for this
// zone (seconds; absent: the default). The daemon checks them together.
struct SigningOverrides {
  std::optional<uint32_t> validity, refresh, jitter, dnskey_ttl, publish_wait, retire_wait,
      ds_wait, zsk_lifetime, ksk_lifetime;

  friend bool operator==(const SigningOverrides&, const SigningOverrides&) = default;
};

struct Request {
  Op op = Op::status;
  std::vector<uint8_t> zone;        // zone_export, zone_put, zone_remove
  // zone_put, add, remove, zone_import_chunk (which packs them into one
  // hex string, "packed_records", to keep its parse cheap)
  std::vector<WireRecord> records;
  std::vector<uint8_t> owner;       // remove_rrset, get
  uint16_t type = 0;                // remove_rrset, get
  std::vector<Change> changes;      // batch
  Wait wait = Wait::local;
  uint32_t timeout_ms = 5000;  // the client's deadline for writes
  uint64_t import_id = 0;      // zone_import_*
  uint32_t sequence = 0;       // zone_import_chunk, zone_import_commit
  std::vector<uint8_t> cursor;  // zone_export_part
  std::string member;   // member_*, leader_transfer: a node id
  std::string address;  // member_add: its peer address
  bool learner = false;  // member_add: stays a learner
  std::string backup_id;  // backup: the copy being read (empty: make one)
  uint64_t offset = 0;    // backup: where the next chunk starts
  uint64_t chunk_bytes = 0;  // backup: at most this many bytes (0: kBackupChunkSize)
  // backup: copy what this node has applied now, without first catching up
  // with the cluster's commit index (which takes a leader and a quorum)
  bool local = false;
  uint8_t algorithm = 0;      // zone_sign: 13 or 15 (0: the node's default)
  bool nsec3_optout = false;  // zone_sign: NSEC3 opt-out over insecure delegations
  SigningOverrides signing;   // zone_sign
  std::string role;           // zone_roll: "ksk" or "zsk"
  uint16_t key_tag = 0;       // zone_ds_seen

  friend bool operator==(const Request&, const Request&) = default;
};

// One cluster member (dnsadm member list).
struct MemberInfo {
  std::string id;
  std::string address;
  bool voter = false;
  bool auto_promote = false;  // a learner the leader promotes once caught up
  bool leader = false;
  bool reachable = false;  // from the node that answered (itself: true)
  uint64_t match = 0;      // the log index the leader knows it holds (0: unknown)
  uint64_t applied = 0;    // as it reported (0: no answer)

  friend bool operator==(const MemberInfo&, const MemberInfo&) = default;
};

struct ZoneSummary {
  std::string name;  // presentation form
  uint32_t serial = 0;
  uint64_t records = 0;

  friend bool operator==(const ZoneSummary&, const ZoneSummary&) = default;
};

// One node's replication state (dnsadm status, status --cluster); the
// driver fills the same struct.
using PeerInfo = PeerReport;
using NodeInfo = NodeReport;

// The JSON form of a NodeInfo as the protocol carries it (dnsadm --json
// prints the same form).
std::string node_info_to_json(const NodeInfo& node);
// The JSON array of members as member_list carries it (dnsadm member list --json).
std::string members_to_json(const std::vector<MemberInfo>& members);

struct StatusInfo {
  std::string version;
  std::string node_id;
  uint64_t uptime_seconds = 0;
  uint64_t zones = 0;
  uint64_t records = 0;
  uint64_t queries = 0;
  uint64_t applied_index = 0;
  uint64_t applied_term = 0;
  std::string role;  // the Raft role of this node
  std::optional<NodeInfo> cluster;
  // RFC 2136 UPDATEs this node answered, by result ("applied", "refused"...).
  std::map<std::string, uint64_t> updates;
  // Staged zone imports, the records they hold, and zone content waiting to
  // be reclaimed (after an import's commit or abort).
  uint64_t imports = 0;
  uint64_t staged_records = 0;
  uint64_t reclaim_pending = 0;

  friend bool operator==(const StatusInfo&, const StatusInfo&) = default;
};

// One key of a zone signed online (dnsadm zone keys). Times are UTC text,
// "YYYY-MM-DDTHH:MM:SSZ", empty for a step not taken.
struct SigningKey {
  uint16_t tag = 0;
  uint8_t algorithm = 0;
  std::string role;   // "KSK" or "ZSK"
  std::string state;  // "published", "active" or "retired"
  std::string published, active, retired, ds_seen;
  bool cds = false;  // a CDS and CDNSKEY for it are in the zone
  std::string ds;    // a KSK: its DS record as master-file text; a ZSK: empty

  friend bool operator==(const SigningKey&, const SigningKey&) = default;
};

// One chunk of a store backup: a consistent copy of the store (data,
// membership, applied index) made when the first request came. The daemon
// forgets the copy once its last chunk has been sent.
struct BackupChunk {
  std::string id;
  uint64_t index = 0;  // the applied index (and term) the copy holds
  uint64_t term = 0;
  uint64_t total = 0;  // bytes in the whole copy
  uint64_t offset = 0;
  std::vector<uint8_t> data;

  friend bool operator==(const BackupChunk&, const BackupChunk&) = default;
};
// Bytes per backup chunk: hex doubles them, well under kMaxFrameSize.
inline constexpr size_t kBackupChunkSize = size_t{8} << 20;

struct Response {
  bool ok = true;
  std::string error;                 // one line, set when !ok
  uint64_t index = 0;                // writes: the applied index of the change
  std::vector<ZoneSummary> zones;    // zone_list
  std::string text;                  // zone_export
  std::vector<std::string> lines;    // get: one record per line
  std::optional<StatusInfo> status;  // status
  std::vector<NodeInfo> nodes;       // cluster_status
  std::vector<uint8_t> cursor;       // zone_export_part: where the next part starts
  std::vector<MemberInfo> members;   // member_list
  std::optional<BackupChunk> backup;  // backup
  std::vector<std::string> warnings;  // writes: one line each (e.g. data added occluded)
  std::vector<SigningKey> keys;       // zone_keys

  static Response failure(std::string message) {
    Response r;
    r.ok = false;
    r.error = std::move(message);
    return r;
  }
  friend bool operator==(const Response&, const Response&) = default;
};

// JSON bodies (without the frame header).
std::string encode_request_body(const Request& r);
std::string encode_response_body(const Response& r);
// Both fail with a one-line reason on malformed JSON, a version other than
// kProtocolVersion, a missing or mistyped member, or a bad hex string.
Result<Request> decode_request_body(std::span<const uint8_t> body);
Result<Response> decode_response_body(std::span<const uint8_t> body);

// Prefixes `body` with its 4-byte big-endian length.
std::string frame(std::string_view body);

// Splits a byte stream into frame bodies. feed() appends bytes; next()
// yields one complete body at a time. An announced length above `max_size`
// puts the reader in a sticky error state (oversized() is true).
class FrameReader {
 public:
  explicit FrameReader(size_t max_size = kMaxFrameSize) : max_size_(max_size) {}

  void feed(std::span<const uint8_t> bytes);
  // The next complete body, or nullopt if more bytes are needed or the
  // stream is in error.
  std::optional<std::string> next();
  bool oversized() const noexcept { return oversized_; }
  size_t announced_size() const noexcept { return announced_; }
  size_t buffered() const noexcept { return buffer_.size() - consumed_; }

 private:
  size_t max_size_;
  std::string buffer_;
  size_t consumed_ = 0;
  size_t announced_ = 0;
  bool oversized_ = false;
};

// Blocking client: connects to the Unix socket at `socket_path`, sends one
// request and waits for its response until `timeout_ms` has passed. Errors
// are one line and name the socket ("cannot connect to /run/...: ...").
Result<Response> call(const std::string& socket_path, const Request& request, uint32_t timeout_ms);

// A blocking connection that may have several requests in flight: the
// daemon reads up to kMaxPipelinedRequests requests of a connection ahead
// of its answers, acts on them in the order sent (so writes are proposed in
// that order), and answers them in that order. A streamed import keeps a
// few chunks in flight this way.
inline constexpr size_t kMaxPipelinedRequests = 4;
class Connection {
 public:
  static Result<Connection> open(const std::string& socket_path, uint32_t timeout_ms);
  Connection(Connection&& o) noexcept;
  Connection& operator=(Connection&& o) noexcept;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection();

  Status send(const Request& request, uint32_t timeout_ms);
  // The answer to the oldest request sent and not yet answered.
  Result<Response> receive(uint32_t timeout_ms);

 private:
  Connection() = default;
  int fd_ = -1;
  std::string path_;
  FrameReader reader_;
};

// Hex helpers used by the codec and by tests.
std::string to_hex(std::span<const uint8_t> bytes);
std::optional<std::vector<uint8_t>> from_hex(std::string_view hex);

}  // namespace raftdns::control
