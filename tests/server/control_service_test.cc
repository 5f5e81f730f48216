// Control service over a real store: writes go through the single-node
// proposer, refused writes change nothing, reads see applied writes.
#include <gtest/gtest.h>

#include <event2/event.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <string>
#include <thread>

#include "daemon/control/protocol.h"
#include "daemon/dnssec/key.h"
#include "daemon/server/control_service.h"
#include "daemon/server/proposer.h"
#include "daemon/store/signing.h"
#include "daemon/store/store.h"
#include "daemon/wire/name.h"
#include "daemon/zone/zone.h"

namespace raftdns::server {
namespace {

constexpr const char* kZone = R"($ORIGIN example.com.
$TTL 300
@    IN SOA ns1 hostmaster 2024010101 3600 600 86400 300
@    IN NS  ns1
ns1  IN A   192.0.2.1
www  IN A   192.0.2.10
)";

std::vector<uint8_t> wire_name(const char* text) {
  auto n = wire::Name::from_text(text);
  auto w = n->wire();
  return {w.begin(), w.end()};
}

// Applies each command at the next index, as the cluster's apply would, and
// answers with the apply's verdict (a refused command changes no data).
class ApplyingProposer final : public Proposer {
 public:
  explicit ApplyingProposer(store::Store& store)
      : store_(store), last_index_(store.stats().applied_index) {}
  void submit(store::Command command, const ProposalOptions&, Callback done) override {
    submitted.push_back(command);
    std::vector<uint8_t> encoded = store::encode_command(command);
    store::ApplyItem item{++last_index_, 1, encoded};
    std::vector<Status> outcomes;
    if (Status s = store_.apply({&item, 1}, &outcomes); !s) return done(std::move(s), 0);
    done(outcomes.empty() ? Status{} : std::move(outcomes.front()), item.index);
  }

  std::vector<store::Command> submitted;  // every command, in order

 private:
  store::Store& store_;
  uint64_t last_index_;
};

control::WireRecord record(const char* line) {
  auto rr = zone::parse_record(line);
  EXPECT_TRUE(rr.ok()) << rr.error();
  auto owner = rr->owner.wire();
  return {{owner.begin(), owner.end()}, rr->type, rr->rclass, rr->ttl, rr->rdata};
}

class ControlServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/raftdns-control-service-" + std::to_string(getpid());
    std::filesystem::remove_all(dir_);
    open();
  }
  void TearDown() override {
    service_.reset();
    proposer_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  void open() {
    service_.reset();
    proposer_.reset();
    store_.reset();
    auto s = store::Store::open(dir_);
    ASSERT_TRUE(s.ok()) << s.error();
    store_ = std::move(*s);
    proposer_ = std::make_unique<ApplyingProposer>(*store_);
    service_ = std::make_unique<ControlService>(*store_, *proposer_, [] {
      control::StatusInfo s;
      s.role = "single";
      return s;
    });
  }
  ApplyingProposer& proposer() { return *proposer_; }
  control::Response call(const control::Request& r) {
    control::Response out;
    bool answered = false;
    service_->handle(r, [&](control::Response resp) {
      out = std::move(resp);
      answered = true;
    });
    EXPECT_TRUE(answered) << "single-node requests answer synchronously";
    return out;
  }
  control::Response put_zone() {
    auto origin = wire::Name::from_text("example.com.");
    auto parsed = zone::load_zone_text(kZone, *origin);
    EXPECT_TRUE(parsed.ok()) << parsed.error();
    control::Request r;
    r.op = control::Op::zone_put;
    r.zone = wire_name("example.com.");
    for (const auto& rr : parsed->records) {
      auto owner = rr.owner.wire();
      r.records.push_back({{owner.begin(), owner.end()}, rr.type, rr.rclass, rr.ttl, rr.rdata});
    }
    return call(r);
  }

  std::string dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<ApplyingProposer> proposer_;
  std::unique_ptr<ControlService> service_;
};

