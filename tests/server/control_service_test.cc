// Control service over a real store: writes go through the single-node
// proposer, refused writes change nothing, reads see applied writes.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <string>

#include "daemon/control/protocol.h"
#include "daemon/server/control_service.h"
#include "daemon/server/proposer.h"
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
    std::vector<uint8_t> encoded = store::encode_command(command);
    store::ApplyItem item{++last_index_, 1, encoded};
    std::vector<Status> outcomes;
    if (Status s = store_.apply({&item, 1}, &outcomes); !s) return done(std::move(s), 0);
    done(outcomes.empty() ? Status{} : std::move(outcomes.front()), item.index);
  }

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
