// The worker's answer cache: which queries it takes and how it tells them
// apart, that a reused answer is byte for byte the engine's answer to the
// query at hand, that any applied change empties it, and that it stays
// within its slots.
#include "daemon/server/answer_cache.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <string>
#include <vector>

#include "daemon/query/engine.h"
#include "daemon/server/config.h"
#include "daemon/server/dns_worker.h"
#include "daemon/store/read_txn.h"
#include "daemon/store/store.h"
#include "daemon/wire/message.h"
#include "tests/store/test_records.h"

namespace raftdns::server {
namespace {

using namespace raftdns::testing;
namespace T = wire::rrtype;

struct Ask {
  std::string name = "www.example.com.";
  uint16_t type = T::A;
  uint16_t qclass = wire::rrclass::IN;
  uint16_t id = 0x1234;
  bool rd = true;
  bool cd = false;
  bool edns = false;
  uint16_t udp_size = 1232;
  bool do_bit = false;
  std::vector<uint8_t> options{};  // raw EDNS option TLVs
  uint8_t opcode = wire::opcode::QUERY;
};

std::vector<uint8_t> query_bytes(const Ask& a) {
  wire::Message m;
  m.header.id = a.id;
  m.header.rd = a.rd;
  m.header.cd = a.cd;
  m.header.opcode = a.opcode;
  m.questions.push_back(wire::Question{N(a.name), a.type, a.qclass});
  if (a.edns) {
    wire::Edns e;
    e.udp_size = a.udp_size;
    e.do_bit = a.do_bit;
    e.options = a.options;
    m.edns = e;
  }
  return wire::encode_message(m);
}

// The query with the letters of its name upper-cased at every other position.
std::vector<uint8_t> mixed_case(std::vector<uint8_t> q) {
  for (size_t at = 12, n = 0; at < q.size() && q[at] != 0; at += 1 + q[at]) {
    for (size_t i = 1; i <= q[at]; ++i) {
      if (n++ % 2 == 0) q[at + i] = static_cast<uint8_t>(std::toupper(q[at + i]));
    }
  }
  return q;
}

class AnswerCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = store::Store::open(dir_.sub("store"));
    ASSERT_TRUE(s) << s.error();
    store_ = std::move(*s);
    std::vector<wire::Record> zone = {
        SOA("example.com.", 1, 600, 3600),
        NS("example.com.", "ns1.example.com."),
        A("ns1.example.com.", "192.0.2.1"),
        A("www.example.com.", "192.0.2.10"),
        MX("example.com.", 10, "mail.example.com."),
        A("mail.example.com.", "192.0.2.25"),
        CNAME("alias.example.com.", "www.example.com."),
        A("*.wild.example.com.", "192.0.2.80"),
        DNAME("dname.example.com.", "example.com."),
        NS("sub.example.com.", "ns.sub.example.com."),
        A("ns.sub.example.com.", "192.0.2.53"),
    };
    for (int i = 0; i < 10; ++i) {
      // One 100-octet character-string each.
      std::vector<uint8_t> text(101, static_cast<uint8_t>('a' + i));
      text[0] = 100;
      zone.push_back(rr("big.example.com.", 300, T::TXT, text));
    }
    apply(store::PutZone{N("example.com."), zone});
    view_ = store_->begin_read();
    ASSERT_NE(view_, nullptr);
    cache_.use_state(view_->store_serial(), view_->snapshot_id());
  }

  void apply(store::Command command) {
    auto bytes = store::encode_command(command);
    store::ApplyItem item{++index_, 1, bytes};
    std::vector<Status> outcomes;
    ASSERT_TRUE(store_->apply(std::span(&item, 1), &outcomes));
    ASSERT_TRUE(outcomes.at(0)) << outcomes[0].error();
  }

  std::vector<uint8_t> engine_answer(const std::vector<uint8_t>& q, bool tcp = false) {
    std::vector<uint8_t> out(65535);
    size_t n = engine_.answer(q, out, tcp ? query::Transport::tcp : query::Transport::udp,
                              *view_);
    out.resize(n);
    return out;
  }

