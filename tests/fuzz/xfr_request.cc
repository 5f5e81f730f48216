// Fuzz target: TSIG verification and the transfer request path (AXFR, IXFR
// over UDP and TCP) of the DNS workers' transfer responder.
//
// The first input byte picks the case: bit 0 signs the rest with the
// fixture's key (so the fuzzer reaches the paths behind a valid signature),
// bit 1 makes the client an allowed address, bit 2 asks over TCP. The rest is
// the request. Whatever the responder does is checked: a reply parses and
// carries the request's ID with QR set; a signed request's answer verifies
// with the key; a transfer stream ends, every message parses and verifies,
// and it starts and ends with the zone's SOA.
#include <netinet/in.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <system_error>
#include <vector>

#include "daemon/query/engine.h"
#include "daemon/store/command.h"
#include "daemon/store/read_txn.h"
#include "daemon/store/store.h"
#include "daemon/tsig/tsig.h"
#include "daemon/wire/message.h"
#include "daemon/xfr/responder.h"
#include "daemon/zone/zone.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

using namespace raftdns;
using fuzz::broken;

constexpr const char* kTarget = "fuzz_xfr_request";
constexpr uint64_t kNow = 1800000000;
constexpr const char* kSecret = "c2VjcmV0LWtleS1mb3ItdHNpZy10ZXN0cw==";

constexpr const char* kZone = R"(
$TTL 300
@        SOA   ns1 hostmaster 1 3600 900 604800 300
@        NS    ns1
ns1      A     192.0.2.1
www      A     192.0.2.80
sub      NS    ns.sub
ns.sub   A     192.0.2.53
)";

struct Fixture {
  std::filesystem::path dir;
  std::unique_ptr<store::Store> store;
  std::unique_ptr<store::ReadTxn> view;
  std::shared_ptr<xfr::TransferSettings> settings;
  xfr::RefusalLog refusals;
  std::unique_ptr<xfr::Responder> responder;
  std::unique_ptr<query::Engine> engine;
  std::vector<uint8_t> out = std::vector<uint8_t>(65535);

