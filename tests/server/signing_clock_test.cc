// The leader's signing clock over a real store: one tick per signed zone
// and round, only on the leader, never two in flight for a zone, a fresh
// key exactly when a rollover is due, and a failed tick retried.
#include <gtest/gtest.h>

#include <event2/event.h>
#include <unistd.h>

#include <filesystem>
#include <set>
#include <string>

#include "common/libevent.h"
#include "daemon/dnssec/key.h"
#include "daemon/server/proposer.h"
#include "daemon/server/signing_clock.h"
#include "daemon/store/signing.h"
#include "daemon/store/store.h"
#include "daemon/zone/zone.h"

namespace raftdns::server {
namespace {

constexpr const char* kZone = R"($TTL 300
@    IN SOA ns1 hostmaster 1 3600 600 86400 300
@    IN NS  ns1
ns1  IN A   192.0.2.1
www  IN A   192.0.2.10
)";

// Holds each proposal until the test lets it apply (as the log would) or
// fail (as a lost leadership would).
class HeldProposer final : public Proposer {
 public:
  explicit HeldProposer(store::Store& store) : store_(store), index_(store.stats().applied_index) {}
  void submit(store::Command command, const ProposalOptions&, Callback done) override {
    held.push_back({std::move(command), std::move(done)});
  }
  Status apply(const store::Command& command) {
    std::vector<uint8_t> encoded = store::encode_command(command);
    store::ApplyItem item{++index_, 1, encoded};
    std::vector<Status> outcomes;
    if (Status s = store_.apply({&item, 1}, &outcomes); !s) return s;
    return outcomes.empty() ? Status{} : std::move(outcomes.front());
  }
  // Applies (or fails) the oldest held proposal and answers it.
  Status release(bool fail = false) {
    auto [command, done] = std::move(held.front());
    held.erase(held.begin());
    Status s = fail ? Status{make_error("not the leader")} : apply(command);
    done(s, index_);
    return s;
  }
  std::vector<std::pair<store::Command, Callback>> held;

 private:
  store::Store& store_;
  uint64_t index_;
};

class SigningClockTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/raftdns-signing-clock-" + std::to_string(getpid());
    std::filesystem::remove_all(dir_);
    auto s = store::Store::open(dir_);
    ASSERT_TRUE(s.ok()) << s.error();
    store_ = std::move(*s);
    proposer_ = std::make_unique<HeldProposer>(*store_);
    base_.reset(event_base_new());
    clock_ = std::make_unique<SigningClock>(
        base_.get(), *store_, *proposer_, std::chrono::seconds(60), [this] { return leader_; },
        [this] { return now_; });
    ASSERT_TRUE(clock_->start().ok());
  }
  void TearDown() override {
    clock_.reset();
    proposer_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  void sign(const char* apex, uint32_t zsk_lifetime, size_t extra_names = 0) {
    auto origin = wire::Name::from_text(apex);
    std::string text = kZone;
    for (size_t i = 0; i < extra_names; ++i) {
      text += "h" + std::to_string(i) + " IN A 192.0.2." + std::to_string(i % 250 + 1) + "\n";
    }
    auto parsed = zone::load_zone_text(text, *origin);
    ASSERT_TRUE(parsed.ok()) << parsed.error();
    ASSERT_TRUE(proposer_->apply(store::PutZone{*origin, parsed->records}).ok());
    store::ZoneSigning sign;
    sign.action = store::ZoneSigning::Action::sign;
    sign.zone = *origin;
    sign.now = now_;
    sign.params.dnskey_ttl = 60;
    sign.params.publish_wait = 60;
    sign.params.zsk_lifetime = zsk_lifetime;
    for (uint16_t flags : {dnssec::kKskFlags, dnssec::kZskFlags}) {
      auto key = store::make_new_key(13, flags);
      ASSERT_TRUE(key.ok()) << key.error();
      sign.keys.push_back(std::move(*key));
    }
    Status s = proposer_->apply(sign);
    ASSERT_TRUE(s.ok()) << s.error();
  }
  const store::ZoneSigning& held(size_t i) {
    return std::get<store::ZoneSigning>(proposer_->held.at(i).first);
  }

  std::string dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<HeldProposer> proposer_;
  EventBasePtr base_;
  std::unique_ptr<SigningClock> clock_;
  bool leader_ = true;
  uint32_t now_ = 1800000000;
};

