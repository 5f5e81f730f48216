// Writes the seed corpora for the fuzz targets: a handful of small valid inputs per target,
// made with the project's own encoders so they track the formats. Usage: fuzz_make_seeds DIR
// (normally tests/fuzz/corpus); each target's seeds go to DIR/<target>/.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

#include <unistd.h>

#include "daemon/control/protocol.h"
#include "daemon/store/command.h"
#include "daemon/wire/message.h"
#include "replication/core/types.h"
#include "replication/frame.h"
#include "wal/format.h"
#include "wal/log.h"

namespace {

using namespace raftdns;
namespace fs = std::filesystem;
using Bytes = std::vector<std::uint8_t>;

fs::path g_root;

void seed(const std::string& target, const std::string& name, const Bytes& bytes) {
  const fs::path dir = g_root / target;
  fs::create_directories(dir);
  std::ofstream out(dir / name, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  if (!out) {
    std::fprintf(stderr, "cannot write %s\n", (dir / name).c_str());
    std::exit(1);
  }
}

Bytes text_bytes(const std::string& s) { return Bytes(s.begin(), s.end()); }

Bytes with_mode(std::uint8_t mode, const Bytes& rest) {
  Bytes out{mode};
  out.insert(out.end(), rest.begin(), rest.end());
  return out;
}

wire::Name name(const char* text) {
  auto n = wire::Name::from_text(text);
  if (!n) {
    std::fprintf(stderr, "bad name %s\n", text);
    std::exit(1);
  }
  return *n;
}

Bytes name_bytes(const char* text) {
  const auto n = name(text);
  return Bytes(n.wire().begin(), n.wire().end());
}

// ---- fuzz_dns_query ----

Bytes dns_query(std::uint16_t id, const char* qname, std::uint16_t qtype,
                std::uint16_t qclass = wire::rrclass::IN, std::optional<wire::Edns> edns = {},
                std::uint8_t opcode = wire::opcode::QUERY) {
  wire::Message m;
  m.header.id = id;
  m.header.rd = true;
  m.header.opcode = opcode;
  m.questions.push_back({name(qname), qtype, qclass});
  m.edns = std::move(edns);
  return wire::encode_message(m);
}

void dns_query_seeds() {
  namespace T = wire::rrtype;
  wire::Edns big;
  big.udp_size = 4096;
  big.do_bit = true;
  wire::Edns v1;
  v1.version = 1;
  wire::Edns cookie;
  cookie.options = {0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8};  // a client COOKIE
  seed("dns_query", "apex_soa", dns_query(1, "example.com.", T::SOA));
  seed("dns_query", "cname_chain", dns_query(2, "www.example.com.", T::A, wire::rrclass::IN, big));
  seed("dns_query", "truncated_txt", dns_query(3, "big.example.com.", T::TXT));
  seed("dns_query", "child_zone", dns_query(4, "host.child.example.com.", T::A));
  seed("dns_query", "wildcard", dns_query(5, "x.y.wild.example.com.", T::ANY));
  seed("dns_query", "dname", dns_query(6, "a.dn.example.com.", T::AAAA));
  seed("dns_query", "empty_non_terminal", dns_query(7, "b.ent.example.com.", T::A));
  seed("dns_query", "referral", dns_query(8, "deep.sub.example.com.", T::MX));
  seed("dns_query", "nxdomain", dns_query(9, "nope.example.com.", T::A, wire::rrclass::IN, cookie));
  seed("dns_query", "chaos_version", dns_query(10, "version.bind.", T::TXT, wire::rrclass::CH));
  seed("dns_query", "badvers", dns_query(11, "example.com.", T::NS, wire::rrclass::IN, v1));
  seed("dns_query", "notify",
       dns_query(12, "example.com.", T::SOA, wire::rrclass::IN, {}, wire::opcode::NOTIFY));
  seed("dns_query", "refused_zone", dns_query(13, "example.org.", T::A));
  seed("dns_query", "srv_cname_loop", dns_query(14, "loop1.example.com.", T::A));
  // DO queries into the NSEC3-signed zone: signatures and each kind of proof.
  seed("dns_query", "dnssec_positive", dns_query(16, "www.signed.example.", T::A, wire::rrclass::IN, big));
  seed("dns_query", "dnssec_nxdomain", dns_query(17, "x.nope.signed.example.", T::A, wire::rrclass::IN, big));
  seed("dns_query", "dnssec_wildcard_nodata",
       dns_query(18, "a.wild.signed.example.", T::MX, wire::rrclass::IN, big));
  seed("dns_query", "dnssec_optout_referral",
       dns_query(19, "host.ins.signed.example.", T::A, wire::rrclass::IN, big));
  // A question whose name is a compression pointer back into the header: must be FORMERR.
  seed("dns_query", "pointer_question",
       Bytes{0, 15, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0, 0x04, 0, 1, 0, 1});
}

// ---- fuzz_record_text ----

void record_text_seeds() {
  const char* lines[] = {
      "www 300 IN A 192.0.2.1",
      "@ 3600 SOA ns1 hostmaster.example.com. 2024010101 3600 900 604800 300",
      "mail MX 10 mx.example.net.",
      "txt TXT \"hello world\" \"semi;colon\" \"\\\"quoted\\\"\"",
      "v6 AAAA 2001:db8::1",
      "_sip._udp SRV 10 5 5060 sip",
      "unknown TYPE65534 \\# 3 010203",
      "caa CAA 0 issue \"ca.example.net\"",
      "alias CNAME www",
      "tree DNAME example.net.",
      "naptr NAPTR 100 10 \"U\" \"E2U+sip\" \"!^.*$!sip:info@example.com!\" .",
      "host HINFO \"cpu\" \"os\"",
      "ssh SSHFP 1 1 0123456789abcdef0123456789abcdef01234567",
      "_443._tcp TLSA 3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
      "ptr PTR www.example.com.",
      "svc HTTPS 1 . alpn=h2,h3 port=443",
      "esc\\.aped\\032name 60 TXT \"\\255\\000\"",
      "*.wild NS ns1",
  };
  int i = 0;
  for (const char* line : lines)
    seed("record_text", "line" + std::to_string(i++), text_bytes(line));
}

// ---- fuzz_control ----

control::WireRecord control_record() {
  control::WireRecord r;
  r.owner = name_bytes("www.example.com.");
  r.type = wire::rrtype::A;
  r.ttl = 300;
  r.rdata = {192, 0, 2, 1};
  return r;
}

Bytes body(const std::string& s) { return text_bytes(s); }

void control_seeds() {
  control::Request status;
  control::Request add;
  add.op = control::Op::add;
  add.records = {control_record()};
  add.wait = control::Wait::all;
  control::Request put;
  put.op = control::Op::zone_put;
  put.zone = name_bytes("example.com.");
  put.records = {control_record(), control_record()};
  control::Request batch;
  batch.op = control::Op::batch;
  batch.changes = {{control::Op::add, {control_record()}, {}, 0},
                   {control::Op::remove_rrset, {}, name_bytes("old.example.com."), 16}};
  control::Request get;
  get.op = control::Op::get;
  get.owner = name_bytes("www.example.com.");
  control::Request cluster_status;
  cluster_status.op = control::Op::cluster_status;
  seed("control", "request_status", with_mode(0, body(control::encode_request_body(status))));
  seed("control", "request_cluster_status",
       with_mode(0, body(control::encode_request_body(cluster_status))));
  seed("control", "request_add", with_mode(0, body(control::encode_request_body(add))));
  seed("control", "request_zone_put", with_mode(0, body(control::encode_request_body(put))));
  seed("control", "request_batch", with_mode(0, body(control::encode_request_body(batch))));
  control::Request sign;
  sign.op = control::Op::zone_sign;
  sign.zone = name_bytes("example.com.");
  sign.algorithm = 15;
  sign.nsec3_optout = true;
  sign.signing.validity = 1209600;
  sign.signing.zsk_lifetime = 0;
  seed("control", "request_zone_sign", with_mode(0, body(control::encode_request_body(sign))));

  control::Response list;
  list.zones = {{"example.com.", 7, 12}};
  control::StatusInfo info;
  info.version = "0.1.0";
  info.node_id = "n1";
  info.uptime_seconds = 5;
  info.zones = 1;
  info.records = 12;
  info.applied_index = 40;
  info.applied_term = 3;
  info.role = "leader";
  control::NodeInfo node;
  node.id = "n1";
  node.role = "leader";
  node.term = 3;
  node.leader = "n1";
  node.commit = 40;
  node.applied = 40;
  node.digest = "00ff";
  control::PeerInfo peer;
  peer.id = "n2";
  peer.reachable = true;
  peer.match = 39;
  peer.lag = 1;
  peer.last_heard_ms = 120;
  node.peers = {peer};
  info.cluster = node;
  control::Response st;
  st.status = info;
  control::Response cluster;
  cluster.nodes = {node, node};
  cluster.nodes[1].id = "n2";
  cluster.nodes[1].reachable = false;
  cluster.nodes[1].error = "timed out";
  control::Response lines;
  lines.lines = {"www.example.com. 300 IN A 192.0.2.1"};
  seed("control", "response_zones", with_mode(1, body(control::encode_response_body(list))));
  seed("control", "response_status", with_mode(1, body(control::encode_response_body(st))));
  seed("control", "response_error",
       with_mode(1, body(control::encode_response_body(control::Response::failure("no quorum")))));
  seed("control", "response_cluster", with_mode(1, body(control::encode_response_body(cluster))));
  seed("control", "response_lines", with_mode(1, body(control::encode_response_body(lines))));
  control::Response keys;
  keys.keys = {{12345, 13, "KSK", "active", "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z", "", "",
                true, "example.com. 3600 IN DS 12345 13 2 ABCDEF"},
               {54321, 13, "ZSK", "published", "2026-01-01T00:00:00Z", "", "", "", false, ""}};
  seed("control", "response_keys", with_mode(1, body(control::encode_response_body(keys))));

  const std::string stream = control::frame(control::encode_request_body(status)) +
                             control::frame(control::encode_request_body(get));
  Bytes framed{2, 5};  // mode, then chunks of 6 octets
  framed.insert(framed.end(), stream.begin(), stream.end());
  seed("control", "frames", framed);
  seed("control", "oversized_frame", Bytes{2, 0, 0x7f, 0xff, 0xff, 0xff, '{'});
}

// ---- fuzz_raft_message, fuzz_peer_message ----

std::vector<Bytes> raft_messages() {
  raft::Message app;
  app.type = raft::MessageType::app;
  app.to = 2;
  app.from = 1;
  app.term = 3;
  app.log_term = 2;
  app.index = 10;
  app.commit = 9;
  app.entries = {
      {11, 3, raft::EntryType::normal, {1, 2, 3}},
      {12, 3, raft::EntryType::conf_change,
       raft::encode_conf_change({raft::ConfChange::add_learner, 4, {'a', 'd', 'd', 'r'}})}};
  raft::Message resp;
  resp.type = raft::MessageType::app_resp;
  resp.to = 1;
  resp.from = 2;
  resp.term = 3;
  resp.index = 7;
  resp.reject = true;
  resp.reject_hint = 5;
  raft::Message vote;
  vote.type = raft::MessageType::pre_vote;
  vote.to = 3;
  vote.from = 1;
  vote.term = 4;
  vote.log_term = 3;
  vote.index = 12;
  raft::Message snap;
  snap.type = raft::MessageType::snap;
  snap.to = 2;
  snap.from = 1;
  snap.term = 5;
  snap.snapshot = raft::SnapshotMeta{100, 4, {{1, 2, 3}, {4}}};
  raft::Message heartbeat;
  heartbeat.type = raft::MessageType::heartbeat;
  heartbeat.to = 2;
  heartbeat.from = 1;
  heartbeat.term = 5;
  heartbeat.commit = 100;
  heartbeat.context = {9, 9, 9};
  return {raft::encode_message(app), raft::encode_message(resp), raft::encode_message(vote),
          raft::encode_message(snap), raft::encode_message(heartbeat)};
}

void raft_message_seeds() {
  int i = 0;
  for (const Bytes& m : raft_messages()) seed("raft_message", "message" + std::to_string(i++), m);
  seed("raft_message", "conf_change",
       raft::encode_conf_change({raft::ConfChange::remove_voter, 3, {}}));
}

void put_u16(Bytes& out, std::size_t v) {
  out.push_back(static_cast<std::uint8_t>(v >> 8));
  out.push_back(static_cast<std::uint8_t>(v));
}

void peer_message_seeds() {
  const auto messages = raft_messages();
  Bytes sealed{0};
  for (const Bytes& m : messages) {
    sealed.push_back(1);  // a Raft message
    put_u16(sealed, m.size());
    sealed.insert(sealed.end(), m.begin(), m.end());
  }
  seed("peer_message", "sealed_raft", sealed);
  Bytes done{0, 3};  // the closing message of a snapshot: u64 total size, then the message
  const Bytes& snap = messages[3];
  put_u16(done, 8 + snap.size());
  done.insert(done.end(), {0, 0, 0, 0, 0, 0, 0x10, 0});
  done.insert(done.end(), snap.begin(), snap.end());
  seed("peer_message", "sealed_snapshot_done", done);
  Bytes tamper{1, 0, 30, 0x04, 1};
  tamper.insert(tamper.end(), messages[0].begin(), messages[0].end());
  seed("peer_message", "tampered", tamper);
  replication::Hello hello;
  hello.dialer_id = "n1";
  hello.target_id = "n2";
  auto hello_frame = replication::encode_handshake_frame(replication::FrameType::kHello,
                                                         replication::encode_hello(hello));
  const std::string reason = "wrong cluster key";
  auto refusal = replication::encode_handshake_frame(replication::FrameType::kRefusal,
                                                     Bytes(reason.begin(), reason.end()));
  Bytes stranger{2};
  stranger.insert(stranger.end(), hello_frame.begin(), hello_frame.end());
  stranger.insert(stranger.end(), refusal.begin(), refusal.end());
  seed("peer_message", "stranger_handshake", stranger);
  Bytes forged{3};
  forged.insert(forged.end(), hello_frame.begin(), hello_frame.end());
  seed("peer_message", "forged", forged);
}

// ---- fuzz_command ----

void command_seeds() {
  const auto owner = name("www.example.com.");
  const wire::Record a{owner, wire::rrtype::A, wire::rrclass::IN, 300, {192, 0, 2, 1}};
  const wire::Record txt{owner, wire::rrtype::TXT, wire::rrclass::IN, 60, {3, 'a', 'b', 'c'}};
  seed("command", "add", store::encode_command(store::AddRecords{{a, txt}}));
  seed("command", "remove", store::encode_command(store::RemoveRecords{{a}}));
  seed("command", "remove_rrset",
       store::encode_command(store::RemoveRRset{owner, wire::rrtype::TXT}));
  seed("command", "put_zone",
       store::encode_command(store::PutZone{name("example.com."), {a, txt}}));
  seed("command", "remove_zone", store::encode_command(store::RemoveZone{name("example.com.")}));
  seed("command", "membership", store::encode_command(store::SetMembership{{1, 2, 3, 4}}));
  store::Batch batch;
  batch.commands.push_back(store::AddRecords{{a}});
  batch.commands.push_back(store::RemoveRRset{owner, wire::rrtype::A});
  seed("command", "batch", store::encode_command(batch));
}

// ---- fuzz_wal_recovery ----

void wal_seeds() {
  // Mode 3: [count] then per entry [shape][payload length], then [compact][edits][edit...].
  // Shape bits: 0 term+1, 1 end a batch, 2 sync it, 3 set the hard state, 4-7 the vote.
  seed("wal_recovery", "written_clean",
       Bytes{3, 6, 2, 10, 0, 20, 6, 0, 11, 200, 0, 3, 14, 5, 0, 0});
  seed("wal_recovery", "written_compacted",
       Bytes{3,    30,  6, 250, 0, 250, 0, 250, 6, 250, 0, 250, 2,    250, 0, 250,
             6,    250, 0, 250, 6, 250, 0, 250, 2, 250, 0, 250, 6,    250, 0, 250,
             0x1e, 250, 0, 250, 6, 250, 0, 250, 2, 250, 0, 250, 6,    250, 0, 250,
             6,    250, 0, 250, 2, 250, 0, 250, 6, 250, 0, 250, 0x86, 0});
  // Flip a bit in the last record of a single segment: a complete record with a bad CRC.
  seed("wal_recovery", "written_bitflip", Bytes{3, 3, 6, 8, 6, 8, 6, 8, 0, 1, 1, 0, 0, 0x95, 0x04});
  // Zero the tail of the last record: a torn write, cut off.
  seed("wal_recovery", "written_torn", Bytes{3, 3, 6, 8, 6, 8, 6, 40, 0, 1, 1, 1, 0, 0xB8, 0, 64});
  // Truncate the meta file.
  seed("wal_recovery", "written_meta_cut", Bytes{3, 2, 14, 4, 14, 4, 0, 1, 0, 2, 0, 100});
  seed("wal_recovery", "raw_segment_empty", Bytes{0});
  // Real files of a small log, trailing zeros trimmed: a whole segment (mode 0), its records
  // after the header (mode 1), and the meta records after the meta header (mode 2).
  const fs::path dir = fs::temp_directory_path() / ("raftdns-seeds-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  {
    wal::Options opts;
    opts.segment_size = 4096;
    opts.meta_size = 512;
    auto log = wal::Log::open(dir.string(), opts);
    if (!log) {
      std::fprintf(stderr, "wal: %s\n", log.error().c_str());
      std::exit(1);
    }
    const std::vector<wal::Entry> entries{{1, 1, {1, 2, 3}}, {2, 1, {}}, {3, 2, Bytes(20, 7)}};
    if (!(*log)->append(entries) || !(*log)->sync() || !(*log)->set_hard_state({2, 1, 3})) {
      std::fprintf(stderr, "wal: cannot write the seed log\n");
      std::exit(1);
    }
  }
  for (const auto& entry : fs::directory_iterator(dir)) {
    std::ifstream in(entry.path(), std::ios::binary);
    Bytes bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    while (!bytes.empty() && bytes.back() == 0) bytes.pop_back();
    const Bytes after_header(bytes.begin() + wal::format::kFileHeaderSize, bytes.end());
    if (entry.path().filename() == "meta") {
      seed("wal_recovery", "meta_records", with_mode(2, after_header));
    } else {
      seed("wal_recovery", "segment_whole", with_mode(0, bytes));
      seed("wal_recovery", "segment_records", with_mode(1, after_header));
    }
  }
  fs::remove_all(dir);
  seed("wal_recovery", "records_garbage", Bytes{1, 8, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0});
  seed("wal_recovery", "meta_garbage", Bytes{2, 1, 0, 0, 0, 0, 0, 0, 0, 0xA5});
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
    return 2;
  }
  g_root = argv[1];
  dns_query_seeds();
  record_text_seeds();
  control_seeds();
  raft_message_seeds();
  peer_message_seeds();
  command_seeds();
  wal_seeds();
  std::printf("seeds written to %s\n", g_root.c_str());
  return 0;
}
