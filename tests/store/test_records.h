// Test helpers: names and hand-built RDATA for store and answer-engine tests.
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "daemon/wire/name.h"
#include "daemon/wire/rr.h"

namespace raftdns::testing {

inline wire::Name N(const std::string& text) {
  auto n = wire::Name::from_text(text);
  if (!n) ADD_FAILURE() << "bad name " << text << ": " << n.error();
  return n ? *n : wire::Name();
}

inline std::vector<uint8_t> name_rdata(const std::string& text) {
  auto n = N(text);
  return {n.wire().begin(), n.wire().end()};
}

inline void put16(std::vector<uint8_t>& v, uint16_t x) {
  v.push_back(static_cast<uint8_t>(x >> 8));
  v.push_back(static_cast<uint8_t>(x));
}
inline void put32(std::vector<uint8_t>& v, uint32_t x) {
  put16(v, static_cast<uint16_t>(x >> 16));
  put16(v, static_cast<uint16_t>(x));
}

inline wire::Record rr(const std::string& owner, uint32_t ttl, uint16_t type,
                       std::vector<uint8_t> rdata) {
  return wire::Record{N(owner), type, wire::rrclass::IN, ttl, std::move(rdata)};
}

inline wire::Record A(const std::string& owner, const std::string& addr, uint32_t ttl = 300) {
  std::vector<uint8_t> b(4);
  EXPECT_EQ(inet_pton(AF_INET, addr.c_str(), b.data()), 1);
  return rr(owner, ttl, wire::rrtype::A, b);
}
inline wire::Record AAAA(const std::string& owner, const std::string& addr, uint32_t ttl = 300) {
  std::vector<uint8_t> b(16);
  EXPECT_EQ(inet_pton(AF_INET6, addr.c_str(), b.data()), 1);
  return rr(owner, ttl, wire::rrtype::AAAA, b);
}
inline wire::Record NS(const std::string& owner, const std::string& target, uint32_t ttl = 3600) {
  return rr(owner, ttl, wire::rrtype::NS, name_rdata(target));
}
inline wire::Record CNAME(const std::string& owner, const std::string& target, uint32_t ttl = 300) {
  return rr(owner, ttl, wire::rrtype::CNAME, name_rdata(target));
}
inline wire::Record DNAME(const std::string& owner, const std::string& target, uint32_t ttl = 300) {
  return rr(owner, ttl, wire::rrtype::DNAME, name_rdata(target));
}
inline wire::Record MX(const std::string& owner, uint16_t pref, const std::string& target,
                       uint32_t ttl = 300) {
  std::vector<uint8_t> b;
  put16(b, pref);
  auto n = name_rdata(target);
  b.insert(b.end(), n.begin(), n.end());
  return rr(owner, ttl, wire::rrtype::MX, b);
}
inline wire::Record SRV(const std::string& owner, uint16_t prio, uint16_t weight, uint16_t port,
                        const std::string& target, uint32_t ttl = 300) {
  std::vector<uint8_t> b;
  put16(b, prio);
  put16(b, weight);
  put16(b, port);
  auto n = name_rdata(target);
  b.insert(b.end(), n.begin(), n.end());
  return rr(owner, ttl, wire::rrtype::SRV, b);
}
inline wire::Record TXT(const std::string& owner, const std::string& text, uint32_t ttl = 300) {
  std::vector<uint8_t> b;
  b.push_back(static_cast<uint8_t>(text.size()));
  b.insert(b.end(), text.begin(), text.end());
  return rr(owner, ttl, wire::rrtype::TXT, b);
}
inline wire::Record SOA(const std::string& apex, uint32_t serial, uint32_t minimum = 300,
                        uint32_t ttl = 3600) {
  auto b = name_rdata("ns1." + apex);
  auto r = name_rdata("hostmaster." + apex);
  b.insert(b.end(), r.begin(), r.end());
  put32(b, serial);
  put32(b, 7200);
  put32(b, 900);
  put32(b, 1209600);
  put32(b, minimum);
  return rr(apex, ttl, wire::rrtype::SOA, b);
}

inline uint32_t serial_of(const wire::Record& soa) {
  auto f = wire::soa_fields(soa.rdata);
  EXPECT_TRUE(f.has_value());
  return f ? f->serial : 0;
}

// A fresh directory under the system temp dir, removed at scope exit.
class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = (std::filesystem::temp_directory_path() /
             ("raftdns-test-" + std::to_string(rd()) + "-" + std::to_string(rd())))
                .string();
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace raftdns::testing
