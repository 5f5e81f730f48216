// Fuzz target: hostile DNS messages through the wire parsers and the answer engine.
//
// The input is one query packet. It is parsed by parse_query and parse_message, answered over
// UDP and over TCP from a small LMDB store (made once per process), and each response is
// checked: it parses, carries the query's ID and opcode with QR set, and fits the size the
// query was entitled to. A message that parses is also re-encoded and must parse back the same.
#include <algorithm>
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
#include "daemon/wire/message.h"
#include "daemon/zone/zone.h"
#include "tests/fuzz/fuzz_support.h"
#include "tests/fuzz/store_fixture.h"

namespace {

using namespace raftdns;
using fuzz::broken;

constexpr const char* kTarget = "fuzz_dns_query";

// A zone with every case the resolver has a branch for: delegation with glue, CNAME chains
// (in and out of zone), DNAME, wildcards, an empty non-terminal, an RRset too big for 512
// octets, and a child zone held by the same store.
constexpr const char* kZone = R"(
$TTL 300
@        SOA   ns1 hostmaster 2024010101 3600 900 604800 300
@        NS    ns1
@        NS    ns2.example.net.
@        MX    10 mail
@        TXT   "v=spf1 -all"
ns1      A     192.0.2.1
ns1      AAAA  2001:db8::1
mail     A     192.0.2.25
www      CNAME web
web      A     192.0.2.80
web      AAAA  2001:db8::80
out      CNAME www.example.net.
loop1    CNAME loop2
loop2    CNAME loop1
*.wild   A     192.0.2.99
*.wild   TXT   "wildcard"
a.b.ent  A     192.0.2.7
sub      NS    ns.sub
ns.sub   A     192.0.2.53
dn       DNAME example.net.
_sip._udp SRV  10 5 5060 sip
sip      A     192.0.2.60
big      TXT   "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
big      TXT   "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
big      TXT   "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
big      TXT   "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"
big      TXT   "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"
big      TXT   "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
)";

constexpr const char* kChildZone = R"(
$TTL 60
@        SOA   ns hostmaster 7 3600 900 604800 60
@        NS    ns
ns       A     192.0.2.200
host     A     192.0.2.201
)";