TEST_F(ControlServiceTest, AddedRecordIsVisibleToGetAtTheReturnedIndex) {
  ASSERT_TRUE(put_zone().ok);
  control::Request add;
  add.op = control::Op::add;
  add.records = {record("mail.example.com. 600 IN A 192.0.2.25")};
  control::Response added = call(add);
  ASSERT_TRUE(added.ok) << added.error;
  EXPECT_EQ(added.index, 2u);
  EXPECT_EQ(store_->stats().applied_index, 2u);

  control::Request get;
  get.op = control::Op::get;
  get.owner = wire_name("mail.example.com.");
  control::Response got = call(get);
  ASSERT_TRUE(got.ok) << got.error;
  ASSERT_EQ(got.lines.size(), 1u);
  EXPECT_NE(got.lines[0].find("192.0.2.25"), std::string::npos) << got.lines[0];
}

TEST_F(ControlServiceTest, RecordOutsideEveryZoneIsRefusedAndNothingIsApplied) {
  ASSERT_TRUE(put_zone().ok);
  const std::string before = store_->digest();
  control::Request add;
  add.op = control::Op::add;
  add.records = {record("www.other.org. 300 IN A 192.0.2.1")};
  control::Response r = call(add);
  EXPECT_FALSE(r.ok);
  EXPECT_FALSE(r.error.empty());
  EXPECT_EQ(store_->digest(), before);
}

TEST_F(ControlServiceTest, ZoneWithoutSoaIsRefusedBeforeProposing) {
  control::Request r;
  r.op = control::Op::zone_put;
  r.zone = wire_name("example.net.");
  r.records = {record("www.example.net. 300 IN A 192.0.2.1")};
  control::Response resp = call(r);
  EXPECT_FALSE(resp.ok);
  EXPECT_NE(resp.error.find("example.net."), std::string::npos) << resp.error;
  EXPECT_EQ(store_->stats().zones, 0u);
}

TEST_F(ControlServiceTest, ZoneListAndExportShowTheImportedZone) {
  ASSERT_TRUE(put_zone().ok);
  control::Request list;
  list.op = control::Op::zone_list;
  control::Response zones = call(list);
  ASSERT_EQ(zones.zones.size(), 1u);
  EXPECT_EQ(zones.zones[0].name, "example.com.");
  EXPECT_EQ(zones.zones[0].records, 4u);

  control::Request exp;
  exp.op = control::Op::zone_export;
  exp.zone = wire_name("example.com.");
  control::Response text = call(exp);
  ASSERT_TRUE(text.ok) << text.error;
  auto reparsed = zone::load_zone_text(text.text, *wire::Name::from_text("example.com."));
  ASSERT_TRUE(reparsed.ok()) << reparsed.error();
  EXPECT_EQ(reparsed->records.size(), 4u);
}

TEST_F(ControlServiceTest, AStreamedImportReplacesTheZoneOnlyAtItsCommit) {
  ASSERT_TRUE(put_zone().ok);
  control::Request begin;
  begin.op = control::Op::zone_import_begin;
  begin.zone = wire_name("example.com.");
  begin.import_id = 77;
  ASSERT_TRUE(call(begin).ok);
  control::Request chunk;
  chunk.op = control::Op::zone_import_chunk;
  chunk.import_id = 77;
  chunk.records = {record("example.com. 300 IN SOA ns1.example.com. h.example.com. 5 1 1 1 1"),
                   record("example.com. 300 IN NS ns1.example.com."),
                   record("ns1.example.com. 300 IN A 192.0.2.1")};
  ASSERT_TRUE(call(chunk).ok);
  chunk.sequence = 1;
  chunk.records = {record("new.example.com. 300 IN A 192.0.2.99")};
  ASSERT_TRUE(call(chunk).ok);
  EXPECT_EQ(store_->zones().at(0).serial, 2024010101u);  // staged, not served
  EXPECT_EQ(store_->stats().staged_records, 4u);

  control::Request commit;
  commit.op = control::Op::zone_import_commit;
  commit.import_id = 77;
  commit.sequence = 2;
  control::Response done = call(commit);
  ASSERT_TRUE(done.ok) << done.error;
  EXPECT_EQ(store_->zones().at(0).records, 4u);
  EXPECT_FALSE(store_->get(*wire::Name::from_text("new.example.com."), 1).empty());
  EXPECT_TRUE(store_->get(*wire::Name::from_text("www.example.com."), 1).empty());
}

