// Control protocol: what dnsadm sends is what raftdnsd decodes, and bad
// frames are refused with a reason instead of being half-understood.
#include <gtest/gtest.h>

#include <string>

#include "daemon/control/protocol.h"

namespace raftdns::control {
namespace {

std::span<const uint8_t> bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

WireRecord sample_record() {
  WireRecord r;
  r.owner = {3, 'w', 'w', 'w', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0};
  r.type = 1;
  r.ttl = 300;
  r.rdata = {192, 0, 2, 10};
  return r;
}

TEST(ControlCodec, EveryRequestFieldSurvivesARoundTrip) {
  Request r;
  r.op = Op::batch;
  r.zone = {0};
  r.records = {sample_record()};
  r.owner = sample_record().owner;
  r.type = 28;
  r.wait = Wait::all;
  r.timeout_ms = 1234;
  r.import_id = 0xfedcba9876543210ull;
  r.sequence = 77;
  r.cursor = {0, 1, 2, 0xff};
  Change add{Op::add, {sample_record()}, {}, 0};
  Change drop{Op::remove_rrset, {}, sample_record().owner, 16};
  r.changes = {add, drop};
  auto decoded = decode_request_body(bytes(encode_request_body(r)));
  ASSERT_TRUE(decoded.ok()) << decoded.error();
  EXPECT_EQ(*decoded, r);
}

TEST(ControlCodec, AnImportChunkCarriesItsRecordsPackedAndExact) {
  Request r;
  r.op = Op::zone_import_chunk;
  r.import_id = 99;
  r.sequence = 3;
  WireRecord odd = sample_record();
  odd.rdata.assign(300, 0xab);
  odd.ttl = 0xfffffffe;
  r.records = {sample_record(), odd, WireRecord{{0}, 16, 1, 0, {}}};
  std::string body = encode_request_body(r);
  // The records follow the JSON document in binary, not inside it.
  const size_t nul = body.find('\0');
  ASSERT_NE(nul, std::string::npos);
  EXPECT_NE(body.find("\"packed_records_bytes\""), std::string::npos);
  EXPECT_LT(body.find("\"packed_records_bytes\""), nul);
  EXPECT_EQ(body.find("\"records\""), std::string::npos);
  EXPECT_EQ(body.find("abababab"), std::string::npos);  // no hex of the 300-octet RDATA
  auto decoded = decode_request_body(bytes(body));
  ASSERT_TRUE(decoded.ok()) << decoded.error();
  EXPECT_EQ(*decoded, r);
  // A record cut short is refused.
  std::string head = R"({"v":1,"op":"zone_import_chunk","packed_records_bytes":7})";
  std::string cut = head + std::string(1, '\0') + std::string("\x03www\x00\x01\x00", 7);
  auto refused = decode_request_body(bytes(cut));
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().find("truncated"), std::string::npos) << refused.error();
  // So are packed bytes that do not match the announced length, either way.
  for (const std::string& bad : {head, head + std::string(1, '\0') + "12345678",
                                 std::string(R"({"v":1,"op":"zone_import_chunk"})") +
                                     std::string(1, '\0') + "x"}) {
    auto r2 = decode_request_body(bytes(bad));
    ASSERT_FALSE(r2.ok()) << bad;
    EXPECT_NE(r2.error().find("packed records"), std::string::npos) << r2.error();
  }
}

TEST(ControlCodec, EveryOperationNameRoundTrips) {
  for (Op op : {Op::status,
                Op::zone_list,
                Op::zone_export,
                Op::zone_put,
                Op::zone_remove,
                Op::add,
                Op::remove,
                Op::remove_rrset,
                Op::get,
                Op::batch,
                Op::cluster_status,
                Op::zone_import_begin,
                Op::zone_import_chunk,
                Op::zone_import_commit,
                Op::zone_import_abort,
                Op::zone_export_part,
                Op::zone_sign,
                Op::zone_unsign,
                Op::zone_keys,
                Op::zone_roll,
                Op::zone_ds_seen}) {
    Request r;
    r.op = op;
    auto decoded = decode_request_body(bytes(encode_request_body(r)));
    ASSERT_TRUE(decoded.ok()) << decoded.error();
    EXPECT_EQ(decoded->op, op) << op_name(op);
  }
}

TEST(ControlCodec, MembershipAndBackupRequestsRoundTrip) {
  for (Op op : {Op::member_list, Op::member_add, Op::member_promote, Op::member_remove,
                Op::leader_transfer, Op::backup}) {
    Request r;
    r.op = op;
    r.member = "n4";
    r.address = "127.0.0.1:7004";
    r.learner = true;
    r.backup_id = "0123abcd";
    r.offset = 8u << 20;
    r.chunk_bytes = 4096;
    r.local = true;
    auto decoded = decode_request_body(bytes(encode_request_body(r)));
    ASSERT_TRUE(decoded.ok()) << decoded.error();
    EXPECT_EQ(*decoded, r) << op_name(op);
  }
}

TEST(ControlCodec, SigningRequestsCarryAlgorithmOverridesRoleAndKeyTag) {
  Request sign;
  sign.op = Op::zone_sign;
  sign.zone = {7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0};
  sign.algorithm = 15;
  sign.nsec3_optout = true;
  sign.signing.validity = 60;
  sign.signing.refresh = 30;
  sign.signing.ksk_lifetime = 0;  // present and zero is not the same as absent
  auto decoded = decode_request_body(bytes(encode_request_body(sign)));
  ASSERT_TRUE(decoded.ok()) << decoded.error();
  EXPECT_EQ(*decoded, sign);
  ASSERT_TRUE(decoded->signing.ksk_lifetime.has_value());
  EXPECT_FALSE(decoded->signing.jitter.has_value());

  Request roll;
  roll.op = Op::zone_roll;
  roll.zone = sign.zone;
  roll.role = "ksk";
  Request seen;
  seen.op = Op::zone_ds_seen;
  seen.zone = sign.zone;
  seen.key_tag = 65535;
  for (const Request& r : {roll, seen}) {
    auto back = decode_request_body(bytes(encode_request_body(r)));
    ASSERT_TRUE(back.ok()) << back.error();
    EXPECT_EQ(*back, r) << op_name(r.op);
  }
}

TEST(ControlCodec, BadSigningOverridesAreRefusedNamingTheValue) {
  struct Case {
    const char* body;
    const char* names;
  } cases[] = {
      {R"({"v":1,"op":"zone_sign","signing":{"validity":-1}})", "validity"},
      {R"({"v":1,"op":"zone_sign","signing":{"refresh":4294967296}})", "refresh"},
      {R"({"v":1,"op":"zone_sign","signing":{"lifetime":5}})", "lifetime"},
      {R"({"v":1,"op":"zone_sign","signing":{"jitter":"1d"}})", "jitter"},
      {R"({"v":1,"op":"zone_sign","signing":[1]})", "signing"},
      {R"({"v":1,"op":"zone_sign","algorithm":256})", "algorithm"},
      {R"({"v":1,"op":"zone_sign","nsec3_optout":1})", "nsec3_optout"},
      {R"({"v":1,"op":"zone_ds_seen","key_tag":65536})", "key_tag"},
      {R"({"v":1,"op":"zone_roll","role":7})", "role"},
  };
  for (const auto& c : cases) {
    auto decoded = decode_request_body(bytes(c.body));
    ASSERT_FALSE(decoded.ok()) << c.body;
    EXPECT_NE(decoded.error().find(c.names), std::string::npos) << decoded.error();
  }
}

TEST(ControlCodec, ZoneKeysResponseRoundTripsAndRefusesAnUnknownRole) {
  Response r;
  r.keys = {{12345, 13, "KSK", "active", "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z", "", "",
             true, "example. 3600 IN DS 12345 13 2 ABCDEF"},
            {54321, 13, "ZSK", "retired", "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z",
             "2026-02-01T00:00:00Z", "", false, ""}};
  auto decoded = decode_response_body(bytes(encode_response_body(r)));
  ASSERT_TRUE(decoded.ok()) << decoded.error();
  EXPECT_EQ(*decoded, r);
  auto bad = decode_response_body(
      bytes(R"({"v":1,"ok":true,"keys":[{"tag":1,"algorithm":13,"role":"CSK"}]})"));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().find("role"), std::string::npos) << bad.error();
  EXPECT_FALSE(decode_response_body(bytes(R"({"v":1,"ok":true,"keys":[{"role":"KSK"}]})")).ok());
}