  // What the worker does with a query the cache takes: the cached answer,
  // else the engine's, kept when reusable. `hit` tells which.
  std::vector<uint8_t> through_cache(const std::vector<uint8_t>& q, bool* hit = nullptr,
                                     bool tcp = false) {
    AnswerCache::Key key;
    EXPECT_TRUE(cache_.make_key(q, tcp, key));
    std::vector<uint8_t> out(65535);
    size_t n = cache_.find(key, q, out);
    if (hit) *hit = n > 0;
    if (n == 0) {
      n = engine_.answer(q, out, tcp ? query::Transport::tcp : query::Transport::udp, *view_);
      if (engine_.last_answer_reusable()) cache_.insert(key, {out.data(), n});
    }
    out.resize(n);
    return out;
  }

  static AnswerCache::Key key_in(const AnswerCache& cache, const std::vector<uint8_t>& q) {
    AnswerCache::Key key;
    EXPECT_TRUE(cache.make_key(q, false, key));
    return key;
  }

  // An answer the cache keeps for `q`: the engine's NXDOMAIN with its
  // question rewritten (answers to another name than their question are
  // refused).
  std::vector<uint8_t> nxdomain_for(const std::vector<uint8_t>& q) {
    if (nxdomain_.empty()) nxdomain_ = engine_answer(query_bytes({.name = "nope.example.com."}));
    std::vector<uint8_t> a(nxdomain_.begin(), nxdomain_.begin() + 12);
    a.insert(a.end(), q.begin() + 12, q.end());
    return a;
  }

  bool takes(const std::vector<uint8_t>& q, bool tcp = false) {
    AnswerCache::Key key;
    return cache_.make_key(q, tcp, key);
  }

  TempDir dir_;
  std::unique_ptr<store::Store> store_;
  uint64_t index_ = 0;
  std::unique_ptr<store::ReadTxn> view_;
  query::Engine engine_{query::EngineConfig{"node-1.test", "raftdns test", 1232}};
  AnswerCache cache_{1024};
  std::vector<uint8_t> nxdomain_;
};

// The point of the cache: a repeated query gets, byte for byte, what the
// engine would answer it - its own ID and its own spelling of the name
// (a resolver using 0x20 checks both) - over UDP and TCP, with and without
// EDNS, for answers, CNAMEs, wildcards, referrals, NXDOMAIN and NODATA.
TEST_F(AnswerCacheTest, ReusedAnswerIsTheEnginesAnswerWithTheQuerysIdAndSpelling) {
  const std::vector<Ask> asks = {
      {"www.example.com."},
      {"www.example.com.", T::AAAA},
      {"example.com.", T::MX},
      {"alias.example.com."},
      {"anything.wild.example.com."},
      {"host.sub.example.com."},
      {"nope.example.com."},
      {"www.example.org."},
      {"id.server.", T::TXT, wire::rrclass::CH},
      {.name = "www.example.com.", .edns = true, .do_bit = true},
      {.name = "example.com.", .type = T::NS, .edns = true, .udp_size = 4096},
  };
  for (const Ask& a : asks) {
    for (bool tcp : {false, true}) {
      SCOPED_TRACE(a.name + " type " + std::to_string(a.type) + (tcp ? " tcp" : " udp"));
      Ask first = a;
      first.id = 1;
      bool hit = true;
      const auto filled = through_cache(query_bytes(first), &hit, tcp);
      EXPECT_FALSE(hit);
      EXPECT_EQ(filled, engine_answer(query_bytes(first), tcp));

      Ask again = a;
      again.id = 0xbeef;
      const auto q = mixed_case(query_bytes(again));
      const auto reused = through_cache(q, &hit, tcp);
      EXPECT_TRUE(hit);
      ASSERT_GE(reused.size(), 12u);
      EXPECT_EQ(reused[0], 0xbe);
      EXPECT_EQ(reused[1], 0xef);
      EXPECT_EQ(reused, engine_answer(q, tcp));
    }
  }
  EXPECT_GT(cache_.stats().hits, 0u);
}