TEST_F(ControlServiceTest, AnImportChunkAboveTheLimitIsRefusedBeforeProposing) {
  control::Request chunk;
  chunk.op = control::Op::zone_import_chunk;
  chunk.import_id = 1;
  chunk.records.assign(control::kMaxImportChunkRecords + 1,
                       record("a.example.com. 300 IN A 192.0.2.1"));
  control::Response r = call(chunk);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("at most"), std::string::npos) << r.error;
  EXPECT_EQ(store_->stats().applied_index, 0u);
}

TEST_F(ControlServiceTest, ExportPartsJoinToTheWholeZone) {
  ASSERT_TRUE(put_zone().ok);
  control::Request part;
  part.op = control::Op::zone_export_part;
  part.zone = wire_name("example.com.");
  control::Response r = call(part);
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_TRUE(r.cursor.empty()) << "a 4-record zone fits in one part";
  EXPECT_EQ(r.text.rfind("$ORIGIN example.com.\n", 0), 0u) << r.text;
  auto reparsed = zone::load_zone_text(r.text, *wire::Name::from_text("example.com."));
  ASSERT_TRUE(reparsed.ok()) << reparsed.error();
  EXPECT_EQ(reparsed->records.size(), 4u);
}

TEST_F(ControlServiceTest, BatchWithOneBadChangeAppliesNothing) {
  ASSERT_TRUE(put_zone().ok);
  const std::string before = store_->digest();
  control::Request batch;
  batch.op = control::Op::batch;
  batch.changes.push_back({control::Op::add, {record("a.example.com. 300 IN A 192.0.2.2")}, {}, 0});
  batch.changes.push_back({control::Op::add, {record("b.example.org. 300 IN A 192.0.2.3")}, {}, 0});
  control::Response r = call(batch);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(store_->digest(), before);
}

TEST_F(ControlServiceTest, RemoveRRsetWithoutTypeIsRefused) {
  control::Request r;
  r.op = control::Op::remove_rrset;
  r.owner = wire_name("www.example.com.");
  control::Response resp = call(r);
  EXPECT_FALSE(resp.ok);
  EXPECT_NE(resp.error.find("type"), std::string::npos);
}

TEST_F(ControlServiceTest, MalformedOwnerNameIsRefusedWithAReason) {
  control::Request r;
  r.op = control::Op::get;
  r.owner = {5, 'a', 'b'};  // label runs past the end
  control::Response resp = call(r);
  EXPECT_FALSE(resp.ok);
  EXPECT_FALSE(resp.error.empty());
}

TEST_F(ControlServiceTest, LocalIndexContinuesAfterRestart) {
  ASSERT_TRUE(put_zone().ok);
  open();
  control::Request add;
  add.op = control::Op::add;
  add.records = {record("x.example.com. 300 IN A 192.0.2.9")};
  control::Response r = call(add);
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.index, 2u);
}

}  // namespace
}  // namespace raftdns::server

