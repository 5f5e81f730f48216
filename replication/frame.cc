// The peer wire protocol: frame layout, the authenticated handshake, and the FrameDecoder.
#include "replication/frame.h"

#include <sodium.h>

#include <algorithm>
#include <cstring>
#include <string_view>

#include "common/bytes.h"
#include "replication/sodium.h"

namespace raftdns::replication {
namespace {

static_assert(crypto_auth_hmacsha256_BYTES == kFrameMacBytes);
static_assert(crypto_auth_hmacsha256_KEYBYTES == kSessionKeyBytes);
static_assert(crypto_auth_hmacsha256_KEYBYTES == kClusterKeyBytes);

constexpr std::uint8_t kMagic0 = 'R';
constexpr std::uint8_t kMagic1 = 'D';

// Labels keep the three values derived from one transcript independent of each other.
constexpr std::string_view kAcceptorProofLabel = "raftdns peer v1 acceptor proof";
constexpr std::string_view kDialerProofLabel = "raftdns peer v1 dialer proof";
constexpr std::string_view kSessionLabel = "raftdns peer v1 session key";

bool is_known_type(std::uint8_t type) {
  return type >= static_cast<std::uint8_t>(FrameType::kHello) &&
         type <= static_cast<std::uint8_t>(FrameType::kKeepalive);
}

Mac frame_mac(const SessionKey& key, Direction direction,
              std::span<const std::uint8_t, kFrameHeaderBytes> header,
              std::span<const std::uint8_t> payload) {
  crypto_auth_hmacsha256_state state;
  crypto_auth_hmacsha256_init(&state, key.bytes.data(), key.bytes.size());
  const auto direction_byte = static_cast<std::uint8_t>(direction);
  crypto_auth_hmacsha256_update(&state, &direction_byte, 1);
  crypto_auth_hmacsha256_update(&state, header.data(), header.size());
  crypto_auth_hmacsha256_update(&state, payload.data(), payload.size());
  Mac mac;
  crypto_auth_hmacsha256_final(&state, mac.data());
  return mac;
}

Mac transcript_mac(const Key& cluster_key, std::string_view label,
                   std::span<const std::uint8_t> hello_payload, const Nonce& acceptor_nonce) {
  crypto_auth_hmacsha256_state state;
  crypto_auth_hmacsha256_init(&state, cluster_key.bytes.data(), cluster_key.bytes.size());
  crypto_auth_hmacsha256_update(&state, reinterpret_cast<const unsigned char*>(label.data()),
                                label.size());
  // The hello's length goes in first so the transcript splits into its parts one way only.
  std::uint8_t hello_length[4];
  bytes::store_u32(hello_length, static_cast<std::uint32_t>(hello_payload.size()));
  crypto_auth_hmacsha256_update(&state, hello_length, sizeof hello_length);
  crypto_auth_hmacsha256_update(&state, hello_payload.data(), hello_payload.size());
  crypto_auth_hmacsha256_update(&state, acceptor_nonce.data(), acceptor_nonce.size());
  Mac mac;
  crypto_auth_hmacsha256_final(&state, mac.data());
  return mac;
}

bool valid_node_id(std::string_view id) {
  if (id.empty() || id.size() > kMaxNodeIdBytes) return false;
  for (const char c : id) {
    if (c <= ' ' || c > '~') return false;
  }
  return true;
}

Error malformed(std::string_view what, std::string_view why) {
  return make_error("malformed " + std::string(what) + ": " + std::string(why));
}

}  // namespace

bool is_handshake_frame(FrameType type) {
  return type == FrameType::kHello || type == FrameType::kWelcome || type == FrameType::kProof ||
         type == FrameType::kRefusal;
}

std::array<std::uint8_t, kFrameHeaderBytes> encode_frame_header(const FrameHeader& header) {
  std::array<std::uint8_t, kFrameHeaderBytes> bytes{};
  bytes[0] = kMagic0;
  bytes[1] = kMagic1;
  bytes[2] = header.version;
  bytes[3] = static_cast<std::uint8_t>(header.type);
  bytes[4] = header.kind;
  bytes::store_u32(bytes.data() + 8, header.payload_length);
  bytes::store_u64(bytes.data() + 12, header.sequence);
  return bytes;
}

void FrameDecoder::authenticate(const SessionKey& key, Direction incoming) {
  key_ = key;
  incoming_ = incoming;
  next_sequence_ = 0;
}

DecodeResult FrameDecoder::fail(DecodeResult result) {
  result.status = DecodeStatus::kError;
  result.consumed = 0;
  result.needed = 0;
  failure_ = result;
  return result;
}

DecodeResult FrameDecoder::decode(std::span<const std::uint8_t> input) {
  if (failed()) return failure_;
  DecodeResult result;
  if (input.size() < kFrameHeaderBytes) {
    result.needed = kFrameHeaderBytes;
    return result;
  }
  const std::uint8_t* header = input.data();
  if (header[0] != kMagic0 || header[1] != kMagic1) {
    result.error = "bad frame magic (not a raftdns peer?)";
    return fail(result);
  }
  if (header[2] != kProtocolVersion) {
    result.error = "unsupported protocol version";
    result.claimed_version = header[2];
    return fail(result);
  }
  if (!is_known_type(header[3])) {
    result.error = "unknown frame type";
    return fail(result);
  }
  if (header[5] != 0 || header[6] != 0 || header[7] != 0) {
    result.error = "reserved header bytes are not zero";
    return fail(result);
  }
  const auto type = static_cast<FrameType>(header[3]);
  const std::uint32_t length = bytes::load_u32(header + 8);
  const std::uint64_t sequence = bytes::load_u64(header + 12);
  result.claimed_length = length;
  result.claimed_sequence = sequence;

  std::size_t limit = 0;
  if (!key_) {
    if (!is_handshake_frame(type)) {
      result.error = "authenticated frame before the handshake finished";
      return fail(result);
    }
    if (sequence != 0 || header[4] != 0) {
      result.error = "handshake frame with a sequence number or kind";
      return fail(result);
    }
    limit = kMaxHandshakePayload;
  } else {
    if (is_handshake_frame(type)) {
      result.error = "handshake frame after the handshake finished";
      return fail(result);
    }
    limit = type == FrameType::kMessage ? kMaxFramePayload : 0;
  }
  if (length > limit) {
    result.error = "oversized frame";
    result.length_limit = limit;
    return fail(result);
  }
  if (key_ && sequence != next_sequence_) {
    result.error = "replayed or out-of-order frame";
    result.expected_sequence = next_sequence_;
    return fail(result);
  }

  const std::size_t mac_bytes = key_ ? kFrameMacBytes : 0;
  const std::size_t total = kFrameHeaderBytes + std::size_t{length} + mac_bytes;
  if (input.size() < total) {
    result.needed = total;
    return result;
  }
  const auto payload = input.subspan(kFrameHeaderBytes, length);
  if (key_) {
    const Mac expected = frame_mac(*key_, incoming_, input.first<kFrameHeaderBytes>(), payload);
    Mac received;
    std::memcpy(received.data(), input.data() + kFrameHeaderBytes + length, kFrameMacBytes);
    if (!macs_equal(expected, received)) {
      result.error = "frame MAC mismatch (forged, corrupted or replayed from another connection)";
      return fail(result);
    }
    ++next_sequence_;
  }
  result.status = DecodeStatus::kFrame;
  result.consumed = total;
  result.needed = 0;
  result.frame = Frame{type, header[4], sequence, payload};
  return result;
}

FrameEncoder::Sealed FrameEncoder::seal(FrameType type, std::uint8_t kind,
                                        std::span<const std::uint8_t> payload) {
  Sealed sealed;
  sealed.header = encode_frame_header(FrameHeader{
      kProtocolVersion, type, kind, static_cast<std::uint32_t>(payload.size()), next_sequence_++});
  sealed.mac = frame_mac(key_, outgoing_, sealed.header, payload);
  return sealed;
}

std::vector<std::uint8_t> FrameEncoder::encode(FrameType type, std::uint8_t kind,
                                               std::span<const std::uint8_t> payload) {
  const Sealed sealed = seal(type, kind, payload);
  std::vector<std::uint8_t> bytes;
  bytes.reserve(kFrameHeaderBytes + payload.size() + kFrameMacBytes);
  bytes.insert(bytes.end(), sealed.header.begin(), sealed.header.end());
  bytes.insert(bytes.end(), payload.begin(), payload.end());
  bytes.insert(bytes.end(), sealed.mac.begin(), sealed.mac.end());
  return bytes;
}

std::vector<std::uint8_t> encode_handshake_frame(FrameType type,
                                                 std::span<const std::uint8_t> payload) {
  const auto header = encode_frame_header(
      FrameHeader{kProtocolVersion, type, 0, static_cast<std::uint32_t>(payload.size()), 0});
  std::vector<std::uint8_t> bytes(header.begin(), header.end());
  bytes.insert(bytes.end(), payload.begin(), payload.end());
  return bytes;
}

std::vector<std::uint8_t> encode_hello(const Hello& hello) {
  std::vector<std::uint8_t> bytes(hello.dialer_nonce.begin(), hello.dialer_nonce.end());
  for (const std::string* id : {&hello.dialer_id, &hello.target_id}) {
    bytes.push_back(static_cast<std::uint8_t>(id->size()));
    bytes.insert(bytes.end(), id->begin(), id->end());
  }
  return bytes;
}

Result<Hello> parse_hello(std::span<const std::uint8_t> payload) {
  Hello hello;
  if (payload.size() < kNonceBytes) return malformed("hello", "too short");
  std::memcpy(hello.dialer_nonce.data(), payload.data(), kNonceBytes);
  std::size_t at = kNonceBytes;
  for (std::string* id : {&hello.dialer_id, &hello.target_id}) {
    if (at >= payload.size()) return malformed("hello", "truncated node id");
    const std::size_t length = payload[at++];
    if (length > payload.size() - at) return malformed("hello", "truncated node id");
    id->assign(reinterpret_cast<const char*>(payload.data() + at), length);
    at += length;
    if (!valid_node_id(*id)) return malformed("hello", "node id is empty or not printable");
  }
  if (at != payload.size()) return malformed("hello", "trailing bytes");
  return hello;
}

std::vector<std::uint8_t> encode_welcome(const Welcome& welcome) {
  std::vector<std::uint8_t> bytes(welcome.acceptor_nonce.begin(), welcome.acceptor_nonce.end());
  bytes.insert(bytes.end(), welcome.acceptor_proof.begin(), welcome.acceptor_proof.end());
  return bytes;
}

Result<Welcome> parse_welcome(std::span<const std::uint8_t> payload) {
  if (payload.size() != kNonceBytes + kFrameMacBytes) return malformed("welcome", "wrong size");
  Welcome welcome;
  std::memcpy(welcome.acceptor_nonce.data(), payload.data(), kNonceBytes);
  std::memcpy(welcome.acceptor_proof.data(), payload.data() + kNonceBytes, kFrameMacBytes);
  return welcome;
}

Result<Mac> parse_proof(std::span<const std::uint8_t> payload) {
  if (payload.size() != kFrameMacBytes) return malformed("proof", "wrong size");
  Mac proof;
  std::memcpy(proof.data(), payload.data(), kFrameMacBytes);
  return proof;
}

std::string parse_refusal(std::span<const std::uint8_t> payload) {
  std::string reason;
  const std::size_t length = std::min(payload.size(), kMaxRefusalReasonBytes);
  reason.reserve(length);
  for (std::size_t i = 0; i < length; ++i) {
    const std::uint8_t c = payload[i];
    reason.push_back(c >= ' ' && c != 0x7f ? static_cast<char>(c) : '?');
  }
  return reason;
}

HandshakeSecrets derive_handshake_secrets(const Key& cluster_key,
                                          std::span<const std::uint8_t> hello_payload,
                                          const Nonce& acceptor_nonce) {
  HandshakeSecrets secrets;
  secrets.acceptor_proof =
      transcript_mac(cluster_key, kAcceptorProofLabel, hello_payload, acceptor_nonce);
  secrets.dialer_proof =
      transcript_mac(cluster_key, kDialerProofLabel, hello_payload, acceptor_nonce);
  const Mac session = transcript_mac(cluster_key, kSessionLabel, hello_payload, acceptor_nonce);
  std::memcpy(secrets.session.bytes.data(), session.data(), kSessionKeyBytes);
  return secrets;
}

Nonce random_nonce() {
  ensure_sodium_initialized();
  Nonce nonce;
  randombytes_buf(nonce.data(), nonce.size());
  return nonce;
}

bool macs_equal(const Mac& a, const Mac& b) { return crypto_verify_32(a.data(), b.data()) == 0; }

}  // namespace raftdns::replication