TEST(ControlCodec, MemberListAndBackupChunkResponsesRoundTrip) {
  Response r;
  r.members = {{"n1", "127.0.0.1:7001", true, false, true, true, 42, 42},
               {"n4", "[::1]:7004", false, true, false, false, 0, 0}};
  r.backup = BackupChunk{"0123abcd", 42, 3, 1000, 8, {0x00, 0xff, 0x10}};
  auto decoded = decode_response_body(bytes(encode_response_body(r)));
  ASSERT_TRUE(decoded.ok()) << decoded.error();
  EXPECT_EQ(*decoded, r);
  auto json = members_to_json(r.members);
  EXPECT_NE(json.find("\"role\":\"learner\""), std::string::npos) << json;
}

TEST(ControlCodec, ResponseWithStatusZonesAndLinesRoundTrips) {
  Response r;
  r.index = 42;
  r.zones = {{"example.com.", 2024010101, 12}};
  r.text = "example.com. 3600 IN SOA ...\n";
  r.lines = {"www.example.com. 300 IN A 192.0.2.10"};
  r.warnings = {"zone example.com.: 1 record lies below a zone cut or DNAME: x.sub.example.com."};
  r.status = StatusInfo{"0.1.0", "n1", 10, 1, 12, 99, 42, 0, "leader", std::nullopt,
                        {{"applied", 3}, {"prerequisite_failed", 1}}, 1, 20000, 2};
  r.cursor = {9, 8, 7};
  auto decoded = decode_response_body(bytes(encode_response_body(r)));
  ASSERT_TRUE(decoded.ok()) << decoded.error();
  EXPECT_EQ(*decoded, r);
}