namespace raftdns::server {
namespace {

control::Request signing_request(control::Op op, const char* zone = "example.com.") {
  control::Request r;
  r.op = op;
  r.zone = wire_name(zone);
  return r;
}

TEST_F(ControlServiceTest, SigningStepsOnAMissingZoneAreRefusedNamingItBeforeProposing) {
  for (control::Op op : {control::Op::zone_sign, control::Op::zone_unsign, control::Op::zone_keys,
                         control::Op::zone_roll, control::Op::zone_ds_seen}) {
    auto r = call(signing_request(op, "nowhere.example."));
    EXPECT_FALSE(r.ok) << control::op_name(op);
    EXPECT_EQ(r.error, "zone nowhere.example. does not exist") << control::op_name(op);
  }
  EXPECT_TRUE(proposer().submitted.empty());
}

TEST_F(ControlServiceTest, StepsOfAnUnsignedZoneAreRefusedNamingIt) {
  ASSERT_TRUE(put_zone().ok);
  const size_t before = proposer().submitted.size();
  for (control::Op op : {control::Op::zone_unsign, control::Op::zone_keys, control::Op::zone_roll,
                         control::Op::zone_ds_seen}) {
    auto req = signing_request(op);
    req.role = "zsk";
    auto r = call(req);
    EXPECT_FALSE(r.ok) << control::op_name(op);
    EXPECT_EQ(r.error, "zone example.com. is not signed online") << control::op_name(op);
  }
  EXPECT_EQ(proposer().submitted.size(), before);
}

TEST_F(ControlServiceTest, ZoneSignProposesTheDefaultsWithTheOverridesAndAFreshKskAndZsk) {
  ASSERT_TRUE(put_zone().ok);
  store::SigningParams defaults;
  defaults.publish_wait = 7200;
  defaults.zsk_lifetime = 40 * 86400;
  service_->set_signing_defaults(defaults);
  service_->set_clock([] { return uint32_t{1800000000}; });
  auto req = signing_request(control::Op::zone_sign);
  req.algorithm = 15;
  req.nsec3_optout = true;
  req.signing.validity = 600;
  req.signing.refresh = 300;
  req.signing.jitter = 60;
  req.signing.dnskey_ttl = 60;
  req.signing.publish_wait = 120;
  req.signing.ksk_lifetime = 0;
  call(req);  // the apply's verdict is the store's business
  ASSERT_FALSE(proposer().submitted.empty());
  const auto* sign = std::get_if<store::ZoneSigning>(&proposer().submitted.back());
  ASSERT_NE(sign, nullptr);
  EXPECT_EQ(sign->action, store::ZoneSigning::Action::sign);
  EXPECT_EQ(sign->zone.to_text(), "example.com.");
  EXPECT_EQ(sign->now, 1800000000u);
  store::SigningParams want = defaults;
  want.algorithm = 15;
  want.nsec3_optout = true;
  want.validity = 600;
  want.refresh = 300;
  want.jitter = 60;
  want.dnskey_ttl = 60;
  want.publish_wait = 120;
  EXPECT_EQ(sign->params, want);
  ASSERT_EQ(sign->keys.size(), 2u);
  EXPECT_EQ(sign->keys[0].flags, dnssec::kKskFlags);
  EXPECT_EQ(sign->keys[1].flags, dnssec::kZskFlags);
  for (const store::NewKey& k : sign->keys) {
    EXPECT_EQ(k.algorithm, 15);
    EXPECT_EQ(k.private_key.size(), 32u);
  }
  EXPECT_NE(sign->keys[0].private_key, sign->keys[1].private_key);
}

TEST_F(ControlServiceTest, ZoneSignRefusesABadPolicyNamingTheValueBeforeProposing) {
  ASSERT_TRUE(put_zone().ok);
  const size_t before = proposer().submitted.size();
  struct Case {
    uint32_t validity, refresh, jitter;
    const char* error;
  } cases[] = {
      {600, 50, 60, "zone example.com.: --jitter (1m) must be shorter than --refresh (50s)"},
      {60, 50, 10,
       "zone example.com.: --validity (1m) must be longer than --refresh (50s) plus "
       "--jitter (10s)"},
      {0, 50, 10, "zone example.com.: --validity must be more than 0"},
  };
  for (const Case& c : cases) {
    auto req = signing_request(control::Op::zone_sign);
    req.signing.validity = c.validity;
    req.signing.refresh = c.refresh;
    req.signing.jitter = c.jitter;
    auto r = call(req);
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.error.substr(0, std::string(c.error).size()), c.error) << r.error;
  }
  auto req = signing_request(control::Op::zone_sign);
  req.algorithm = 8;
  auto r = call(req);
  EXPECT_EQ(r.error.rfind("zone example.com.: --algorithm 8 is not supported", 0), 0u) << r.error;
  EXPECT_EQ(proposer().submitted.size(), before);
}

}  // namespace
}  // namespace raftdns::server

