// The peer wire protocol: frame layout, the authenticated handshake, and the FrameDecoder.
//
// Frames
// ------
// Every frame, handshake or not, starts with a fixed 20-byte header (big-endian):
//
//   offset  size  field
//        0     2  magic "RD"
//        2     1  protocol version (kProtocolVersion)
//        3     1  frame type (FrameType)
//        4     1  kind: opaque to the transport, chosen by the caller of Transport::send
//        5     3  reserved, zero
//        8     4  payload length
//       12     8  sequence number (0 in handshake frames)
//       20     n  payload
//     20+n    32  HMAC-SHA256 tag (authenticated frames only)
//
// The length is checked against the limit of the frame's type as soon as the header is in,
// before any payload is buffered: before the handshake only small handshake frames are
// accepted (kMaxHandshakePayload), so a stranger cannot make a node buffer 64 MiB.
//
// Handshake
// ---------
// The dialer sends Hello {its nonce, its node id, the node id it expects to reach}. The
// acceptor checks both ids, picks its own nonce and answers Welcome {nonce, acceptor proof}.
// The dialer checks the acceptor proof and answers Proof {dialer proof}. Both proofs and the
// session key are HMAC-SHA256 under the cluster key over a distinct label and the transcript
// (the Hello payload bytes followed by the acceptor nonce). Either side that refuses the other
// may send one Refusal frame carrying a short reason before it closes, so both ends can log
// why.
//
// After the handshake
// -------------------
// Every frame is authenticated: the tag is HMAC-SHA256 under the per-connection session key
// over the direction byte, the header (which carries the sequence number) and the payload.
// Because the session key depends on both nonces, a frame captured from one connection fails
// its MAC on any other; because each direction numbers its frames from 0 and the receiver
// demands exactly the next number, a frame replayed within a connection is refused too.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"
#include "replication/key.h"

namespace raftdns::replication {

inline constexpr std::uint8_t kProtocolVersion = 1;
inline constexpr std::size_t kFrameHeaderBytes = 20;
inline constexpr std::size_t kFrameMacBytes = 32;
inline constexpr std::size_t kNonceBytes = 32;
inline constexpr std::size_t kSessionKeyBytes = 32;
// Big enough for a snapshot chunk, small enough that one frame cannot exhaust memory.
inline constexpr std::size_t kMaxFramePayload = std::size_t{64} << 20;
inline constexpr std::size_t kMaxHandshakePayload = 512;
inline constexpr std::size_t kMaxNodeIdBytes = 64;
inline constexpr std::size_t kMaxRefusalReasonBytes = 256;

enum class FrameType : std::uint8_t {
  kHello = 1,
  kWelcome = 2,
  kProof = 3,
  kRefusal = 4,
  kMessage = 5,    // authenticated; delivered to the caller with its kind byte
  kKeepalive = 6,  // authenticated, empty; only refreshes liveness
};

bool is_handshake_frame(FrameType type);

// The direction byte under the MAC: a frame sent one way cannot be reflected back.
enum class Direction : std::uint8_t { kDialerToAcceptor = 'D', kAcceptorToDialer = 'A' };

using Nonce = std::array<std::uint8_t, kNonceBytes>;
using Mac = std::array<std::uint8_t, kFrameMacBytes>;

struct SessionKey {
  std::array<std::uint8_t, kSessionKeyBytes> bytes{};
};

struct FrameHeader {
  std::uint8_t version = kProtocolVersion;
  FrameType type = FrameType::kMessage;
  std::uint8_t kind = 0;
  std::uint32_t payload_length = 0;
  std::uint64_t sequence = 0;
};

std::array<std::uint8_t, kFrameHeaderBytes> encode_frame_header(const FrameHeader& header);

// A decoded frame. `payload` points into the buffer passed to FrameDecoder::decode.
struct Frame {
  FrameType type = FrameType::kMessage;
  std::uint8_t kind = 0;
  std::uint64_t sequence = 0;
  std::span<const std::uint8_t> payload;
};

enum class DecodeStatus { kFrame, kNeedMore, kError };

struct DecodeResult {
  DecodeStatus status = DecodeStatus::kNeedMore;
  // kFrame: bytes the frame occupied at the start of the input (drop them, then decode again).
  std::size_t consumed = 0;
  // kNeedMore: total bytes needed at the start of the input before decode can progress.
  std::size_t needed = kFrameHeaderBytes;
  Frame frame;
  // kError: why, e.g. "frame MAC mismatch". Static text; the decoder does not allocate.
  const char* error = "";
  // kError caused by a header: the values it claimed, for the log line.
  std::uint64_t claimed_length = 0;
  std::uint64_t length_limit = 0;
  std::uint64_t expected_sequence = 0;
  std::uint64_t claimed_sequence = 0;
  std::uint8_t claimed_version = 0;
};

// Decodes frames from the start of a byte buffer. Pure (no I/O, no clock) and bounds-checked;
// the fuzz target drives it with arbitrary bytes. Feed it the bytes received so far:
//   kNeedMore -> wait until at least `needed` bytes are buffered, then call again;
//   kFrame    -> handle `frame`, drop `consumed` bytes, call again;
//   kError    -> close the connection. Errors are sticky: every later call fails the same way.
// Before authenticate() only handshake frames are accepted; after it only authenticated ones,
// whose sequence number and MAC are checked before the frame is returned.
class FrameDecoder {
 public:
  FrameDecoder() = default;