// signed.example., signed by dnssec-signzone with NSEC3 and opt-out: the
// DNSSEC answers (RRSIGs, NSEC3 proofs, referrals with and without DS) for
// DO queries. Its signatures are real but never checked by the engine.
constexpr const char* kSignedZone = R"(
signed.example.				      300 IN SOA	ns1.signed.example. hostmaster.signed.example. 1 3600 900 604800 300
signed.example.				      300 IN RRSIG	SOA 13 2 300 20361126134857 20261129134857 58530 signed.example. i7OhY852WfAbNNz8Btv7fnoiExMmEZWCLgBOrpinSW/vbqvw+LNgkJRq 8fUK5fLz47deW1ccvdAdJfk2YrL1CQ==
signed.example.				      300 IN NS		ns1.signed.example.
signed.example.				      300 IN RRSIG	NS 13 2 300 20361126134857 20261129134857 58530 signed.example. 0MryDCnNnw3o2ZtQ1LdPfdakRyGpyEVi6XpHFbLzL9m6yFeorC2YwWyX bH5PLoFUXWBlatEyLhpzgiwuqCZkOg==
signed.example.				      300 IN DNSKEY	256 3 13 S/cLu3P9WeXPqnT76sws5RDcbAtiZtPhglXxdqslpHKXuyFZdtJo/79f MToDPFddB0xTNfygUZKnwpGzzs9S/w==
signed.example.				      300 IN DNSKEY	257 3 13 KJOSfXZbTe5fH7ee4sVtpilbm7T/z0t/vLRsJFI3RqvXlVMp132vJ28P ZzNSgkRCCX9sb14GiHXjg8vNP42f6g==
signed.example.				      300 IN RRSIG	DNSKEY 13 2 300 20361126134857 20261129134857 50765 signed.example. mFiL5OUg1JiYu9IJgjdw9RvbFF894nx5Yw/GPzFC+a6iBOaosyWq5W+u UUY24XR2th3cDyYBTImxPiSiiUBmmg==
signed.example.				      300 IN RRSIG	DNSKEY 13 2 300 20361126134857 20261129134857 58530 signed.example. 5qf58PvHHnMjGPrHmG5ypRPYZFfkAEJmtpuSo2gpIJehdnmvVtd+NppR pqUgxAZgvN9Bv2Xb8uCF1QEhlDgMOg==
signed.example.				      0	IN NSEC3PARAM	1 0 0 -
signed.example.				      0	IN RRSIG	NSEC3PARAM 13 2 0 20361126134857 20261129134857 58530 signed.example. laPBpuCY/7cG5ckSCQQfLMmNT2vpc6X9xnJ7ES3jN45WjbXJqdtjxzYq /QQgUFrXMYxZAOfH3oFj+wSXuBeYjw==
ins.signed.example.			      300 IN NS		ns.ins.signed.example.
ns.ins.signed.example.			      300 IN A		192.0.2.54
ns1.signed.example.			      300 IN A		192.0.2.1
ns1.signed.example.			      300 IN RRSIG	A 13 3 300 20361126134857 20261129134857 58530 signed.example. le7FcSJbK4qyqNJcmW7mKS5WtmRc6BBvJ6kfJ4xzozRX4TjVaRLVxfKA OqqCriaxiGPVKmMq4ZwTO4PlNFyxIA==
ns.sec.signed.example.			      300 IN A		192.0.2.53
a.b.ent.signed.example.			      300 IN TXT	"deep"
a.b.ent.signed.example.			      300 IN RRSIG	TXT 13 5 300 20361126134857 20261129134857 58530 signed.example. 7rEYUGMn/n0tkPQRKqCO9JNyxbBph/owrRsy0RrGLp4t/r5lcqYy7REt khMU2xR7JvTGAqEn8/FwZ8UcEV4bDA==
sec.signed.example.			      300 IN NS		ns.sec.signed.example.
sec.signed.example.			      300 IN DS		12345 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF01234567 89ABCDEF
sec.signed.example.			      300 IN RRSIG	DS 13 3 300 20361126134857 20261129134857 58530 signed.example. 3L3N/mLkXyC4rzA6UzeCBuOLliAFvHGxgPo/gPQ4r/kJHiK2u0mDZveL xpqUGK+gly6fogS8pEQwdCe1grWEug==
alias.signed.example.			      300 IN CNAME	www.signed.example.
alias.signed.example.			      300 IN RRSIG	CNAME 13 3 300 20361126134857 20261129134857 58530 signed.example. UTvz6ckQzFX5Hq+27edpdTXF2P3ZN6KmS+J9Lp2IuNTty6kQ4UR3JfiF FwlECI6ZhFPGBVdRd4Us1OPoy7Jfvw==
www.signed.example.			      300 IN A		192.0.2.80
www.signed.example.			      300 IN RRSIG	A 13 3 300 20361126134857 20261129134857 58530 signed.example. jLm6z+13tyw8HpQMkJyGufwsA1DSBxlf1Td+fX/3CPlNHp/a1cb48rdp PmysuX4fxSB7yRu0TYPAIUtikeePeQ==
*.wild.signed.example.			      300 IN A		192.0.2.99
*.wild.signed.example.			      300 IN RRSIG	A 13 3 300 20361126134857 20261129134857 58530 signed.example. j5Dp1LckmNGvUy++IeZbiXylhHskxupDLKDRJ+HnElm8o6ugAH17d3vI rTqnV+JoMYDXzUiKPnre9Ww686K9OQ==
29J5C1K2U6CO2F4CKRD291QN4LTG4QCT.signed.example. 300 IN	NSEC3	1 1 0 - 4OQVD59PFDVU9R8G09VGMC77QO7R6H4F
29J5C1K2U6CO2F4CKRD291QN4LTG4QCT.signed.example. 300 IN	RRSIG	NSEC3 13 3 300 20361126134857 20261129134857 58530 signed.example. 02+gQP5GsU2C0qW+PoZ+DKXz/CsJa3wLl4PkOS1e++JtDjYoPvml3+Ns KHDjZm8t6mXYsYljXis5cDjJp9LBEQ==
52RM4R9VHO1TGV6U06JLL6UJ60D003NN.signed.example. 300 IN	NSEC3	1 1 0 - 84A3CC0C1N8DN7G4BQHLOBOR38DJBRLP CNAME RRSIG
52RM4R9VHO1TGV6U06JLL6UJ60D003NN.signed.example. 300 IN	RRSIG	NSEC3 13 3 300 20361126134857 20261129134857 58530 signed.example. dWlOyXtF+MZoPXUstD3iOuU7Bv0nfNv0NJfkOjnf0wUkxDpoDi5AcRAA KtjsJM3pMRivpTWn+ugQF+3dtTiiWA==
A2PCR00EQPNE8JFN3DDJELE6HLI6IAKM.signed.example. 300 IN	NSEC3	1 1 0 - BHGKT59M2J4VV52OPNJG40GIMC6VVEE0
A2PCR00EQPNE8JFN3DDJELE6HLI6IAKM.signed.example. 300 IN	RRSIG	NSEC3 13 3 300 20361126134857 20261129134857 58530 signed.example. 4hsCC/INwPQSQ5itNfzL8LTypDcwpb5eGelyYJqBp9/Me8JykEePVyDl tHLvYWa0ojFUAmfZGAohJ8wDVYtcKQ==
BHGKT59M2J4VV52OPNJG40GIMC6VVEE0.signed.example. 300 IN	NSEC3	1 1 0 - DUNPK6F07G0OJ0O1JPE9AFGMQC6ECO6D
BHGKT59M2J4VV52OPNJG40GIMC6VVEE0.signed.example. 300 IN	RRSIG	NSEC3 13 3 300 20361126134857 20261129134857 58530 signed.example. QCOBMUeQaxYTlVuhZjSR0tLhNHL2nR2QwGoQSuuME0XaonEflET/4alk AYqoEm5DxkIPobFquNJZTwJmIKVYmw==
DUNPK6F07G0OJ0O1JPE9AFGMQC6ECO6D.signed.example. 300 IN	NSEC3	1 1 0 - KE0SQCIL5SIU1E9TCLLOMQDL0793OEDC A RRSIG
DUNPK6F07G0OJ0O1JPE9AFGMQC6ECO6D.signed.example. 300 IN	RRSIG	NSEC3 13 3 300 20361126134857 20261129134857 58530 signed.example. isgJ6G0tW4ryvWhgwNkZpdTxopWxjZxPWKqairoF1hn92RSfyG5+ck8O RbXlMR+8P0uy9/ghLZyk2ioKZR8Z2A==
4OQVD59PFDVU9R8G09VGMC77QO7R6H4F.signed.example. 300 IN	NSEC3	1 1 0 - 52RM4R9VHO1TGV6U06JLL6UJ60D003NN A RRSIG
4OQVD59PFDVU9R8G09VGMC77QO7R6H4F.signed.example. 300 IN	RRSIG	NSEC3 13 3 300 20361126134857 20261129134857 58530 signed.example. 9fXvA4fJJNaPuYZpZ0X9ksru1dyHMP6sZuQk18jfifuCz6oa0NeY6csw 4sR/lcL4Mzkl/fWd5vEAUSvnCpAgEQ==
84A3CC0C1N8DN7G4BQHLOBOR38DJBRLP.signed.example. 300 IN	NSEC3	1 1 0 - A2PCR00EQPNE8JFN3DDJELE6HLI6IAKM A RRSIG
84A3CC0C1N8DN7G4BQHLOBOR38DJBRLP.signed.example. 300 IN	RRSIG	NSEC3 13 3 300 20361126134857 20261129134857 58530 signed.example. gllRE2AwewJzxfCPvEBf/ZcrMbH0xVyQN613op2QEtEN2VDEdOi9cCMj MLkHJD/N+IUFSDZIjpjtj39POQVc1g==
KE0SQCIL5SIU1E9TCLLOMQDL0793OEDC.signed.example. 300 IN	NSEC3	1 1 0 - QFN2EB91VD3B8NMOFJTMFGKIA7EHTH1S NS SOA RRSIG DNSKEY NSEC3PARAM
KE0SQCIL5SIU1E9TCLLOMQDL0793OEDC.signed.example. 300 IN	RRSIG	NSEC3 13 3 300 20361126134857 20261129134857 58530 signed.example. aw0Z7gQNI3kO2ERSfwnbJSX388HrXdW24xFtkwPyBUQlZNtltgRjEG7v jrQ3sByAzV+UjgE5z4Lnk4lwYCGTsA==
TD7AK2ONV20K98NFHKL3003IJ6CNDS1O.signed.example. 300 IN	NSEC3	1 1 0 - 29J5C1K2U6CO2F4CKRD291QN4LTG4QCT TXT RRSIG
TD7AK2ONV20K98NFHKL3003IJ6CNDS1O.signed.example. 300 IN	RRSIG	NSEC3 13 3 300 20361126134857 20261129134857 58530 signed.example. CTvdnh6gEB0kZkHjelO+ja3HvnF+ESYwVfpqhi6eChh5F97RtDnXLyrz /RqL58vkJqlpE5d54P1cayPiTKzPkg==
QFN2EB91VD3B8NMOFJTMFGKIA7EHTH1S.signed.example. 300 IN	NSEC3	1 1 0 - TD7AK2ONV20K98NFHKL3003IJ6CNDS1O NS DS RRSIG
QFN2EB91VD3B8NMOFJTMFGKIA7EHTH1S.signed.example. 300 IN	RRSIG	NSEC3 13 3 300 20361126134857 20261129134857 58530 signed.example. DqA4JBCe4OA/qodZCU1Zb/bJ0d+P4OOYmJ16UwX+5vQ9fIjNF5IgKj1Q jhmKCBoB/Z5pPjtPeV595gk+MbKTgQ==
)";