// Every byte of the query the answer depends on is in the key: each of
// these differs from the plain query in one such way, and none of them
// may be given the plain query's answer.
TEST_F(AnswerCacheTest, QueriesThatDifferInWhatTheAnswerDependsOnHaveTheirOwnEntries) {
  const Ask plain;
  std::vector<Ask> variants;
  auto variant = [&](auto change) {
    Ask a = plain;
    change(a);
    variants.push_back(a);
  };
  variant([](Ask& a) { a.name = "mail.example.com."; });
  variant([](Ask& a) { a.type = T::AAAA; });
  variant([](Ask& a) { a.qclass = wire::rrclass::CH; });
  variant([](Ask& a) { a.rd = false; });
  variant([](Ask& a) { a.cd = true; });
  variant([](Ask& a) { a.edns = true; });
  variant([](Ask& a) {
    a.edns = true;
    a.udp_size = 512;
  });
  variant([](Ask& a) {
    a.edns = true;
    a.do_bit = true;
  });

  (void)through_cache(query_bytes(plain));
  bool hit = false;
  (void)through_cache(query_bytes(plain), &hit);
  ASSERT_TRUE(hit);
  for (size_t i = 0; i < variants.size(); ++i) {
    SCOPED_TRACE("variant " + std::to_string(i));
    const auto q = query_bytes(variants[i]);
    auto answer = through_cache(q, &hit);
    EXPECT_FALSE(hit);
    EXPECT_EQ(answer, engine_answer(q));
    answer = through_cache(q, &hit);
    EXPECT_TRUE(hit);
    EXPECT_EQ(answer, engine_answer(q));
  }
  // TCP and UDP: the same bytes, different limits.
  (void)through_cache(query_bytes(plain), &hit, /*tcp=*/true);
  EXPECT_FALSE(hit);
}

// RFC 4035 §3.1: an answer to a DO query carries RRSIGs that one without
// DO must not, so the DO bit is part of the key: neither answer is ever
// served for the other, whichever is cached first.
TEST_F(AnswerCacheTest, DoAndNonDoAnswersNeverStandInForEachOther) {
  std::vector<uint8_t> sig = {0, 1, 13, 3, 0, 0, 1, 44, 0x77, 0x35, 0x94, 0,
                              0x65, 0x53, 0xf1, 0, 0x10, 0x92};
  const auto signer = name_rdata("signed.test.");
  sig.insert(sig.end(), signer.begin(), signer.end());
  sig.insert(sig.end(), 32, 0x5a);  // short, so the answer fits a slot
  apply(store::PutZone{N("signed.test."),
                       {SOA("signed.test.", 1), A("www.signed.test.", "192.0.2.7"),
                        rr("www.signed.test.", 300, 46 /*RRSIG*/, sig)}});
  view_ = store_->begin_read();
  cache_.use_state(view_->store_serial(), view_->snapshot_id());
  auto rrsigs = [](const std::vector<uint8_t>& answer) {
    wire::Message m;
    EXPECT_EQ(wire::parse_message(answer, m), wire::WireError::ok);
    return std::count_if(m.answer.begin(), m.answer.end(),
                         [](const wire::Record& r) { return r.type == 46; });
  };
  const Ask with_do{.name = "www.signed.test.", .edns = true, .do_bit = true};
  const Ask without_do{.name = "www.signed.test.", .edns = true};
  for (bool do_first : {true, false}) {
    SCOPED_TRACE(do_first ? "DO first" : "DO=0 first");
    cache_.clear();
    const auto first = query_bytes(do_first ? with_do : without_do);
    const auto second = query_bytes(do_first ? without_do : with_do);
    bool hit = true;
    (void)through_cache(first, &hit);
    EXPECT_FALSE(hit);
    (void)through_cache(first, &hit);
    EXPECT_TRUE(hit);
    auto answer = through_cache(second, &hit);
    EXPECT_FALSE(hit);
    EXPECT_EQ(rrsigs(answer), do_first ? 0 : 1);
    answer = through_cache(second, &hit);
    EXPECT_TRUE(hit);
    EXPECT_EQ(rrsigs(answer), do_first ? 0 : 1);
    EXPECT_EQ(rrsigs(through_cache(first)), do_first ? 1 : 0);
  }
}

// The size a client offers decides truncation: an answer cut for a small
// buffer is never reused for a large one, nor the other way round.
TEST_F(AnswerCacheTest, TruncationFollowsEachQuerysOwnBufferSize) {
  Ask small{.name = "big.example.com.", .type = T::TXT};
  Ask large = small;
  large.edns = true;
  large.udp_size = 4096;
  bool hit = true;
  const auto cut = through_cache(query_bytes(small), &hit);
  ASSERT_GE(cut.size(), 12u);
  EXPECT_TRUE(cut[2] & 0x02) << "a 1,100-byte TXT set must not fit 512 bytes";
  const auto whole = through_cache(query_bytes(large), &hit);
  EXPECT_FALSE(hit);
  ASSERT_GE(whole.size(), 12u);
  EXPECT_FALSE(whole[2] & 0x02);
  EXPECT_EQ(through_cache(query_bytes(small), &hit), cut);
  EXPECT_TRUE(hit);
}

