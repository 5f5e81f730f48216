// Fuzz target: what a node does with a peer's bytes, from the frame decoder to the Raft codec.
//
// The first input byte picks the mode:
//   0: the input is a list of payloads; each is sealed with a valid MAC under a fixed session
//      key, so the decoder accepts the frame, and the payload goes where the node sends it: a
//      Raft message (kind 1), the closing message of a snapshot (kind 3, after a u64), and the
//      membership change inside conf-change entries. Each frame must come back exactly.
//   1: a sealed frame is tampered with at an input-chosen octet; the decoder must never hand
//      it out as a frame.
//   2: a stranger's bytes before authentication: only handshake frames, whose payloads are
//      parsed, and the handshake secrets derived from any Hello that parses.
//   3: an authenticated stream of raw bytes, whose MACs the input would have to forge: no
//      frame may come out.
#include <algorithm>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "replication/core/types.h"
#include "replication/frame.h"
#include "replication/key.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

using namespace raftdns;
using namespace raftdns::replication;
using fuzz::broken;

constexpr const char* kTarget = "fuzz_peer_message";
constexpr std::uint8_t kKindRaft = 1;
constexpr std::uint8_t kKindSnapshotDone = 3;

SessionKey session_key() {
  SessionKey key;
  for (std::size_t i = 0; i < key.bytes.size(); ++i) {
    key.bytes[i] = static_cast<std::uint8_t>(0xC0 + i);
  }
  return key;
}

Key cluster_key() {
  Key key;
  for (std::size_t i = 0; i < key.bytes.size(); ++i)
    key.bytes[i] = static_cast<std::uint8_t>(i * 7);
  return key;
}

void raft_payload(std::span<const std::uint8_t> payload) {
  auto m = raft::decode_message(payload);
  if (!m) return;
  (void)raft::describe(*m);
  if (raft::encode_message(*m) != std::vector<std::uint8_t>(payload.begin(), payload.end())) {
    broken(kTarget, "an accepted Raft message is not its own encoding: " + raft::describe(*m));
  }
  for (const raft::Entry& e : m->entries) {
    if (e.type != raft::EntryType::conf_change) continue;
    if (auto cc = raft::decode_conf_change(e.data)) {
      if (raft::encode_conf_change(*cc) != e.data)
        broken(kTarget, "conf change re-encodes differently");
    }
  }
}

void deliver(std::uint8_t kind, std::span<const std::uint8_t> payload) {
  if (kind == kKindRaft) {
    raft_payload(payload);
  } else if (kind == kKindSnapshotDone && payload.size() >= 8) {
    raft_payload(payload.subspan(8));
  }
}

void sealed(fuzz::InputReader in) {
  struct Sent {
    std::uint8_t kind;
    std::span<const std::uint8_t> payload;
  };
  // [kind][u16 length][payload] repeated.
  std::vector<Sent> sent;
  std::vector<std::uint8_t> stream;
  FrameEncoder encoder(session_key(), Direction::kAcceptorToDialer);
  while (!in.empty() && sent.size() < 32) {
    const std::uint8_t kind = in.u8() % 5;  // kinds the node knows, and one it does not
    const auto payload = in.take(in.u16());
    sent.push_back({kind, payload});
    const auto frame = encoder.encode(FrameType::kMessage, kind, payload);
    stream.insert(stream.end(), frame.begin(), frame.end());
  }
  FrameDecoder decoder;
  decoder.authenticate(session_key(), Direction::kAcceptorToDialer);
  std::span<const std::uint8_t> rest(stream);
  for (const Sent& expected : sent) {
    const DecodeResult r = decoder.decode(rest);
    if (r.status != DecodeStatus::kFrame) {
      broken(kTarget, std::string("a validly sealed frame was not decoded: ") + r.error);
    }
    if (r.frame.type != FrameType::kMessage || r.frame.kind != expected.kind ||
        !std::equal(r.frame.payload.begin(), r.frame.payload.end(), expected.payload.begin(),
                    expected.payload.end())) {
      broken(kTarget, "a sealed frame came back different");
    }
    deliver(r.frame.kind, r.frame.payload);
    rest = rest.subspan(r.consumed);
  }
  if (!rest.empty()) broken(kTarget, "bytes left over after every sealed frame");
}