TEST(ControlCodec, ClusterStateRoundTripsInStatusAndClusterStatus) {
  NodeInfo n;
  n.id = "n1";
  n.role = "leader";
  n.term = 7;
  n.leader = "n1";
  n.commit = 120;
  n.applied = 119;
  n.wal_bytes = 4096;
  n.snapshot_index = 100;
  n.digest = "0123456789abcdef";
  n.peers = {{"n2", true, 119, 1, 15}, {"n3", false, 0, 120, -1}};
  NodeInfo down;
  down.id = "n3";
  down.reachable = false;
  down.error = "no answer";
  Response r;
  r.status = StatusInfo{"0.1.0", "n1", 10, 1, 12, 99, 119, 7, "leader", n, {}};
  r.nodes = {n, down};
  auto decoded = decode_response_body(bytes(encode_response_body(r)));
  ASSERT_TRUE(decoded.ok()) << decoded.error();
  EXPECT_EQ(*decoded, r);
  ASSERT_TRUE(decoded->status->cluster);
  EXPECT_EQ(decoded->status->cluster->peers[1].last_heard_ms, -1);
  EXPECT_FALSE(decoded->nodes[1].reachable);
}

TEST(ControlCodec, ErrorResponseCarriesItsMessage) {
  auto decoded =
      decode_response_body(bytes(encode_response_body(Response::failure("no such zone x."))));
  ASSERT_TRUE(decoded.ok());
  EXPECT_FALSE(decoded->ok);
  EXPECT_EQ(decoded->error, "no such zone x.");
}

TEST(ControlCodec, VersionMismatchIsRefusedNamingBothVersions) {
  auto decoded = decode_request_body(bytes(R"({"v":2,"op":"status"})"));
  ASSERT_FALSE(decoded.ok());
  EXPECT_NE(decoded.error().find("version 2"), std::string::npos) << decoded.error();
  EXPECT_NE(decoded.error().find("speaks 1"), std::string::npos) << decoded.error();
}

TEST(ControlCodec, MissingVersionIsRefused) {
  EXPECT_FALSE(decode_request_body(bytes(R"({"op":"status"})")).ok());
  EXPECT_FALSE(decode_request_body(bytes(R"({"v":"1","op":"status"})")).ok());
}