// What the cache never takes: anything a key could not capture whole, and
// everything that is not a plain query.
TEST_F(AnswerCacheTest, SignedUpdatesTransfersCookiesAndOddQueriesAreNeverTaken) {
  EXPECT_TRUE(takes(query_bytes({})));
  EXPECT_TRUE(takes(query_bytes({.edns = true})));

  Ask cookie{.edns = true};
  cookie.options = {0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8};  // COOKIE, client part only
  EXPECT_FALSE(takes(query_bytes(cookie)));
  Ask nsid{.edns = true};
  nsid.options = {0, 3, 0, 0};
  EXPECT_FALSE(takes(query_bytes(nsid)));
  EXPECT_FALSE(takes(query_bytes({.type = 252})));  // AXFR
  EXPECT_FALSE(takes(query_bytes({.type = 251})));  // IXFR
  EXPECT_FALSE(takes(query_bytes({.opcode = wire::opcode::NOTIFY})));
  EXPECT_FALSE(takes(query_bytes({.opcode = wire::opcode::UPDATE})));

  auto q = query_bytes({});
  auto response = q;
  response[2] |= 0x80;
  EXPECT_FALSE(takes(response));
  auto trailing = q;
  trailing.push_back(0);
  EXPECT_FALSE(takes(trailing));
  // A second additional record (a TSIG goes last, after any OPT).
  auto signed_like = query_bytes({.edns = true});
  signed_like[11] = 2;
  const std::vector<uint8_t> tsig = {0, 0, 250, 0, 255, 0, 0, 0, 0, 0, 0};
  signed_like.insert(signed_like.end(), tsig.begin(), tsig.end());
  EXPECT_FALSE(takes(signed_like));
  // A non-OPT additional record alone.
  auto other = q;
  other[11] = 1;
  other.insert(other.end(), tsig.begin(), tsig.end());
  EXPECT_FALSE(takes(other));
  // Two questions; a record in the answer section; a compressed name.
  auto two = q;
  two[5] = 2;
  EXPECT_FALSE(takes(two));
  auto answers = q;
  answers[7] = 1;
  EXPECT_FALSE(takes(answers));
  std::vector<uint8_t> pointer(q.begin(), q.begin() + 12);
  pointer.insert(pointer.end(), {0xc0, 12, 0, 1, 0, 1});
  EXPECT_FALSE(takes(pointer));
  EXPECT_FALSE(takes({q.begin(), q.begin() + 11}));
}

// A CNAME made from a DNAME spells the query's name as it came: that answer
// fits no other spelling, so the engine reports it as not reusable.
TEST_F(AnswerCacheTest, AnswersMadeFromTheQueryNamesLettersAreNotReused) {
  (void)engine_answer(query_bytes({.name = "www.dname.example.com."}));
  EXPECT_FALSE(engine_.last_answer_reusable());
  (void)engine_answer(query_bytes({}));
  EXPECT_TRUE(engine_.last_answer_reusable());
  Ask cookie{.edns = true};
  cookie.options = {0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8};
  (void)engine_answer(query_bytes(cookie));
  EXPECT_FALSE(engine_.last_answer_reusable());

  const auto q = query_bytes({.name = "www.dname.example.com."});
  bool hit = true;
  (void)through_cache(q, &hit);
  EXPECT_FALSE(hit);
  const auto upper = mixed_case(q);
  EXPECT_EQ(through_cache(upper, &hit), engine_answer(upper));
  EXPECT_FALSE(hit);
}