TEST_F(SigningClockTest, TheLeaderTicksEverySignedZoneWithItsTimeAndNoKeyWhenNoneIsDue) {
  sign("example.com.", 86400);
  sign("example.net.", 86400);
  now_ += 60;
  clock_->tick_all();
  ASSERT_EQ(proposer_->held.size(), 2u);
  std::set<std::string> zones;
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(held(i).action, store::ZoneSigning::Action::tick);
    EXPECT_EQ(held(i).now, now_);
    EXPECT_TRUE(held(i).keys.empty());
    zones.insert(held(i).zone.to_text());
  }
  EXPECT_EQ(zones, (std::set<std::string>{"example.com.", "example.net."}));
  EXPECT_TRUE(proposer_->release().ok());
  EXPECT_TRUE(proposer_->release().ok());
  EXPECT_EQ(store_->signing(*wire::Name::from_text("example.com."))->clock, now_);
}

TEST_F(SigningClockTest, AFollowerProposesNothing) {
  sign("example.com.", 86400);
  leader_ = false;
  clock_->tick_all();
  EXPECT_TRUE(proposer_->held.empty());
}

TEST_F(SigningClockTest, AZoneWithATickInFlightGetsNoSecondUntilItIsAnswered) {
  sign("example.com.", 86400);
  clock_->tick_all();
  clock_->tick_all();
  EXPECT_EQ(proposer_->held.size(), 1u);
  EXPECT_EQ(clock_->in_flight(), 1u);
  // A failed tick (a lost leadership) is retried on the next round.
  EXPECT_FALSE(proposer_->release(/*fail=*/true).ok());
  EXPECT_EQ(clock_->in_flight(), 0u);
  clock_->tick_all();
  EXPECT_EQ(proposer_->held.size(), 1u);
}

TEST_F(SigningClockTest, ATickCarriesANewZskOnceTheActiveOneHasLivedItsLifetime) {
  sign("example.com.", 3600);
  now_ += 3599;
  clock_->tick_all();
  ASSERT_EQ(proposer_->held.size(), 1u);
  EXPECT_TRUE(held(0).keys.empty());
  ASSERT_TRUE(proposer_->release().ok());
  now_ += 1;
  clock_->tick_all();
  ASSERT_EQ(proposer_->held.size(), 1u);
  ASSERT_EQ(held(0).keys.size(), 1u);
  EXPECT_EQ(held(0).keys[0].flags, dnssec::kZskFlags);
  EXPECT_EQ(held(0).keys[0].algorithm, 13);
  ASSERT_TRUE(proposer_->release().ok());
  // The new ZSK is published: the rollover has its key, the next tick none.
  auto info = store_->signing(*wire::Name::from_text("example.com."));
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->keys.size(), 3u);
  now_ += 1;
  clock_->tick_all();
  ASSERT_EQ(proposer_->held.size(), 1u);
  EXPECT_TRUE(held(0).keys.empty());
}

TEST_F(SigningClockTest, AZoneSignedInSlicesGetsEachNextTickAsSoonAsTheLastIsApplied) {
  // Above kWholeSigningLimit: zone sign leaves the zone to the ticks.
  sign("example.com.", 86400, store::kWholeSigningLimit + 1);
  const auto apex = *wire::Name::from_text("example.com.");
  ASSERT_FALSE(store_->signing(apex)->complete);
  // The change is seen: a tick goes out from the loop, not an interval later.
  clock_->zones_changed();
  event_base_loop(base_.get(), EVLOOP_NONBLOCK);
  size_t ticks = 0;
  while (!proposer_->held.empty() && ticks < 100) {
    ASSERT_TRUE(proposer_->release().ok());
    ++ticks;
    event_base_loop(base_.get(), EVLOOP_NONBLOCK);
  }
  EXPECT_GE(ticks, 2u);
  EXPECT_TRUE(store_->signing(apex)->complete) << ticks << " ticks";
  // Once complete, the zone waits for the interval again.
  EXPECT_TRUE(proposer_->held.empty());
}

}  // namespace
}  // namespace raftdns::server
