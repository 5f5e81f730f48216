// Message and ConfChange codecs: round trips, and rejection of truncated or forged input.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "replication/core/raft.h"

namespace raftdns::raft {
namespace {

Message full_message() {
  Message m;
  m.type = MessageType::app;
  m.to = 2;
  m.from = 1;
  m.term = 7;
  m.log_term = 6;
  m.index = 41;
  m.commit = 40;
  m.reject_hint = 3;
  m.reject = true;
  m.entries = {
      Entry{42, 7, EntryType::normal, {1, 2, 3}},
      Entry{43, 7, EntryType::conf_change, encode_conf_change({ConfChange::add_learner, 9, {5}})}};
  m.snapshot = SnapshotMeta{30, 5, ConfState{{1, 2, 3}, {9}}};
  m.context = {'c', 't', 'x'};
  return m;
}

TEST(RaftCodec, MessageRoundTripsEveryField) {
  const Message m = full_message();
  auto decoded = decode_message(encode_message(m));
  ASSERT_TRUE(decoded.ok()) << decoded.error();
  EXPECT_EQ(*decoded, m);
}

TEST(RaftCodec, EveryMessageTypeRoundTrips) {
  for (uint8_t t = 1; t <= kMaxMessageType; ++t) {
    Message m;
    m.type = static_cast<MessageType>(t);
    m.to = 1;
    m.from = 2;
    m.term = t;
    auto decoded = decode_message(encode_message(m));
    ASSERT_TRUE(decoded.ok()) << decoded.error();
    EXPECT_EQ(*decoded, m) << to_string(m.type);
  }
}

TEST(RaftCodec, EveryTruncationIsRejected) {
  const std::vector<uint8_t> wire = encode_message(full_message());
  for (size_t n = 0; n < wire.size(); ++n) {
    auto decoded = decode_message(std::span<const uint8_t>(wire.data(), n));
    EXPECT_FALSE(decoded.ok()) << "accepted a prefix of " << n << " bytes";
  }
}

TEST(RaftCodec, TrailingBytesAreRejected) {
  std::vector<uint8_t> wire = encode_message(full_message());
  wire.push_back(0);
  auto decoded = decode_message(wire);
  ASSERT_FALSE(decoded.ok());
  EXPECT_NE(decoded.error().find("trailing"), std::string::npos) << decoded.error();
}

TEST(RaftCodec, UnknownVersionTypeAndFlagsAreRejected) {
  const std::vector<uint8_t> good = encode_message(full_message());
  auto bad_version = good;
  bad_version[0] = 2;
  EXPECT_FALSE(decode_message(bad_version).ok());
  auto bad_type = good;
  bad_type[1] = 0;
  EXPECT_FALSE(decode_message(bad_type).ok());
  bad_type[1] = kMaxMessageType + 1;
  EXPECT_FALSE(decode_message(bad_type).ok());
  auto bad_reject = good;
  bad_reject[2 + 7 * 8] = 2;  // the reject flag follows seven u64 fields
  EXPECT_FALSE(decode_message(bad_reject).ok());
}

TEST(RaftCodec, ForgedHugeEntryCountIsRejectedWithoutAllocating) {
  Message m;
  m.type = MessageType::app;
  m.to = 1;
  m.from = 2;
  m.term = 1;
  std::vector<uint8_t> wire = encode_message(m);
  const size_t count_at = 2 + 7 * 8 + 1;
  wire[count_at] = 0xff;
  wire[count_at + 1] = 0xff;
  wire[count_at + 2] = 0xff;
  wire[count_at + 3] = 0xff;
  auto decoded = decode_message(wire);
  ASSERT_FALSE(decoded.ok());
  EXPECT_NE(decoded.error().find("count"), std::string::npos) << decoded.error();
}

TEST(RaftCodec, RandomBytesNeverCrashTheDecoder) {
  uint64_t state = 12345;
  auto next = [&] {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<uint8_t>(state >> 56);
  };
  const std::vector<uint8_t> good = encode_message(full_message());
  size_t accepted = 0;
  for (int round = 0; round < 20000; ++round) {
    std::vector<uint8_t> wire = good;
    const int flips = 1 + next() % 4;
    for (int i = 0; i < flips; ++i) wire[next() % wire.size()] = next();
    auto decoded = decode_message(wire);
    if (decoded.ok()) {
      ++accepted;
      EXPECT_EQ(encode_message(*decoded), wire) << "accepted input must re-encode identically";
    }
  }
  EXPECT_LT(accepted, 20000u);
}

TEST(RaftCodec, ConfChangeRoundTripsAndRejectsGarbage) {
  const ConfChange cc{ConfChange::promote_learner, 77, {'a', 'd', 'd', 'r'}};
  auto decoded = decode_conf_change(encode_conf_change(cc));
  ASSERT_TRUE(decoded.ok()) << decoded.error();
  EXPECT_EQ(*decoded, cc);
  auto wire = encode_conf_change(cc);
  wire[1] = 9;
  EXPECT_FALSE(decode_conf_change(wire).ok());
  wire = encode_conf_change(cc);
  wire.pop_back();
  EXPECT_FALSE(decode_conf_change(wire).ok());
}

}  // namespace
}  // namespace raftdns::raft