// Freshness: a change applied to the store, seen through the renewed view,
// empties the cache at once; the same state keeps it, through a new view
// too; another store environment (a snapshot swapped in) or an engine
// reload empties it.
TEST_F(AnswerCacheTest, AnAppliedChangeEmptiesTheCache) {
  const auto q = query_bytes({.name = "new.example.com."});
  bool hit = false;
  const auto nxdomain = through_cache(q, &hit);
  ASSERT_GE(nxdomain.size(), 12u);
  EXPECT_EQ(nxdomain[3] & 0x0f, wire::rcode::NXDOMAIN);
  (void)through_cache(q, &hit);
  EXPECT_TRUE(hit);

  // The same state again: still there.
  ASSERT_TRUE(view_->renew());
  cache_.use_state(view_->store_serial(), view_->snapshot_id());
  (void)through_cache(q, &hit);
  EXPECT_TRUE(hit);

  const uint64_t before = view_->snapshot_id();
  apply(store::AddRecords{{A("new.example.com.", "192.0.2.99")}});
  ASSERT_TRUE(view_->renew());
  EXPECT_NE(view_->snapshot_id(), before);
  cache_.use_state(view_->store_serial(), view_->snapshot_id());
  const auto fresh = through_cache(q, &hit);
  EXPECT_FALSE(hit);
  ASSERT_GE(fresh.size(), 12u);
  EXPECT_EQ(fresh[3] & 0x0f, wire::rcode::NOERROR);
  EXPECT_EQ(fresh, engine_answer(q));

  (void)through_cache(q, &hit);
  EXPECT_TRUE(hit);
  // A view begun anew on the same state (a worker drops an idle one) reads
  // the same data: the cache stays.
  view_ = store_->begin_read();
  ASSERT_NE(view_, nullptr);
  cache_.use_state(view_->store_serial(), view_->snapshot_id());
  (void)through_cache(q, &hit);
  EXPECT_TRUE(hit);
  // Another store environment (a snapshot swapped in): the same transaction
  // ID says nothing.
  cache_.use_state(view_->store_serial() + 1, view_->snapshot_id());
  (void)through_cache(q, &hit);
  EXPECT_FALSE(hit);
  (void)through_cache(q, &hit);
  EXPECT_TRUE(hit);
  cache_.clear();
  (void)through_cache(q, &hit);
  EXPECT_FALSE(hit);
}

// Bounded: however many different queries come, the table keeps its size;
// a full set gives up the entry used longest ago, so one that keeps being
// asked stays.
TEST_F(AnswerCacheTest, StaysWithinItsSlotsAndKeepsWhatIsStillAsked) {
  AnswerCache small(64);
  EXPECT_EQ(small.slots(), 64u);
  auto key_of = [&](const std::vector<uint8_t>& q) { return key_in(small, q); };
  auto answer_for = [&](const std::vector<uint8_t>& q) { return nxdomain_for(q); };
  const auto kept_query = query_bytes({.name = "kept.example.com."});
  const auto kept_key = key_of(kept_query);
  small.insert(kept_key, answer_for(kept_query));
  std::vector<uint8_t> out(65535);
  const int kNames = 2000;
  for (int i = 0; i < kNames; ++i) {
    // Missed twice, as a name asked again is: the second time it goes in
    // over a full set (the first, it may not: see the next test).
    const auto q = query_bytes({.name = "n" + std::to_string(i) + ".example.com."});
    small.insert(key_of(q), answer_for(q));
    small.insert(key_of(q), answer_for(q));
    ASSERT_GT(small.find(key_of(q), q, out), 0u) << "a name missed twice was not kept";
    ASSERT_GT(small.find(kept_key, kept_query, out), 0u) << "after " << i << " others";
  }
  int found = 0;
  for (int i = 0; i < kNames; ++i) {
    const auto q = query_bytes({.name = "n" + std::to_string(i) + ".example.com."});
    if (small.find(key_of(q), q, out) > 0) ++found;
  }
  EXPECT_LE(found, 63);
  EXPECT_GT(found, 0);
  EXPECT_GE(small.stats().evictions, static_cast<uint64_t>(kNames + 1 - 64));
}

// Names asked once each (random names that do not exist, a scan) do not
// push out what is asked again and again: over a full set, an answer goes
// in only on its second miss.
TEST_F(AnswerCacheTest, AFullSetTakesANewAnswerOnlyOnItsSecondMiss) {
  AnswerCache one_set(AnswerCache::kWays);
  ASSERT_EQ(one_set.slots(), AnswerCache::kWays);
  auto key_of = [&](const std::vector<uint8_t>& q) { return key_in(one_set, q); };
  auto answer_for = [&](const std::vector<uint8_t>& q) { return nxdomain_for(q); };
  auto name = [&](int i) { return query_bytes({.name = "n" + std::to_string(i) + ".example.com."}); };
  std::vector<uint8_t> out(65535);
  auto found = [&](const std::vector<uint8_t>& q) { return one_set.find(key_of(q), q, out) > 0; };
  // Room: each answer goes in at once.
  for (int i = 0; i < 8; ++i) one_set.insert(key_of(name(i)), answer_for(name(i)));
  for (int i = 0; i < 8; ++i) ASSERT_TRUE(found(name(i))) << i;
  // Full: a first miss is kept out, and everything stays.
  const auto newcomer = query_bytes({.name = "newcomer.example.com."});
  one_set.insert(key_of(newcomer), answer_for(newcomer));
  EXPECT_FALSE(found(newcomer));
  EXPECT_EQ(one_set.stats().declined, 1u);
  EXPECT_EQ(one_set.stats().evictions, 0u);
  for (int i = 0; i < 8; ++i) EXPECT_TRUE(found(name(i))) << i;
  // Missed again, it replaces the answer used longest ago (n0: the checks
  // above used n0 first).
  one_set.insert(key_of(newcomer), answer_for(newcomer));
  EXPECT_TRUE(found(newcomer));
  EXPECT_EQ(one_set.stats().evictions, 1u);
  EXPECT_FALSE(found(name(0)));
  for (int i = 1; i < 8; ++i) EXPECT_TRUE(found(name(i))) << i;
}