struct Fixture {
  fuzz::StoreFixture stores{kTarget, std::size_t{64} << 20};
  std::unique_ptr<store::ReadTxn> view;
  std::unique_ptr<query::Engine> engine;
  std::vector<std::uint8_t> out = std::vector<std::uint8_t>(65535);
};

void put_zone(fuzz::StoreFixture& stores, const char* origin, const char* text) {
  auto name = wire::Name::from_text(origin);
  if (!name) broken(kTarget, "fixture origin: " + name.error());
  auto zone = zone::load_zone_text(text, *name, origin);
  if (!zone) broken(kTarget, "fixture zone: " + zone.error());
  stores.must_apply(store::PutZone{*name, zone->records});
}

Fixture& fixture() {
  static Fixture* f = [] {
    auto* made = new Fixture;
    put_zone(made->stores, "example.com.", kZone);
    put_zone(made->stores, "child.example.com.", kChildZone);
    put_zone(made->stores, "signed.example.", kSignedZone);
    made->view = made->stores.store().begin_read();
    if (!made->view) broken(kTarget, "no read view");
    query::EngineConfig cfg;
    cfg.identity = "ns1.fuzz";
    cfg.version = "raftdns-fuzz";
    made->engine = std::make_unique<query::Engine>(cfg);
    std::atexit([] { delete f; });
    return made;
  }();
  return *f;
}

