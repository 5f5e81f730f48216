// libFuzzer target for the peer FrameDecoder: stranger bytes, forged MACs, and valid frames.
//
// The first input byte picks the mode:
//   0: bytes from an unauthenticated stranger; every handshake frame is also parsed;
//   1: an authenticated stream whose MACs the fuzzer would have to forge;
//   2: messages described by the input are sealed with a valid MAC and fed to the decoder in
//      input-chosen chunks, the way the transport reads them; each must come back exactly.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <vector>

#include "replication/frame.h"

namespace {

using namespace raftdns::replication;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "frame fuzz: %s\n", what);
  std::abort();
}

SessionKey fixed_session() {
  SessionKey key;
  for (std::size_t i = 0; i < key.bytes.size(); ++i) key.bytes[i] = static_cast<std::uint8_t>(i);
  return key;
}

// Decodes everything in `input`; returns how many frames it yielded. Checks the decoder's
// promises: frames lie inside the input, kNeedMore asks for more than it was given.
std::size_t drain(FrameDecoder& decoder, std::span<const std::uint8_t> input,
                  bool parse_handshake) {
  std::size_t frames = 0;
  for (;; ++frames) {
    const DecodeResult result = decoder.decode(input);
    if (result.status == DecodeStatus::kError) return frames;
    if (result.status == DecodeStatus::kNeedMore) {
      if (result.needed <= input.size()) fail("kNeedMore without needing more");
      return frames;
    }
    if (result.consumed == 0 || result.consumed > input.size()) fail("bad consumed count");
    const auto payload = result.frame.payload;
    if (payload.data() < input.data() ||
        payload.data() + payload.size() > input.data() + input.size()) {
      fail("payload outside the input");
    }
    if (parse_handshake) {
      switch (result.frame.type) {
        case FrameType::kHello:
          (void)parse_hello(payload);
          break;
        case FrameType::kWelcome:
          (void)parse_welcome(payload);
          break;
        case FrameType::kProof:
          (void)parse_proof(payload);
          break;
        case FrameType::kRefusal:
          (void)parse_refusal(payload);
          break;
        default:
          fail("non-handshake frame before authentication");
      }
    }
    input = input.subspan(result.consumed);
  }
}

void sealed_round_trip(std::span<const std::uint8_t> input) {
  struct Message {
    std::uint8_t kind;
    std::span<const std::uint8_t> payload;
  };
  // Input: repeated [kind][length, 1 byte][payload...]; then the rest chooses chunk sizes.
  std::vector<Message> messages;
  std::size_t at = 0;
  while (at + 2 <= input.size() && messages.size() < 64) {
    const std::uint8_t kind = input[at];
    const std::size_t length = std::min<std::size_t>(input[at + 1], input.size() - at - 2);
    messages.push_back({kind, input.subspan(at + 2, length)});
    at += 2 + length;
    if (kind == 0xFF) break;  // lets the fuzzer end the message list early
  }
  const auto chunk_sizes = input.subspan(at);

  FrameEncoder encoder(fixed_session(), Direction::kDialerToAcceptor);
  std::vector<std::uint8_t> stream;
  for (const Message& message : messages) {
    const auto frame = encoder.encode(FrameType::kMessage, message.kind, message.payload);
    stream.insert(stream.end(), frame.begin(), frame.end());
  }

  FrameDecoder decoder;
  decoder.authenticate(fixed_session(), Direction::kDialerToAcceptor);
  std::size_t received = 0;  // bytes "read from the socket" so far
  std::size_t next = 0;      // next message expected
  std::size_t chunk = 0;
  std::vector<std::uint8_t> buffer;
  std::size_t wanted = kFrameHeaderBytes;
  while (received < stream.size() || buffer.size() >= wanted) {
    if (buffer.size() < wanted) {
      const std::size_t step =
          chunk_sizes.empty() ? 7 : std::size_t{chunk_sizes[chunk++ % chunk_sizes.size()]} + 1;
      const std::size_t take = std::min(step, stream.size() - received);
      buffer.insert(buffer.end(), stream.begin() + static_cast<long>(received),
                    stream.begin() + static_cast<long>(received + take));
      received += take;
      continue;
    }
    const DecodeResult result = decoder.decode(std::span(buffer).first(wanted));
    if (result.status == DecodeStatus::kError) fail("a validly sealed frame was refused");
    if (result.status == DecodeStatus::kNeedMore) {
      if (result.needed <= wanted) fail("kNeedMore without needing more");
      wanted = result.needed;
      continue;
    }
    if (next >= messages.size()) fail("more frames than were sealed");
    const Message& expected = messages[next++];
    if (result.frame.kind != expected.kind ||
        !std::equal(result.frame.payload.begin(), result.frame.payload.end(),
                    expected.payload.begin(), expected.payload.end())) {
      fail("a frame came back different");
    }
    buffer.erase(buffer.begin(), buffer.begin() + static_cast<long>(result.consumed));
    wanted = kFrameHeaderBytes;
  }
  if (next != messages.size() || !buffer.empty()) fail("frames were lost");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::span<const std::uint8_t> input(data + 1, size - 1);
  switch (data[0] % 3) {
    case 0: {
      FrameDecoder stranger;
      drain(stranger, input, true);
      break;
    }
    case 1: {
      FrameDecoder peer;
      peer.authenticate(fixed_session(), Direction::kDialerToAcceptor);
      // Every authenticated frame needs a MAC under a key the fuzzer does not know.
      if (drain(peer, input, false) != 0) fail("a frame with a forged MAC was accepted");
      break;
    }
    default:
      sealed_round_trip(input);
      break;
  }
  return 0;
}