namespace raftdns::server {
namespace {

// A signed example.com. through the service, with a short policy.
class SignedZoneTest : public ControlServiceTest {
 protected:
  void SetUp() override {
    ControlServiceTest::SetUp();
    ASSERT_TRUE(put_zone().ok);
    service_->set_clock([this] { return now_; });
    auto req = signing_request(control::Op::zone_sign);
    req.signing.dnskey_ttl = 300;
    req.signing.publish_wait = 600;
    req.signing.zsk_lifetime = 86400;
    auto r = call(req);
    ASSERT_TRUE(r.ok) << r.error;
  }
  uint32_t now_ = 1800000000;
};

TEST_F(SignedZoneTest, ZoneKeysListsAKskAndAZskAndTheKsksDsButNoPrivateKey) {
  auto r = call(signing_request(control::Op::zone_keys));
  ASSERT_TRUE(r.ok) << r.error;
  ASSERT_EQ(r.keys.size(), 2u);
  auto info = store_->signing(*wire::Name::from_text("example.com."));
  ASSERT_TRUE(info.has_value());
  for (size_t i = 0; i < 2; ++i) {
    const control::SigningKey& k = r.keys[i];
    const store::SigningKeyInfo& stored = info->keys[i];
    EXPECT_EQ(k.tag, stored.tag);
    EXPECT_EQ(k.algorithm, 13);
    EXPECT_EQ(k.state, "active");
    EXPECT_EQ(k.published, "2027-01-15T08:00:00Z");
    EXPECT_EQ(k.active, "2027-01-15T08:00:00Z");
    EXPECT_EQ(k.retired, "");
    if (k.role == "KSK") {
      // The DS the parent needs: SHA-256 of the KSK at the DNSKEY TTL.
      // Read back as a master-file record, it is the DS of the stored key.
      auto ds = zone::parse_record(k.ds);
      ASSERT_TRUE(ds.ok()) << ds.error();
      EXPECT_EQ(ds->owner, info->zone);
      EXPECT_EQ(ds->type, wire::rrtype::DS);
      EXPECT_EQ(ds->ttl, 300u);
      EXPECT_EQ(ds->rdata, dnssec::ds_rdata(info->zone, stored.dnskey));
      EXPECT_EQ(k.ds.rfind("example.com. 300 IN DS " + std::to_string(k.tag) + " 13 2 ", 0), 0u)
          << k.ds;
    } else {
      EXPECT_EQ(k.role, "ZSK");
      EXPECT_EQ(k.ds, "");
    }
  }
  EXPECT_NE(r.keys[0].role, r.keys[1].role);
  // The private halves went into the command; none is in the reply.
  const auto* sign = std::get_if<store::ZoneSigning>(&proposer().submitted.back());
  ASSERT_NE(sign, nullptr);
  const std::string body = control::encode_response_body(r);
  for (const store::NewKey& k : sign->keys) {
    EXPECT_EQ(body.find(control::to_hex(k.private_key)), std::string::npos);
  }
}

TEST_F(SignedZoneTest, SigningTwiceRollingABadRoleAndAnUnknownTagAreRefusedNamingTheZone) {
  const size_t before = proposer().submitted.size();
  auto again = call(signing_request(control::Op::zone_sign));
  EXPECT_EQ(again.error, "zone example.com. is already signed online");
  auto roll = signing_request(control::Op::zone_roll);
  roll.role = "csk";
  EXPECT_EQ(call(roll).error,
            "zone example.com.: the key to roll is \"ksk\" or \"zsk\", not \"csk\"");
  auto seen = signing_request(control::Op::zone_ds_seen);
  auto keys = call(signing_request(control::Op::zone_keys)).keys;
  for (const auto& k : keys) {
    if (k.role == "ZSK") seen.key_tag = k.tag;  // a ZSK's tag is not a KSK's
  }
  EXPECT_EQ(call(seen).error,
            "zone example.com. has no KSK with tag " + std::to_string(seen.key_tag));
  EXPECT_EQ(proposer().submitted.size(), before);
}

TEST_F(SignedZoneTest, ARollProposesOneKeyOfTheRoleAndUnsignForgetsTheKeys) {
  now_ += 60;
  auto roll = signing_request(control::Op::zone_roll);
  roll.role = "ksk";
  auto r = call(roll);
  ASSERT_TRUE(r.ok) << r.error;
  const auto* cmd = std::get_if<store::ZoneSigning>(&proposer().submitted.back());
  ASSERT_NE(cmd, nullptr);
  EXPECT_EQ(cmd->action, store::ZoneSigning::Action::roll);
  EXPECT_EQ(cmd->now, now_);
  ASSERT_EQ(cmd->keys.size(), 1u);
  EXPECT_EQ(cmd->keys[0].flags, dnssec::kKskFlags);
  EXPECT_EQ(call(signing_request(control::Op::zone_keys)).keys.size(), 3u);

  ASSERT_TRUE(call(signing_request(control::Op::zone_unsign)).ok);
  EXPECT_FALSE(store_->signing(*wire::Name::from_text("example.com.")).has_value());
  EXPECT_EQ(call(signing_request(control::Op::zone_keys)).error,
            "zone example.com. is not signed online");
}

// Holds every proposal until the test completes it.
class DeferringProposer final : public Proposer {
 public:
  void submit(store::Command command, const ProposalOptions&, Callback done) override {
    held.emplace_back(std::move(command), std::move(done));
  }
  std::vector<std::pair<store::Command, Callback>> held;
};

// One connection may have several requests in flight: the listener reads
// ahead of its answers (a streamed import keeps chunks in flight this way),
// proposes writes in the order sent, and answers in that order, whatever
// order the writes finish in.
TEST(ControlListenerTest, PipelinedRequestsAreProposedInOrderAndAnsweredInOrder) {
  const std::string dir = ::testing::TempDir() + "/raftdns-control-pipeline-" +
                          std::to_string(getpid());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  auto store = store::Store::open(dir + "/store");
  ASSERT_TRUE(store.ok()) << store.error();
  DeferringProposer proposer;
  ControlService service(**store, proposer, [] {
    control::StatusInfo s;
    s.role = "single";
    return s;
  });
  event_base* base = event_base_new();
  ASSERT_NE(base, nullptr);
  {
    ControlListener listener(base, service);
    const std::string socket = dir + "/control.sock";
    ASSERT_TRUE(listener.open(socket, ""));

    // Three writes with a read between them: as many as the daemon reads ahead.
    std::vector<control::Request> requests;
    for (uint64_t id : {1, 2, 0, 3}) {
      control::Request r;
      if (id == 0) {
        r.op = control::Op::status;
      } else {
        r.op = control::Op::zone_import_begin;
        r.zone = wire_name("example.com.");
        r.import_id = id;
        r.timeout_ms = 10000;
      }
      requests.push_back(r);
    }
    static_assert(control::kMaxPipelinedRequests == 4);
    std::vector<control::Response> answers;
    std::string client_error;
    std::atomic<bool> client_done{false};
    std::thread client([&] {
      auto conn = control::Connection::open(socket, 5000);
      if (!conn) {
        client_error = conn.error();
      } else {
        for (const auto& r : requests) {
          if (auto s = conn->send(r, 5000); !s) client_error = s.error();
        }
        for (size_t i = 0; i < requests.size() && client_error.empty(); ++i) {
          auto a = conn->receive(10000);
          if (!a) {
            client_error = a.error();
          } else {
            answers.push_back(*a);
          }
        }
      }
      client_done = true;
    });
    auto run_until = [&](auto done, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
      const auto deadline = std::chrono::steady_clock::now() + limit;
      while (!done() && std::chrono::steady_clock::now() < deadline) {
        event_base_loop(base, EVLOOP_NONBLOCK);
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    };
    // All three writes are proposed, in the order sent, before any is answered.
    run_until([&] { return proposer.held.size() == 3 || client_done; });
    ASSERT_EQ(proposer.held.size(), 3u) << client_error;
    for (size_t i = 0; i < 3; ++i) {
      const auto* begin = std::get_if<store::ImportBegin>(&proposer.held[i].first);
      ASSERT_NE(begin, nullptr);
      EXPECT_EQ(begin->id, std::vector<uint64_t>({1, 2, 3})[i]);
    }
    EXPECT_TRUE(answers.empty());
    // They finish last first; the second is refused.
    proposer.held[2].second(Status{}, 13);
    proposer.held[1].second(make_error("refused for the test"), 0);
    run_until([&] { return client_done.load(); }, std::chrono::milliseconds(300));
    EXPECT_FALSE(client_done) << "answered before the first write finished";
    proposer.held[0].second(Status{}, 11);
    run_until([&] { return client_done.load(); });
    client.join();
    ASSERT_TRUE(client_error.empty()) << client_error;
    ASSERT_EQ(answers.size(), 4u);
    EXPECT_TRUE(answers[0].ok);
    EXPECT_EQ(answers[0].index, 11u);
    EXPECT_FALSE(answers[1].ok);
    EXPECT_EQ(answers[1].error, "refused for the test");
    ASSERT_TRUE(answers[2].status.has_value());
    EXPECT_EQ(answers[2].status->role, "single");
    EXPECT_TRUE(answers[3].ok);
    EXPECT_EQ(answers[3].index, 13u);
  }
  event_base_free(base);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace raftdns::server