  ~Fixture() {
    responder.reset();
    view.reset();
    store.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

void apply(store::Store& s, uint64_t index, const store::Command& c) {
  const auto bytes = store::encode_command(c);
  const store::ApplyItem item{index, 1, bytes};
  std::vector<Status> outcomes;
  if (auto st = s.apply(std::span(&item, 1), &outcomes); !st) broken(kTarget, st.error());
  if (outcomes.size() != 1 || !outcomes[0]) broken(kTarget, "fixture command refused");
}

Fixture& fixture() {
  static Fixture* f = [] {
    auto* made = new Fixture;
    std::string tmpl = (std::filesystem::temp_directory_path() / "raftdns-fuzz-xfr-XXXXXX");
    if (!::mkdtemp(tmpl.data())) broken(kTarget, "mkdtemp failed");
    made->dir = tmpl;
    store::StoreOptions opts;
    opts.map_size = std::size_t{64} << 20;
    opts.journal_entries = 3;
    auto opened = store::Store::open((made->dir / "store").string(), opts);
    if (!opened) broken(kTarget, "store: " + opened.error());
    made->store = std::move(*opened);
    const auto origin = *wire::Name::from_text("example.com.");
    auto zone = zone::load_zone_text(kZone, origin, "example.com.");
    if (!zone) broken(kTarget, "fixture zone: " + zone.error());
    apply(*made->store, 1, store::PutZone{origin, zone->records});
    // Five changes: serials 2..6, the journal keeps 4..6.
    for (int i = 0; i < 5; ++i) {
      auto r = zone::parse_record("h" + std::to_string(i) + ".example.com. 60 IN A 192.0.2." +
                                  std::to_string(10 + i));
      if (!r) broken(kTarget, "fixture record");
      apply(*made->store, 2 + i, store::AddRecords{{*r}});
    }
    made->view = made->store->begin_read();
    made->settings = std::make_shared<xfr::TransferSettings>();
    auto key = tsig::make_key("xfr.example.", "hmac-sha256", kSecret);
    if (!key || !made->settings->keys.add(*key)) broken(kTarget, "fixture key");
    xfr::AllowRule by_key;
    by_key.key = key->name;
    xfr::AllowRule by_address;
    by_address.from = *xfr::Cidr::parse("127.0.0.0/8");
    made->settings->policy = xfr::TransferPolicy({by_key, by_address});
    made->responder =
        std::make_unique<xfr::Responder>(made->settings, *made->store, made->refusals);
    made->engine = std::make_unique<query::Engine>(query::EngineConfig{});
    std::atexit([] { delete f; });
    return made;
  }();
  return *f;
}

void check_message(std::span<const uint8_t> m, uint16_t id, const char* what) {
  wire::Message r;
  if (auto err = wire::parse_message(m, r); err != wire::WireError::ok) {
    broken(kTarget, std::string(what) + " does not parse: " + wire::wire_error_text(err));
  }
  if (r.header.id != id) broken(kTarget, std::string(what) + ": ID differs from the request's");
  if (!r.header.qr) broken(kTarget, std::string(what) + " without QR");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Fixture& f = fixture();
  if (size < 1) return 0;
  const uint8_t flags = data[0];
  std::vector<uint8_t> request(data + 1, data + std::min<size_t>(size, 60000));
  const tsig::Key& key = f.settings->keys.keys()[0];
  std::vector<uint8_t> request_mac;
  bool sign = (flags & 1) && request.size() >= wire::kHeaderSize;
  if (sign) {
    tsig::Signer client(key, {});
    const size_t n = request.size();
    request.resize(n + client.record_size());
    const size_t signed_len = client.sign(request, n, kNow);
    if (signed_len == 0) broken(kTarget, "cannot sign the request");
    request.resize(signed_len);
    request_mac.assign(client.last_mac().begin(), client.last_mac().end());
    // A record whose RDLENGTH runs past the end of the unsigned request
    // swallows the TSIG record appended after it: such a request is not one
    // the server can see as signed, so nothing is promised about signing.
    sign = tsig::verify_request(request, f.settings->keys, kNow).signed_ok();
  }
  sockaddr_in client{};
  client.sin_family = AF_INET;
  client.sin_addr.s_addr = htonl((flags & 2) ? 0x7f000001 : 0xc0000201);
  const bool tcp = flags & 4;
  const auto* peer = reinterpret_cast<const sockaddr*>(&client);

  auto outcome = f.responder->inspect(request, peer, tcp, *f.view, f.out, kNow);
  const uint16_t id = request.size() >= 2 ? static_cast<uint16_t>(request[0] << 8 | request[1]) : 0;
  using K = xfr::Responder::Kind;
  switch (outcome.kind) {
    case K::pass:
      break;
    case K::reply: {
      if (outcome.length == 0 || outcome.length > f.out.size()) broken(kTarget, "empty reply");
      std::span<const uint8_t> reply(f.out.data(), outcome.length);
      check_message(reply, id, "reply");
      if (sign) {
        tsig::ResponseVerifier v(key, request_mac);
        if (auto s = v.next(reply, kNow); !s) broken(kTarget, "signed reply: " + s.error());
      }
      break;
    }
    case K::engine_then_sign: {
      if (!sign) broken(kTarget, "an unsigned request was passed on for signing");
      if (outcome.unsigned_query.size() >= request.size()) broken(kTarget, "TSIG not stripped");
      size_t n = f.engine->answer(outcome.unsigned_query, f.out, query::Transport::tcp, *f.view);
      n = f.responder->sign_answer(f.out, n, kNow);
      if (n == 0) break;
      std::span<const uint8_t> reply(f.out.data(), n);
      check_message(reply, id, "signed answer");
      tsig::ResponseVerifier v(key, request_mac);
      if (auto s = v.next(reply, kNow); !s) broken(kTarget, "signed answer: " + s.error());
      break;
    }
    case K::transfer: {
      if (!tcp || !outcome.transfer) broken(kTarget, "a transfer outside TCP");
      std::optional<tsig::ResponseVerifier> v;
      if (sign) v.emplace(key, request_mac);
      size_t messages = 0, soas = 0;
      bool first_record_is_soa = false, last_record_is_soa = false;
      while (!outcome.transfer->done()) {
        if (++messages > 1000) broken(kTarget, "a transfer does not end");
        const size_t n = outcome.transfer->next(f.out, kNow);
        if (n == 0) break;
        std::span<const uint8_t> m(f.out.data(), n);
        check_message(m, id, "transfer message");
        if (v) {
          if (auto s = v->next(m, kNow); !s) broken(kTarget, "transfer message: " + s.error());
        }
        wire::Message parsed;
        (void)wire::parse_message(m, parsed);
        if (parsed.header.rcode != 0) break;
        for (size_t i = 0; i < parsed.answer.size(); ++i) {
          const bool soa = parsed.answer[i].type == wire::rrtype::SOA;
          if (messages == 1 && i == 0) first_record_is_soa = soa;
          last_record_is_soa = soa;
          soas += soa;
        }
      }
      if (!first_record_is_soa || !last_record_is_soa || soas < 2) {
        broken(kTarget, "a transfer is not framed by SOA records");
      }
      break;
    }
  }
  return 0;
}