bool same_question(const wire::Question& a, const wire::Question& b) {
  return a.name == b.name && a.qtype == b.qtype && a.qclass == b.qclass;
}

bool same_records(const std::vector<wire::Record>& a, const std::vector<wire::Record>& b) {
  return a == b;
}

// encode_message(parse_message(x)) must parse back to the same message, when nothing was
// dropped for size.
void check_reencode(const wire::Message& m) {
  const auto bytes = wire::encode_message(m);
  wire::Message again;
  const auto err = wire::parse_message(bytes, again);
  if (err != wire::WireError::ok) {
    broken(kTarget,
           std::string("re-encoded message does not parse: ") + wire::wire_error_text(err));
  }
  if (again.header.tc && !m.header.tc) return;  // records were dropped to fit: not comparable
  const auto& h1 = m.header;
  const auto& h2 = again.header;
  if (h1.id != h2.id || h1.qr != h2.qr || h1.opcode != h2.opcode || h1.aa != h2.aa ||
      h1.rd != h2.rd || h1.ra != h2.ra || h1.ad != h2.ad || h1.cd != h2.cd) {
    broken(kTarget, "re-encoded header differs");
  }
  if (m.questions.size() != again.questions.size()) broken(kTarget, "question count differs");
  for (std::size_t i = 0; i < m.questions.size(); ++i) {
    if (!same_question(m.questions[i], again.questions[i])) broken(kTarget, "question differs");
  }
  if (!same_records(m.answer, again.answer) || !same_records(m.authority, again.authority) ||
      !same_records(m.additional, again.additional)) {
    broken(kTarget, "re-encoded records differ");
  }
  if (m.edns.has_value() != again.edns.has_value()) broken(kTarget, "EDNS presence differs");
  if (m.edns &&
      (m.edns->udp_size != again.edns->udp_size || m.edns->version != again.edns->version ||
       m.edns->do_bit != again.edns->do_bit || m.edns->options != again.edns->options)) {
    broken(kTarget, "re-encoded EDNS differs");
  }
}