// What does not fit a slot beside its key, or is not the answer to the
// key's question, is left out.
TEST_F(AnswerCacheTest, OversizedOrMismatchedAnswersAreNotKept) {
  std::vector<uint8_t> out(65535);
  const auto q = query_bytes({.name = "big.example.com.", .type = T::TXT, .edns = true});
  AnswerCache::Key key;
  ASSERT_TRUE(cache_.make_key(q, true, key));
  const auto big = engine_answer(q, true);
  ASSERT_GT(big.size(), AnswerCache::kSlotSize);
  cache_.insert(key, big);
  EXPECT_EQ(cache_.find(key, q, out), 0u);

  const auto www = query_bytes({});
  ASSERT_TRUE(cache_.make_key(www, false, key));
  cache_.insert(key, engine_answer(query_bytes({.name = "mail.example.com."})));
  EXPECT_EQ(cache_.find(key, www, out), 0u);
  cache_.insert(key, engine_answer(query_bytes({.type = T::AAAA})));
  EXPECT_EQ(cache_.find(key, www, out), 0u);
  cache_.insert(key, engine_answer(www));
  EXPECT_GT(cache_.find(key, www, out), 0u);
}

// Rate limiting needs the answer's class: it comes back from the entry, so
// a reused answer is never parsed again.
TEST_F(AnswerCacheTest, TheRrlClassComesBackWithTheAnswer) {
  const auto q = query_bytes({.name = "nope.example.com."});
  const auto answer = engine_answer(q);
  const ClassifiedResponse cls = classify_response(answer);
  ASSERT_EQ(cls.response_class, ResponseClass::nxdomain);
  AnswerCache::Key key;
  ASSERT_TRUE(cache_.make_key(q, false, key));
  cache_.insert(key, answer, &cls);
  std::vector<uint8_t> out(65535);
  ClassifiedResponse got;
  bool classified = false;
  ASSERT_GT(cache_.find(key, q, out, &got, &classified), 0u);
  EXPECT_TRUE(classified);
  EXPECT_EQ(got.response_class, cls.response_class);
  EXPECT_EQ(got.name_hash, cls.name_hash);
  EXPECT_EQ(got.qtype, cls.qtype);
  EXPECT_EQ(got.question_end, cls.question_end);

  cache_.insert(key, answer);  // kept without a class
  ASSERT_GT(cache_.find(key, q, out, &got, &classified), 0u);
  EXPECT_FALSE(classified);
}

TEST(AnswerCacheConfig, SizeIsReadCheckedAndReachesTheWorkers) {
  auto defaults = parse_config("[node]\nid = \"n1\"\n", "cache.toml");
  ASSERT_TRUE(defaults.ok()) << defaults.error();
  EXPECT_EQ(worker_options(*defaults).answer_cache_size, 131072u);
  auto off = parse_config("[node]\nid = \"n1\"\n[dns]\nanswer_cache_size = 0\n", "cache.toml");
  ASSERT_TRUE(off.ok()) << off.error();
  EXPECT_EQ(worker_options(*off).answer_cache_size, 0u);
  auto bad = parse_config("[node]\nid = \"n1\"\n[dns]\nanswer_cache_size = -1\n", "cache.toml");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().find("dns.answer_cache_size"), std::string::npos) << bad.error();
  EXPECT_NE(bad.error().find("cache.toml:4"), std::string::npos) << bad.error();
}

}  // namespace
}  // namespace raftdns::server
