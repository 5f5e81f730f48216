// TSIG (RFC 8945): requests signed by BIND's dig verify here, and messages
// signed here verify, including multi-message chains and every error case.
#include "daemon/tsig/tsig.h"

#include <gtest/gtest.h>

#include "bytes.h"
#include "daemon/wire/message.h"

namespace raftdns::tsig {
namespace {

using wire::testing::hex;

// The secret both captured queries were signed with ("secret-key-for-tsig-tests").
constexpr const char* kSecret = "c2VjcmV0LWtleS1mb3ItdHNpZy10ZXN0cw==";

// `dig -p PORT @127.0.0.1 -y hmac-sha256:xfr.example.:SECRET example.com SOA`
// (DiG 9.18.49, Debian 12), as it arrived on the wire.
const char* kDigSha256 =
    "e4d401200001000000000002076578616d706c6503636f6d000006000100002904d000000000000c000a00088d"
    "2a47449dd2559b03786672076578616d706c650000fa00ff00000000003d0b686d61632d7368613235360000"
    "006b0bda6e012c0020c2b612fde28fd6caab60782b50cd116c228af0d1b6c0355403f9cf87eb1d6355e4d400"
    "000000";
constexpr uint64_t kDigSha256Time = 0x6b0bda6e;
// The same with -y hmac-sha512:...
const char* kDigSha512 =
    "7aab01200001000000000002076578616d706c6503636f6d000006000100002904d000000000000c000a0008"
    "27be8e644b49590d03786672076578616d706c650000fa00ff00000000005d0b686d61632d73686135313200"
    "00006b0bda72012c00406b8e093443007a3dcbffcb9415ccc6b6880287b28d74a99c1b15fd57403067c274f0"
    "2a5863968d363c608d2e5f99dade1b67687d3f312c550420221f39ec9f4a7aab00000000";
constexpr uint64_t kDigSha512Time = 0x6b0bda72;

KeyRing ring(std::string_view algorithm, std::string_view name = "xfr.example.",
             std::string_view secret = kSecret) {
  KeyRing r;
  auto key = make_key(name, algorithm, secret);
  EXPECT_TRUE(key.ok()) << key.error();
  EXPECT_TRUE(r.add(*key).ok());
  return r;
}

using O = RequestCheck::Outcome;

TEST(Tsig, QuerySignedByDigWithHmacSha256Verifies) {
  auto q = hex(kDigSha256);
  auto keys = ring("hmac-sha256");
  RequestCheck c = verify_request(q, keys, kDigSha256Time);
  EXPECT_EQ(c.outcome, O::ok);
  ASSERT_NE(c.key, nullptr);
  EXPECT_EQ(c.key->name.to_text(), "xfr.example.");
  EXPECT_EQ(c.mac.size(), 32u);
  // Without the TSIG record (and with ARCOUNT one lower) the query is an
  // ordinary one with an OPT.
  std::vector<uint8_t> plain(q.begin(), q.begin() + static_cast<ptrdiff_t>(c.unsigned_length));
  plain[11] = static_cast<uint8_t>(plain[11] - 1);
  wire::Message m;
  ASSERT_EQ(wire::parse_message(plain, m), wire::WireError::ok);
  EXPECT_TRUE(m.edns.has_value());
  EXPECT_EQ(m.questions.at(0).name.to_text(), "example.com.");
}

TEST(Tsig, QuerySignedByDigWithHmacSha512Verifies) {
  auto q = hex(kDigSha512);
  RequestCheck c = verify_request(q, ring("hmac-sha512"), kDigSha512Time + 100);
  EXPECT_EQ(c.outcome, O::ok);
  EXPECT_EQ(c.mac.size(), 64u);
}

TEST(Tsig, AnyChangedByteIsBadsig) {
  const auto original = hex(kDigSha256);
  auto keys = ring("hmac-sha256");
  RequestCheck probe = verify_request(original, keys, kDigSha256Time);
  // Every byte before the TSIG record is covered by the MAC (the ID through
  // the original-ID field, so skip the first two bytes). A change either
  // breaks the signature or the message itself; it is never accepted.
  size_t badsig = 0;
  for (size_t i = 2; i < probe.unsigned_length; ++i) {
    auto q = original;
    q[i] ^= 0x20;
    RequestCheck c = verify_request(q, keys, kDigSha256Time);
    EXPECT_NE(c.outcome, O::ok) << "byte " << i;
    EXPECT_EQ(c.key, nullptr) << "byte " << i;
    if (c.outcome == O::badsig) ++badsig;
  }
  EXPECT_GT(badsig, probe.unsigned_length / 2);
}

TEST(Tsig, WrongSecretIsBadsig) {
  auto keys = ring("hmac-sha256", "xfr.example.", "b3RoZXItc2VjcmV0LW9mLXRoZS1zYW1lLWtleQ==");
  EXPECT_EQ(verify_request(hex(kDigSha256), keys, kDigSha256Time).outcome, O::badsig);
}

TEST(Tsig, UnknownKeyOrAlgorithmIsBadkey) {
  EXPECT_EQ(verify_request(hex(kDigSha256), ring("hmac-sha256", "other.example."), kDigSha256Time)
                .outcome,
            O::badkey);
  // The key is known, but for another algorithm.
  EXPECT_EQ(verify_request(hex(kDigSha256), ring("hmac-sha512"), kDigSha256Time).outcome,
            O::badkey);
}

TEST(Tsig, ClockOutsideTheFudgeIsBadtime) {
  auto keys = ring("hmac-sha256");
  auto q = hex(kDigSha256);
  EXPECT_EQ(verify_request(q, keys, kDigSha256Time + 300).outcome, O::ok);
  EXPECT_EQ(verify_request(q, keys, kDigSha256Time - 300).outcome, O::ok);
  RequestCheck late = verify_request(q, keys, kDigSha256Time + 301);
  EXPECT_EQ(late.outcome, O::badtime);
  EXPECT_EQ(late.tsig_error(), error::BADTIME);
  ASSERT_NE(late.key, nullptr);  // a BADTIME answer is signed
  EXPECT_EQ(verify_request(q, keys, kDigSha256Time - 301).outcome, O::badtime);
}

TEST(Tsig, UnsignedQueryIsReportedAsSuch) {
  wire::Message m;
  m.header.id = 7;
  m.questions.push_back({*wire::Name::from_text("example.com."), wire::rrtype::SOA});
  auto bytes = wire::encode_message(m);
  EXPECT_EQ(verify_request(bytes, ring("hmac-sha256"), 0).outcome, O::unsigned_request);
}

std::vector<uint8_t> query_bytes(uint16_t id, uint16_t qtype) {
  wire::Message m;
  m.header.id = id;
  m.questions.push_back({*wire::Name::from_text("example.com."), qtype});
  return wire::encode_message(m);
}

TEST(Tsig, RequestSignedHereVerifiesAndTruncatedMacsAreRefused) {
  auto keys = ring("hmac-sha512");
  auto q = query_bytes(42, wire::rrtype::AXFR);
  size_t len = q.size();
  Signer client(keys.keys()[0], {});
  q.resize(len + 200);
  len = client.sign(q, len, 1000000);
  ASSERT_GT(len, 0u);
  q.resize(len);
  RequestCheck c = verify_request(q, keys, 1000000);
  ASSERT_EQ(c.outcome, O::ok);
  EXPECT_TRUE(std::equal(c.mac.begin(), c.mac.end(), client.last_mac().begin()));

  // Cut the MAC to 16 of 64 bytes: below max(10, 32) it is a format error.
  Record r;
  ASSERT_EQ(find(q, r), Find::found);
  const size_t mac_at = static_cast<size_t>(r.mac.data() - q.data());
  auto cut = q;
  cut.erase(cut.begin() + static_cast<ptrdiff_t>(mac_at + 16),
            cut.begin() + static_cast<ptrdiff_t>(mac_at + 64));
  cut[mac_at - 1] = 16;  // MAC size
  const size_t rdlength_at = r.offset + r.key_name.wire_length() + 8;
  cut[rdlength_at + 1] = static_cast<uint8_t>(cut[rdlength_at + 1] - 48);
  EXPECT_EQ(verify_request(cut, keys, 1000000).outcome, O::formerr);
}

TEST(Tsig, TsigRecordThatIsNotLastIsMalformed) {
  auto keys = ring("hmac-sha256");
  auto q = query_bytes(1, wire::rrtype::SOA);
  size_t len = q.size();
  Signer client(keys.keys()[0], {});
  q.resize(len + 300);
  len = client.sign(q, len, 5);
  // Add an OPT after the TSIG record.
  const uint8_t opt[] = {0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0};
  std::copy(std::begin(opt), std::end(opt), q.begin() + static_cast<ptrdiff_t>(len));
  len += sizeof(opt);
  q[11] = static_cast<uint8_t>(q[11] + 1);
  q.resize(len);
  EXPECT_EQ(verify_request(q, keys, 5).outcome, O::formerr);
}

// A server signs a three-message stream; the client side checks the chain.
struct Stream {
  std::vector<std::vector<uint8_t>> messages;
  std::vector<uint8_t> request_mac;
};
Stream signed_stream(const Key& key, bool sign_middle) {
  auto q = query_bytes(9, wire::rrtype::AXFR);
  size_t len = q.size();
  Signer client(key, {});
  q.resize(len + 200);
  len = client.sign(q, len, 2000);
  Stream s;
  s.request_mac.assign(client.last_mac().begin(), client.last_mac().end());
  Signer server(key, s.request_mac);
  for (int i = 0; i < 3; ++i) {
    wire::Message m;
    m.header.id = 9;
    m.header.qr = true;
    m.answer.push_back({*wire::Name::from_text("example.com."), wire::rrtype::A, 1, 60,
                        {10, 0, 0, static_cast<uint8_t>(i)}});
    auto bytes = wire::encode_message(m);
    size_t n = bytes.size();
    if (i == 1 && !sign_middle) {
      server.add_unsigned(bytes);
      s.messages.push_back(bytes);
      continue;
    }
    bytes.resize(n + 200);
    n = server.sign(bytes, n, 2001);
    bytes.resize(n);
    s.messages.push_back(bytes);
  }
  return s;
}

TEST(Tsig, SignedStreamVerifiesMessageByMessage) {
  auto keys = ring("hmac-sha256");
  for (bool sign_middle : {true, false}) {
    Stream s = signed_stream(keys.keys()[0], sign_middle);
    ResponseVerifier v(keys.keys()[0], s.request_mac);
    for (size_t i = 0; i < s.messages.size(); ++i) {
      auto st = v.next(s.messages[i], 2002);
      EXPECT_TRUE(st.ok()) << "message " << i << ": " << st.error();
      EXPECT_EQ(v.last_was_signed(), sign_middle || i != 1);
    }
  }
}

TEST(Tsig, TamperedOrReorderedStreamFails) {
  auto keys = ring("hmac-sha256");
  Stream s = signed_stream(keys.keys()[0], false);
  {
    // An unsigned message changed in flight breaks the next signed one.
    ResponseVerifier v(keys.keys()[0], s.request_mac);
    ASSERT_TRUE(v.next(s.messages[0], 2002).ok());
    auto middle = s.messages[1];
    middle.back() ^= 1;
    ASSERT_TRUE(v.next(middle, 2002).ok());
    EXPECT_FALSE(v.next(s.messages[2], 2002).ok());
  }
  {
    ResponseVerifier v(keys.keys()[0], s.request_mac);
    EXPECT_FALSE(v.next(s.messages[2], 2002).ok());  // the chain starts at message 0
  }
  {
    ResponseVerifier v(keys.keys()[0], s.request_mac);
    EXPECT_FALSE(v.next(s.messages[1], 2002).ok());  // the first must be signed
  }
}

TEST(Tsig, ErrorAnswersCarryTheirCode) {
  auto keys = ring("hmac-sha256");
  auto q = hex(kDigSha256);
  RequestCheck c = verify_request(q, ring("hmac-sha256", "nope."), kDigSha256Time);
  ASSERT_EQ(c.outcome, O::badkey);
  auto reply = query_bytes(0xe4d4, wire::rrtype::SOA);
  size_t n = reply.size();
  reply.resize(n + 100);
  n = append_unsigned_error(reply, n, c.record, kDigSha256Time, error::BADKEY);
  ASSERT_GT(n, 0u);
  reply.resize(n);
  Record r;
  ASSERT_EQ(find(reply, r), Find::found);
  EXPECT_EQ(r.error, error::BADKEY);
  EXPECT_TRUE(r.mac.empty());
  EXPECT_EQ(r.key_name.to_text(), "xfr.example.");
  ResponseVerifier v(keys.keys()[0], {});
  auto st = v.next(reply, kDigSha256Time);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().find("BADKEY"), std::string::npos);
}

TEST(Tsig, KeysAreParsedWithClearErrors) {
  EXPECT_FALSE(make_key("k.", "hmac-md5", kSecret).ok());
  auto bad = make_key("k.", "hmac-sha256", "not base64!");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().find("base64"), std::string::npos);
  auto k = make_key("Key.Example", "HMAC-SHA512", random_secret(Algorithm::hmac_sha512));
  ASSERT_TRUE(k.ok());
  EXPECT_EQ(k->name.to_text(), "key.example.");
  EXPECT_EQ(k->secret.size(), 64u);
  KeyRing r;
  ASSERT_TRUE(r.add(*k).ok());
  EXPECT_FALSE(r.add(*k).ok());
}

}  // namespace
}  // namespace raftdns::tsig