  void authenticate(const SessionKey& key, Direction incoming);
  bool authenticated() const { return key_.has_value(); }
  std::uint64_t next_sequence() const { return next_sequence_; }
  bool failed() const { return failure_.status == DecodeStatus::kError; }

  DecodeResult decode(std::span<const std::uint8_t> input);

 private:
  DecodeResult fail(DecodeResult result);

  std::optional<SessionKey> key_;
  Direction incoming_ = Direction::kDialerToAcceptor;
  std::uint64_t next_sequence_ = 0;
  DecodeResult failure_;
};

// Seals authenticated frames for one direction of one connection, numbering them from 0.
class FrameEncoder {
 public:
  FrameEncoder(const SessionKey& key, Direction outgoing) : key_(key), outgoing_(outgoing) {}

  struct Sealed {
    std::array<std::uint8_t, kFrameHeaderBytes> header;
    Mac mac;
  };
  // Header and tag for a frame; the payload goes between them on the wire. Consumes a number.
  Sealed seal(FrameType type, std::uint8_t kind, std::span<const std::uint8_t> payload);
  // The same, as one contiguous buffer.
  std::vector<std::uint8_t> encode(FrameType type, std::uint8_t kind,
                                   std::span<const std::uint8_t> payload);
  std::uint64_t next_sequence() const { return next_sequence_; }

 private:
  SessionKey key_;
  Direction outgoing_;
  std::uint64_t next_sequence_ = 0;
};

// An unauthenticated handshake frame (Hello, Welcome, Proof or Refusal).
std::vector<std::uint8_t> encode_handshake_frame(FrameType type,
                                                 std::span<const std::uint8_t> payload);

struct Hello {
  Nonce dialer_nonce{};
  std::string dialer_id;
  std::string target_id;
};
struct Welcome {
  Nonce acceptor_nonce{};
  Mac acceptor_proof{};
};

// Hello payload: nonce(32) id_len(1) dialer_id target_len(1) target_id, nothing after.
std::vector<std::uint8_t> encode_hello(const Hello& hello);
Result<Hello> parse_hello(std::span<const std::uint8_t> payload);
// Welcome payload: nonce(32) proof(32).
std::vector<std::uint8_t> encode_welcome(const Welcome& welcome);
Result<Welcome> parse_welcome(std::span<const std::uint8_t> payload);
// Proof payload: proof(32).
Result<Mac> parse_proof(std::span<const std::uint8_t> payload);
// Refusal payload: reason text. Parsing replaces control characters, so a hostile reason
// cannot forge log lines.
std::string parse_refusal(std::span<const std::uint8_t> payload);

// What both ends derive from the cluster key and the transcript.
struct HandshakeSecrets {
  Mac acceptor_proof{};
  Mac dialer_proof{};
  SessionKey session;
};
HandshakeSecrets derive_handshake_secrets(const Key& cluster_key,
                                          std::span<const std::uint8_t> hello_payload,
                                          const Nonce& acceptor_nonce);

Nonce random_nonce();
// Constant-time tag comparison.
bool macs_equal(const Mac& a, const Mac& b);

}  // namespace raftdns::replication