void tampered(fuzz::InputReader in) {
  const std::size_t at = in.u16();
  const std::uint8_t flip = static_cast<std::uint8_t>(in.u8() | 1);  // never a no-op
  const std::uint8_t kind = in.u8();
  const auto payload = in.rest();
  FrameEncoder encoder(session_key(), Direction::kDialerToAcceptor);
  auto frame = encoder.encode(FrameType::kMessage, kind, payload);
  frame[at % frame.size()] ^= flip;
  FrameDecoder decoder;
  decoder.authenticate(session_key(), Direction::kDialerToAcceptor);
  // Feed the whole frame and then some: a longer claimed length may want more bytes.
  std::vector<std::uint8_t> buffer = frame;
  for (int round = 0; round < 2; ++round) {
    const DecodeResult r = decoder.decode(buffer);
    if (r.status == DecodeStatus::kFrame) broken(kTarget, "a tampered frame was accepted");
    if (r.status == DecodeStatus::kError) return;
    if (r.needed <= buffer.size()) broken(kTarget, "kNeedMore without needing more");
    if (r.needed > buffer.size() + 4096) return;
    buffer.resize(r.needed, 0);
  }
}

void stranger(std::span<const std::uint8_t> input) {
  FrameDecoder decoder;
  for (int frames = 0;; ++frames) {
    const DecodeResult r = decoder.decode(input);
    if (r.status != DecodeStatus::kFrame) {
      if (r.status == DecodeStatus::kNeedMore && r.needed <= input.size()) {
        broken(kTarget, "kNeedMore without needing more");
      }
      return;
    }
    if (!is_handshake_frame(r.frame.type))
      broken(kTarget, "a non-handshake frame before authentication");
    if (r.consumed == 0 || r.consumed > input.size()) broken(kTarget, "bad consumed count");
    switch (r.frame.type) {
      case FrameType::kHello:
        if (auto hello = parse_hello(r.frame.payload)) {
          if (hello->dialer_id.size() > kMaxNodeIdBytes ||
              hello->target_id.size() > kMaxNodeIdBytes) {
            broken(kTarget, "a Hello with an oversized node id parsed");
          }
          if (encode_hello(*hello) !=
              std::vector<std::uint8_t>(r.frame.payload.begin(), r.frame.payload.end())) {
            broken(kTarget, "a Hello is not its own encoding");
          }
          Nonce nonce{};
          const auto secrets = derive_handshake_secrets(cluster_key(), r.frame.payload, nonce);
          if (macs_equal(secrets.acceptor_proof, secrets.dialer_proof)) {
            broken(kTarget, "both handshake proofs are equal");
          }
        }
        break;
      case FrameType::kWelcome:
        (void)parse_welcome(r.frame.payload);
        break;
      case FrameType::kProof:
        (void)parse_proof(r.frame.payload);
        break;
      default: {
        const std::string reason = parse_refusal(r.frame.payload);
        for (const char c : reason) {
          if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
            broken(kTarget, "a refusal reason kept a control character");
          }
        }
        break;
      }
    }
    input = input.subspan(r.consumed);
  }
}

void forged(std::span<const std::uint8_t> input) {
  FrameDecoder decoder;
  decoder.authenticate(session_key(), Direction::kDialerToAcceptor);
  const DecodeResult r = decoder.decode(input);
  if (r.status == DecodeStatus::kFrame) broken(kTarget, "a frame with a forged MAC was accepted");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::InputReader in(std::span(data, size));
  switch (in.u8() % 4) {
    case 0:
      sealed(in);
      break;
    case 1:
      tampered(in);
      break;
    case 2:
      stranger(in.rest());
      break;
    default:
      forged(in.rest());
      break;
  }
  return 0;
}