TEST(ControlCodec, GarbledBodiesAreRefusedWithAReason) {
  const char* bad[] = {
      "",
      "not json",
      "[1,2,3]",
      R"({"v":1})",
      R"({"v":1,"op":"explode"})",
      R"({"v":1,"op":"add","records":{}})",
      R"({"v":1,"op":"add","records":[{"type":1,"owner":"zz"}]})",
      R"({"v":1,"op":"add","records":[{"type":70000}]})",
      R"({"v":1,"op":"add","records":[{"owner":"00"}]})",
      R"({"v":1,"op":"get","type":-1})",
      R"({"v":1,"op":"get","owner":"abc"})",
      R"({"v":1,"op":"batch","changes":[{"op":"zone_put"}]})",
      R"({"v":1,"op":"batch","changes":[5]})",
      R"({"v":1,"op":"add","wait":"some"})",
      R"({"v":1,"op":"status","timeout_ms":1.5})",
      "{\"v\":1,\"op\":\"status\"",
  };
  for (const char* body : bad) {
    auto decoded = decode_request_body(bytes(body));
    EXPECT_FALSE(decoded.ok()) << body;
    if (!decoded.ok()) {
      EXPECT_FALSE(decoded.error().empty()) << body;
    }
  }
}

TEST(ControlCodec, DeepNestingIsRefusedBeforeParsing) {
  std::string deep =
      R"({"v":1,"op":"status","x":)" + std::string(100000, '[') + std::string(100000, ']') + "}";
  auto decoded = decode_request_body(bytes(deep));
  ASSERT_FALSE(decoded.ok());
  EXPECT_NE(decoded.error().find("nests"), std::string::npos);
}

TEST(ControlFraming, FramesSplitAcrossReadsAreReassembledInOrder) {
  std::string stream = frame("first") + frame("") + frame("third body");
  FrameReader reader;
  std::vector<std::string> bodies;
  for (char c : stream) {
    uint8_t b = static_cast<uint8_t>(c);
    reader.feed({&b, 1});
    while (auto body = reader.next()) bodies.push_back(*body);
  }
  EXPECT_EQ(bodies, (std::vector<std::string>{"first", "", "third body"}));
  EXPECT_EQ(reader.buffered(), 0u);
}

TEST(ControlFraming, LengthPrefixIsBigEndian) {
  std::string f = frame(std::string(258, 'x'));
  ASSERT_EQ(f.size(), 262u);
  EXPECT_EQ(static_cast<uint8_t>(f[0]), 0);
  EXPECT_EQ(static_cast<uint8_t>(f[1]), 0);
  EXPECT_EQ(static_cast<uint8_t>(f[2]), 1);
  EXPECT_EQ(static_cast<uint8_t>(f[3]), 2);
}

TEST(ControlFraming, OversizedFrameIsRefusedWithoutBufferingItsBody) {
  FrameReader reader;
  const uint8_t header[] = {0x04, 0x00, 0x00, 0x01};  // 64 MiB + 1
  reader.feed(header);
  EXPECT_FALSE(reader.next().has_value());
  EXPECT_TRUE(reader.oversized());
  EXPECT_EQ(reader.announced_size(), kMaxFrameSize + 1);
  std::string more(1000, 'x');
  reader.feed(bytes(more));
  EXPECT_FALSE(reader.next().has_value());
  EXPECT_EQ(reader.buffered(), 0u);
}

TEST(ControlFraming, FrameAtTheLimitIsAccepted) {
  FrameReader reader(16);
  std::string f = frame(std::string(16, 'a'));
  reader.feed(bytes(f));
  auto body = reader.next();
  ASSERT_TRUE(body.has_value());
  EXPECT_EQ(body->size(), 16u);
  EXPECT_FALSE(reader.oversized());
}

TEST(ControlHex, RejectsOddLengthAndNonHexDigits) {
  EXPECT_FALSE(from_hex("abc").has_value());
  EXPECT_FALSE(from_hex("zz").has_value());
  auto ok = from_hex("00Ff");
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(*ok, (std::vector<uint8_t>{0x00, 0xff}));
  EXPECT_EQ(to_hex(*ok), "00ff");
}

TEST(ControlClient, MissingSocketIsAOneLineErrorNamingThePath) {
  Request r;
  auto result = call("/nonexistent/raftdns-test.sock", r, 500);
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.error().find("/nonexistent/raftdns-test.sock"), std::string::npos);
  EXPECT_EQ(result.error().find('\n'), std::string::npos);
}

}  // namespace
}  // namespace raftdns::control
