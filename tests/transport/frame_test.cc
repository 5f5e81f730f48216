// Unit tests for the peer frame codec, the handshake derivations and address parsing.
#include "replication/frame.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "replication/address.h"

namespace raftdns::replication {
namespace {

std::vector<std::uint8_t> bytes_of(std::string_view text) { return {text.begin(), text.end()}; }

SessionKey session_from(std::uint8_t fill) {
  SessionKey key;
  key.bytes.fill(fill);
  return key;
}

FrameDecoder authenticated_decoder(const SessionKey& key) {
  FrameDecoder decoder;
  decoder.authenticate(key, Direction::kDialerToAcceptor);
  return decoder;
}

TEST(FrameDecoder, HandshakeFrameRoundTrips) {
  Hello hello{random_nonce(), "n2", "n1"};
  const auto payload = encode_hello(hello);
  const auto frame = encode_handshake_frame(FrameType::kHello, payload);
  FrameDecoder decoder;
  const DecodeResult result = decoder.decode(frame);
  ASSERT_EQ(result.status, DecodeStatus::kFrame);
  EXPECT_EQ(result.consumed, frame.size());
  EXPECT_EQ(result.frame.type, FrameType::kHello);
  const auto parsed = parse_hello(result.frame.payload);
  ASSERT_TRUE(parsed.ok()) << parsed.error();
  EXPECT_EQ(parsed->dialer_id, "n2");
  EXPECT_EQ(parsed->target_id, "n1");
  EXPECT_EQ(parsed->dialer_nonce, hello.dialer_nonce);
}

TEST(FrameDecoder, TruncatedFrameAsksForExactlyTheMissingBytes) {
  FrameEncoder encoder(session_from(7), Direction::kDialerToAcceptor);
  const auto frame = encoder.encode(FrameType::kMessage, 3, bytes_of("hello, peer"));
  FrameDecoder decoder = authenticated_decoder(session_from(7));

  const DecodeResult short_header = decoder.decode(std::span(frame).first(5));
  EXPECT_EQ(short_header.status, DecodeStatus::kNeedMore);
  EXPECT_EQ(short_header.needed, kFrameHeaderBytes);

  const DecodeResult header_only = decoder.decode(std::span(frame).first(kFrameHeaderBytes));
  EXPECT_EQ(header_only.status, DecodeStatus::kNeedMore);
  EXPECT_EQ(header_only.needed, frame.size());

  const DecodeResult all_but_one = decoder.decode(std::span(frame).first(frame.size() - 1));
  EXPECT_EQ(all_but_one.status, DecodeStatus::kNeedMore);

  const DecodeResult complete = decoder.decode(frame);
  ASSERT_EQ(complete.status, DecodeStatus::kFrame);
  EXPECT_EQ(complete.frame.kind, 3);
  EXPECT_EQ(std::string(complete.frame.payload.begin(), complete.frame.payload.end()),
            "hello, peer");
}

TEST(FrameDecoder, OversizedLengthIsRefusedFromTheHeaderAlone) {
  FrameDecoder decoder = authenticated_decoder(session_from(1));
  const auto header =
      encode_frame_header(FrameHeader{kProtocolVersion, FrameType::kMessage, 0, 0x40000001u, 0});
  const DecodeResult result = decoder.decode(header);
  ASSERT_EQ(result.status, DecodeStatus::kError);
  EXPECT_STREQ(result.error, "oversized frame");
  EXPECT_EQ(result.claimed_length, 0x40000001u);
  EXPECT_EQ(result.length_limit, kMaxFramePayload);
}

TEST(FrameDecoder, StrangerCannotAnnounceALargeHandshakeFrame) {
  FrameDecoder decoder;
  const auto header = encode_frame_header(
      FrameHeader{kProtocolVersion, FrameType::kHello, 0, kMaxHandshakePayload + 1, 0});
  const DecodeResult result = decoder.decode(header);
  ASSERT_EQ(result.status, DecodeStatus::kError);
  EXPECT_EQ(result.length_limit, kMaxHandshakePayload);
}

TEST(FrameDecoder, AuthenticatedFramesRoundTripInSequence) {
  FrameEncoder encoder(session_from(9), Direction::kDialerToAcceptor);
  FrameDecoder decoder = authenticated_decoder(session_from(9));
  std::vector<std::uint8_t> stream;
  for (int i = 0; i < 5; ++i) {
    const auto frame = encoder.encode(FrameType::kMessage, static_cast<std::uint8_t>(i),
                                      bytes_of("payload " + std::to_string(i)));
    stream.insert(stream.end(), frame.begin(), frame.end());
  }
  std::span<const std::uint8_t> rest = stream;
  for (int i = 0; i < 5; ++i) {
    const DecodeResult result = decoder.decode(rest);
    ASSERT_EQ(result.status, DecodeStatus::kFrame) << result.error;
    EXPECT_EQ(result.frame.kind, i);
    EXPECT_EQ(result.frame.sequence, static_cast<std::uint64_t>(i));
    EXPECT_EQ(std::string(result.frame.payload.begin(), result.frame.payload.end()),
              "payload " + std::to_string(i));
    rest = rest.subspan(result.consumed);
  }
  EXPECT_TRUE(rest.empty());
  EXPECT_EQ(decoder.next_sequence(), 5u);
}

TEST(FrameDecoder, CorruptedPayloadFailsTheMac) {
  FrameEncoder encoder(session_from(2), Direction::kDialerToAcceptor);
  auto frame = encoder.encode(FrameType::kMessage, 1, bytes_of("committed entries"));
  frame[kFrameHeaderBytes + 3] ^= 0x01;
  FrameDecoder decoder = authenticated_decoder(session_from(2));
  const DecodeResult result = decoder.decode(frame);
  ASSERT_EQ(result.status, DecodeStatus::kError);
  EXPECT_NE(std::string(result.error).find("MAC mismatch"), std::string::npos);
}

TEST(FrameDecoder, FrameFromAnotherSessionFailsTheMac) {
  FrameEncoder captured_session(session_from(3), Direction::kDialerToAcceptor);
  const auto frame = captured_session.encode(FrameType::kMessage, 1, bytes_of("vote"));
  FrameDecoder other_session = authenticated_decoder(session_from(4));
  const DecodeResult result = other_session.decode(frame);
  ASSERT_EQ(result.status, DecodeStatus::kError);
  EXPECT_NE(std::string(result.error).find("MAC mismatch"), std::string::npos);
}

TEST(FrameDecoder, FrameReflectedBackToItsSenderFailsTheMac) {
  FrameEncoder encoder(session_from(5), Direction::kAcceptorToDialer);
  const auto frame = encoder.encode(FrameType::kMessage, 1, bytes_of("append"));
  FrameDecoder decoder = authenticated_decoder(session_from(5));  // expects dialer-to-acceptor
  EXPECT_EQ(decoder.decode(frame).status, DecodeStatus::kError);
}

TEST(FrameDecoder, FrameReplayedWithinTheConnectionIsRefused) {
  FrameEncoder encoder(session_from(6), Direction::kDialerToAcceptor);
  const auto frame = encoder.encode(FrameType::kMessage, 1, bytes_of("append entries"));
  FrameDecoder decoder = authenticated_decoder(session_from(6));
  ASSERT_EQ(decoder.decode(frame).status, DecodeStatus::kFrame);
  const DecodeResult replay = decoder.decode(frame);
  ASSERT_EQ(replay.status, DecodeStatus::kError);
  EXPECT_STREQ(replay.error, "replayed or out-of-order frame");
  EXPECT_EQ(replay.claimed_sequence, 0u);
  EXPECT_EQ(replay.expected_sequence, 1u);
}

TEST(FrameDecoder, ErrorsAreSticky) {
  FrameDecoder decoder;
  std::vector<std::uint8_t> garbage(kFrameHeaderBytes, 0xAB);
  ASSERT_EQ(decoder.decode(garbage).status, DecodeStatus::kError);
  const auto good = encode_handshake_frame(FrameType::kProof, Mac{});
  const DecodeResult after = decoder.decode(good);
  EXPECT_EQ(after.status, DecodeStatus::kError);
  EXPECT_TRUE(decoder.failed());
}

TEST(FrameDecoder, RefusesBadMagicVersionTypeAndReservedBits) {
  const auto valid = encode_handshake_frame(FrameType::kProof, Mac{});
  struct Case {
    std::size_t offset;
    std::uint8_t value;
    const char* error;
  };
  for (const Case& c :
       {Case{0, 'X', "bad frame magic (not a raftdns peer?)"},
        Case{2, 2, "unsupported protocol version"}, Case{3, 99, "unknown frame type"},
        Case{6, 1, "reserved header bytes are not zero"}}) {
    auto frame = valid;
    frame[c.offset] = c.value;
    FrameDecoder decoder;
    const DecodeResult result = decoder.decode(frame);
    ASSERT_EQ(result.status, DecodeStatus::kError) << c.error;
    EXPECT_STREQ(result.error, c.error);
  }
}

TEST(FrameDecoder, MessagesBeforeTheHandshakeAndHandshakesAfterItAreRefused) {
  FrameEncoder encoder(session_from(1), Direction::kDialerToAcceptor);
  FrameDecoder unauthenticated;
  EXPECT_EQ(unauthenticated.decode(encoder.encode(FrameType::kMessage, 0, {})).status,
            DecodeStatus::kError);
  FrameDecoder authenticated = authenticated_decoder(session_from(1));
  EXPECT_EQ(authenticated.decode(encode_handshake_frame(FrameType::kHello, {})).status,
            DecodeStatus::kError);
}

TEST(FrameDecoder, ArbitraryBytesNeverReadOutOfBounds) {
  // A bounded stand-in for the fuzz target: random and mutated streams must only ever yield
  // frames inside the input, requests for more, or errors.
  std::mt19937 random(12345);
  FrameEncoder encoder(session_from(8), Direction::kDialerToAcceptor);
  const auto seed_frame = encoder.encode(FrameType::kMessage, 1, bytes_of("seed"));
  for (int round = 0; round < 3000; ++round) {
    std::vector<std::uint8_t> input;
    if (round % 2 == 0) {
      input.resize(random() % 200);
      for (auto& byte : input) byte = static_cast<std::uint8_t>(random());
    } else {
      input = seed_frame;
      input[random() % input.size()] ^= static_cast<std::uint8_t>(1u << (random() % 8));
    }
    FrameDecoder decoder = authenticated_decoder(session_from(8));
    std::span<const std::uint8_t> rest = input;
    for (int step = 0; step < 10; ++step) {
      const DecodeResult result = decoder.decode(rest);
      if (result.status != DecodeStatus::kFrame) {
        if (result.status == DecodeStatus::kNeedMore) {
          EXPECT_GT(result.needed, rest.size());
        }
        break;
      }
      ASSERT_LE(result.consumed, rest.size());
      ASSERT_GE(result.frame.payload.data(), rest.data());
      ASSERT_LE(result.frame.payload.data() + result.frame.payload.size(),
                rest.data() + rest.size());
      rest = rest.subspan(result.consumed);
    }
  }
}

TEST(Handshake, BothEndsDeriveTheSameSecretsOnlyWithTheSameKey) {
  const Key key = generate_key();
  const auto hello = encode_hello(Hello{random_nonce(), "n2", "n1"});
  const Nonce acceptor_nonce = random_nonce();
  const HandshakeSecrets dialer = derive_handshake_secrets(key, hello, acceptor_nonce);
  const HandshakeSecrets acceptor = derive_handshake_secrets(key, hello, acceptor_nonce);
  EXPECT_TRUE(macs_equal(dialer.acceptor_proof, acceptor.acceptor_proof));
  EXPECT_TRUE(macs_equal(dialer.dialer_proof, acceptor.dialer_proof));
  EXPECT_EQ(dialer.session.bytes, acceptor.session.bytes);
  EXPECT_FALSE(macs_equal(dialer.acceptor_proof, dialer.dialer_proof));

  const HandshakeSecrets wrong_key =
      derive_handshake_secrets(generate_key(), hello, acceptor_nonce);
  EXPECT_FALSE(macs_equal(wrong_key.acceptor_proof, acceptor.acceptor_proof));
  EXPECT_FALSE(macs_equal(wrong_key.dialer_proof, acceptor.dialer_proof));
}

TEST(Handshake, EveryConnectionGetsItsOwnSessionKey) {
  const Key key = generate_key();
  const auto hello = encode_hello(Hello{random_nonce(), "n2", "n1"});
  const HandshakeSecrets first = derive_handshake_secrets(key, hello, random_nonce());
  const HandshakeSecrets second = derive_handshake_secrets(key, hello, random_nonce());
  EXPECT_NE(first.session.bytes, second.session.bytes);
}

TEST(Handshake, MalformedHellosAreRefused) {
  const auto valid = encode_hello(Hello{random_nonce(), "n2", "n1"});
  auto trailing = valid;
  trailing.push_back(0);
  EXPECT_FALSE(parse_hello(trailing).ok());
  EXPECT_FALSE(parse_hello(std::span(valid).first(valid.size() - 1)).ok());
  EXPECT_FALSE(parse_hello(std::span(valid).first(10)).ok());
  EXPECT_FALSE(parse_hello(encode_hello(Hello{random_nonce(), "", "n1"})).ok());
  EXPECT_FALSE(parse_hello(encode_hello(Hello{random_nonce(), "n\n2", "n1"})).ok());
}

TEST(Handshake, RefusalReasonCannotInjectLogLines) {
  EXPECT_EQ(parse_refusal(bytes_of("bad\nkey\x7f")), "bad?key?");
  EXPECT_EQ(parse_refusal(std::vector<std::uint8_t>(1000, 'x')).size(), kMaxRefusalReasonBytes);
}

TEST(SocketAddress, ParsesNumericIpv4AndBracketedIpv6) {
  const auto v4 = parse_socket_address("127.0.0.1:7001");
  ASSERT_TRUE(v4.ok()) << v4.error();
  EXPECT_EQ(v4->family(), AF_INET);
  EXPECT_EQ(v4->port(), 7001);
  EXPECT_EQ(v4->to_text(), "127.0.0.1:7001");
  const auto v6 = parse_socket_address("[::1]:7002");
  ASSERT_TRUE(v6.ok()) << v6.error();
  EXPECT_EQ(v6->family(), AF_INET6);
  EXPECT_EQ(v6->to_text(), "[::1]:7002");
}

TEST(SocketAddress, RefusesNamesMissingPortsAndBareIpv6) {
  for (const char* text : {"localhost:7001", "127.0.0.1", "127.0.0.1:", "127.0.0.1:70000",
                           "::1:7001", "[::1]", "[::1]7001", "127.0.0.1:7x"}) {
    const auto parsed = parse_socket_address(text);
    EXPECT_FALSE(parsed.ok()) << text;
    if (!parsed.ok()) {
      EXPECT_NE(parsed.error().find(text), std::string::npos) << parsed.error();
    }
  }
}

}  // namespace
}  // namespace raftdns::replication
