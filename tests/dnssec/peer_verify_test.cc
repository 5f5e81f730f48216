// Zones signed by raftdns::dnssec, checked by the validators from Debian:
// BIND's dnssec-verify and ldns-verify-zone. Keys made by dnssec-keygen are
// read back to check DNSKEY encoding and key tags against BIND's.
#include <gtest/gtest.h>
#include <sodium.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "daemon/dnssec/rrsig.h"
#include "daemon/dnssec/zone_check.h"
#include "daemon/dnssec/zone_signer.h"
#include "tests/dnssec/test_util.h"

namespace raftdns::dnssec {
namespace {

namespace fs = std::filesystem;
using testing::concat;
using testing::hex;
using testing::name;
using testing::name_wire;
using testing::rr;

class PeerVerify : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "dnssec-peer-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Runs a shell command in the scratch directory; returns its exit status
  // and leaves its output in `output_`.
  int run(const std::string& command) {
    std::string log = (dir_ / "out.txt").string();
    int rc =
        std::system(("cd '" + dir_.string() + "' && " + command + " >'" + log + "' 2>&1").c_str());
    std::ifstream in(log);
    std::stringstream ss;
    ss << in.rdbuf();
    output_ = ss.str();
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  }

  std::string write_zone(const std::vector<wire::Record>& records) {
    auto path = dir_ / "zone.signed";
    std::ofstream out(path);
    for (const auto& r : records) out << wire::record_to_text(r) << "\n";
    return path.string();
  }

  fs::path dir_;
  std::string output_;
};

std::vector<wire::Record> test_zone() {
  return {
      rr("example.", 6,
         concat({name_wire("ns1.example."), name_wire("Host.Example."),
                 hex("00000001 00000e10 00000258 00093a80 0000012c")})),
      rr("example.", 2, name_wire("ns1.example.")),
      rr("example.", 15, concat({hex("000a"), name_wire("Mail.example.")})),
      rr("ns1.example.", 1, hex("c0000201")),
      rr("Mail.example.", 1, hex("c0000206")),
      rr("www.example.", 1, hex("c0000202"), 300),
      rr("www.example.", 1, hex("c0000203"), 300),
      rr("www.example.", 28, hex("20010db8000000000000000000000001")),
      rr("host.deep.below.example.", 16, hex("03616263")),
      rr("*.wild.example.", 1, hex("c0000204")),
      rr("secure.example.", 2, name_wire("ns.secure.example.")),
      rr("secure.example.", 43,
         hex("1234 0d 02 00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff")),
      rr("ns.secure.example.", 1, hex("c0000205")),
      rr("insecure.example.", 2, name_wire("ns.elsewhere.")),
      rr("alias.example.", 5, name_wire("WWW.example.")),
      rr("moved.example.", 39, name_wire("Elsewhere.")),
      rr("_sip._tcp.example.", 33, concat({hex("0001 0002 13c4"), name_wire("Host.Example.")})),
      rr("a.b.c.example.", 16, hex("0474657874")),
  };
}

SigningPolicy current_policy(bool optout) {
  SigningPolicy p;
  auto now = static_cast<uint32_t>(std::time(nullptr));
  p.inception = now - 3600;
  p.expiration = now + 14 * 86400;
  p.jitter = 86400;
  p.nsec3_optout = optout;
  return p;
}

struct Case {
  uint8_t algorithm;
  bool split_keys;  // KSK + ZSK, or one CSK
  bool optout;
};

TEST_F(PeerVerify, SignedZonesPassDnssecVerifyAndLdnsVerifyZone) {
  for (Case c :
       {Case{algorithm::kEcdsaP256Sha256, true, false}, Case{algorithm::kEd25519, true, true},
        Case{algorithm::kEcdsaP256Sha256, false, true}}) {
    SCOPED_TRACE("algorithm " + std::to_string(c.algorithm) + (c.split_keys ? " KSK+ZSK" : " CSK") +
                 (c.optout ? " opt-out" : ""));
    std::vector<ZoneKey> keys;
    if (c.split_keys) {
      keys.push_back({*generate_key(c.algorithm, kKskFlags), true, true, false, true});
      keys.push_back({*generate_key(c.algorithm, kZskFlags), true, false, true, false});
    } else {
      keys.push_back({*generate_key(c.algorithm, kKskFlags), true, true, true, true});
    }
    auto zone = sign_zone(name("example."), test_zone(), keys, current_policy(c.optout));
    ASSERT_TRUE(zone) << zone.error();
    std::string file = write_zone(*zone);
    std::string z = c.split_keys ? "" : " -z";
    EXPECT_EQ(run("dnssec-verify" + z + " -o example. " + file), 0) << output_;
    EXPECT_EQ(run("ldns-verify-zone -V 2 " + file), 0) << output_;
    auto now = static_cast<uint32_t>(std::time(nullptr));
    auto self = check_signed_zone(name("example."), *zone, now);
    EXPECT_TRUE(self) << self.error();

    // The check can fail: one altered record breaks both validators.
    auto tampered = *zone;
    for (auto& r : tampered) {
      if (r.type == 28) r.rdata.back() ^= 1;
    }
    write_zone(tampered);
    EXPECT_NE(run("dnssec-verify" + z + " -o example. " + file), 0) << "altered AAAA accepted";
    EXPECT_NE(run("ldns-verify-zone " + file), 0) << "altered AAAA accepted";
    EXPECT_FALSE(check_signed_zone(name("example."), tampered, now)) << "altered AAAA accepted";
  }
}

// dnssec-keygen's private key read back here gives BIND's DNSKEY and key tag.
TEST_F(PeerVerify, KeysFromDnssecKeygenGiveBindsDnskeyAndTag) {
  for (auto [alg, bind_name] : {std::pair{algorithm::kEcdsaP256Sha256, "ECDSAP256SHA256"},
                                std::pair{algorithm::kEd25519, "ED25519"}}) {
    ASSERT_EQ(run(std::string("dnssec-keygen -q -K . -a ") + bind_name + " -f KSK example."), 0)
        << output_;
    std::string base = output_.substr(0, output_.find_first_of("\n"));  // Kexample.+013+12345
    uint16_t bind_tag = static_cast<uint16_t>(std::stoi(base.substr(base.rfind('+') + 1)));

    std::ifstream priv(dir_ / (base + ".private"));
    std::string line, secret;
    while (std::getline(priv, line)) {
      if (line.rfind("PrivateKey: ", 0) == 0) secret = line.substr(12);
    }
    ASSERT_FALSE(secret.empty());
    auto key = key_from_private(alg, kKskFlags, testing::base64(secret));
    ASSERT_TRUE(key) << key.error();
    EXPECT_EQ(key_tag(dnskey_rdata(*key)), bind_tag);

    std::ifstream pub(dir_ / (base + ".key"));
    std::string dnskey_line;
    while (std::getline(pub, line)) {
      if (!line.empty() && line[0] != ';') dnskey_line = line;
    }
    auto b64 = dnskey_line.substr(dnskey_line.find(" 257 3 ") + 9);
    EXPECT_EQ(key->public_key, testing::base64(b64)) << dnskey_line;
    fs::remove(dir_ / (base + ".private"));
    fs::remove(dir_ / (base + ".key"));
  }
}

}  // namespace
}  // namespace raftdns::dnssec