void check_response(std::span<const std::uint8_t> q, std::span<const std::uint8_t> response,
                    std::size_t limit, const wire::QueryView& qv, wire::WireError query_error,
                    const char* transport) {
  const std::string where = std::string(" (") + transport + ")";
  if (response.size() > limit) {
    broken(kTarget, "response of " + std::to_string(response.size()) + " octets exceeds " +
                        std::to_string(limit) + where);
  }
  wire::Message r;
  const auto err = wire::parse_message(response, r);
  if (err != wire::WireError::ok) {
    broken(kTarget, std::string("response does not parse: ") + wire::wire_error_text(err) + where);
  }
  const std::uint16_t qid = static_cast<std::uint16_t>(q[0] << 8 | q[1]);
  if (r.header.id != qid) broken(kTarget, "response ID differs from the query ID" + where);
  if (!r.header.qr) broken(kTarget, "response without QR" + where);
  if (r.header.opcode != ((q[2] >> 3) & 0xf)) broken(kTarget, "response opcode differs" + where);
  if (r.header.rd != bool(q[2] & 1)) broken(kTarget, "RD not echoed" + where);
  if (query_error != wire::WireError::ok) {
    if (r.header.rcode != wire::rcode::FORMERR)
      broken(kTarget, "malformed query not FORMERR" + where);
    return;
  }
  if (r.questions.size() > 1) broken(kTarget, "response echoes several questions" + where);
  if (r.questions.size() == 1 && qv.has_question && !same_question(r.questions[0], qv.question)) {
    broken(kTarget, "response question differs from the query's" + where);
  }
  const bool one_question = q[4] == 0 && q[5] == 1 && qv.has_question;
  if (one_question && qv.header.opcode == wire::opcode::QUERY && qv.has_edns &&
      qv.edns_version > 0) {
    const unsigned full = r.header.rcode | (r.edns ? unsigned{r.edns->extended_rcode} << 4 : 0u);
    if (full != wire::rcode::BADVERS) broken(kTarget, "EDNS version > 0 without BADVERS" + where);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Fixture& f = fixture();
  const std::span<const std::uint8_t> q(data, std::min<std::size_t>(size, 65535));

  wire::Message parsed;
  if (wire::parse_message(q, parsed) == wire::WireError::ok) check_reencode(parsed);

  wire::QueryView qv;
  const wire::WireError query_error = wire::parse_query(q, qv);

  const bool answerable = q.size() >= wire::kHeaderSize && !(q[2] & 0x80);
  for (const auto transport : {query::Transport::udp, query::Transport::tcp}) {
    const bool tcp = transport == query::Transport::tcp;
    const std::size_t n = f.engine->answer(q, f.out, transport, *f.view);
    if (!answerable) {
      if (n != 0) broken(kTarget, "a response or a runt packet was answered");
      continue;
    }
    if (n == 0) broken(kTarget, "a query was dropped");
    // RFC 1035 §4.2.1 and RFC 6891 §6.2.5: 512 octets without EDNS, else the smaller of the
    // client's offer and ours (1232), never below 512; a malformed query gets 512.
    std::size_t limit = 65535;
    if (!tcp) {
      limit = wire::kMinUdpSize;
      if (query_error == wire::WireError::ok && qv.has_edns) {
        limit = std::clamp<std::size_t>(qv.edns_udp_size, wire::kMinUdpSize, 1232);
      }
    }
    check_response(q, std::span(f.out).first(n), limit, qv, query_error, tcp ? "tcp" : "udp");
  }
  return 0;
}
