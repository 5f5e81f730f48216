// Legacy record types rewritten into text libzscanner reads (see legacy.h).
#include "daemon/zone/legacy.h"

#include <arpa/inet.h>

#include <cctype>
#include <charconv>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <vector>

namespace raftdns::zone::detail {
namespace {

enum class Form : uint8_t { name, strings, wks, nsap };

struct LegacyType {
  const char* mnemonic;
  uint16_t code;
  Form form;
  uint8_t min_strings, max_strings;
};

constexpr LegacyType kLegacy[] = {
    {"MD", 3, Form::name, 0, 0},       {"MF", 4, Form::name, 0, 0},
    {"MB", 7, Form::name, 0, 0},       {"MG", 8, Form::name, 0, 0},
    {"MR", 9, Form::name, 0, 0},       {"WKS", 11, Form::wks, 0, 0},
    {"X25", 19, Form::strings, 1, 1},  {"ISDN", 20, Form::strings, 1, 2},
    {"NSAP", 22, Form::nsap, 0, 0},    {"NSAP-PTR", 23, Form::name, 0, 0},
    {"GPOS", 27, Form::strings, 3, 3},
};

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::toupper(static_cast<unsigned char>(a[i])) !=
        std::toupper(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

const LegacyType* legacy_type(std::string_view token) {
  for (const auto& t : kLegacy)
    if (iequals(token, t.mnemonic)) return &t;
  return nullptr;
}

bool is_class(std::string_view t) {
  if (iequals(t, "IN") || iequals(t, "CH") || iequals(t, "CS") || iequals(t, "HS")) return true;
  return t.size() > 5 && iequals(t.substr(0, 5), "CLASS");
}
bool is_ttl(std::string_view t) {
  return !t.empty() && std::isdigit(static_cast<unsigned char>(t[0]));
}

struct Token {
  size_t begin, end;  // in the logical record's text
};

// One record's text, which may run over several lines inside parentheses.
struct RecordText {
  std::string text;  // lines joined with blanks, comments removed, parentheses kept
  size_t lines = 1;
};

// Splits at blanks and parentheses outside quotes; quotes stay in tokens.
std::vector<Token> tokens_of(const std::string& s) {
  std::vector<Token> out;
  size_t i = 0;
  while (i < s.size()) {
    char c = s[i];
    if (c == ' ' || c == '\t' || c == '(' || c == ')') {
      ++i;
      continue;
    }
    size_t start = i;
    bool quoted = false;
    for (; i < s.size(); ++i) {
      c = s[i];
      if (c == '\\' && i + 1 < s.size()) {
        ++i;
        continue;
      }
      if (c == '"') quoted = !quoted;
      if (!quoted && (c == ' ' || c == '\t' || c == '(' || c == ')')) break;
    }
    out.push_back({start, i});
  }
  return out;
}

// Scans one line from `pos`: updates the parenthesis depth and returns the
// line without its comment.
std::string scan_line(std::string_view line, int& depth, bool& quoted) {
  std::string out;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (c == '\\' && i + 1 < line.size()) {
      out.push_back(c);
      out.push_back(line[++i]);
      continue;
    }
    if (quoted) {
      if (c == '"') quoted = false;
      out.push_back(c);
      continue;
    }
    if (c == ';') break;
    if (c == '"') quoted = true;
    if (c == '(') ++depth;
    if (c == ')' && depth > 0) --depth;
    out.push_back(c);
  }
  return out;
}

std::string hex_of(const std::vector<uint8_t>& bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (uint8_t b : bytes) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 15]);
  }
  return out;
}

// Appended piece by piece: GCC 12 at -O3 reports a false -Wrestrict for a
// chain of operator+ that starts with a string literal.
std::string generic(uint16_t code, const std::vector<uint8_t>& rdata) {
  std::string out = "TYPE";
  out += std::to_string(code);
  out += " \\# ";
  out += std::to_string(rdata.size());
  if (!rdata.empty()) {
    out += ' ';
    out += hex_of(rdata);
  }
  return out;
}

std::optional<unsigned> number(std::string_view t, unsigned max) {
  unsigned v = 0;
  auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (ec != std::errc() || p != t.data() + t.size() || v > max) return std::nullopt;
  return v;
}

// A service's port by its /etc/services name for `protocol` (6 or 17).
std::optional<unsigned> service_port(std::string_view name, unsigned protocol) {
  std::ifstream in("/etc/services");
  const char* proto = protocol == 6 ? "tcp" : protocol == 17 ? "udp" : nullptr;
  if (!in || !proto) return std::nullopt;
  std::string line;
  while (std::getline(in, line)) {
    if (auto hash = line.find('#'); hash != std::string::npos) line.resize(hash);
    std::istringstream words(line);
    std::string service, port_proto, alias;
    if (!(words >> service >> port_proto)) continue;
    auto slash = port_proto.find('/');
    if (slash == std::string::npos || port_proto.substr(slash + 1) != proto) continue;
    bool match = iequals(service, name);
    while (!match && words >> alias) match = iequals(alias, name);
    if (match) return number(std::string_view(port_proto).substr(0, slash), 65535);
  }
  return std::nullopt;
}

Result<std::vector<uint8_t>> wks_rdata(const std::vector<std::string>& words) {
  if (words.size() < 2) return make_error("WKS needs an address, a protocol and services");
  in_addr addr{};
  if (inet_pton(AF_INET, words[0].c_str(), &addr) != 1) {
    return make_error("bad WKS address \"" + words[0] + "\"");
  }
  unsigned protocol = 0;
  if (iequals(words[1], "tcp")) {
    protocol = 6;
  } else if (iequals(words[1], "udp")) {
    protocol = 17;
  } else if (auto n = number(words[1], 255)) {
    protocol = *n;
  } else {
    return make_error("bad WKS protocol \"" + words[1] + "\"");
  }
  std::vector<uint8_t> rdata(4);
  std::memcpy(rdata.data(), &addr, 4);
  rdata.push_back(static_cast<uint8_t>(protocol));
  std::vector<uint8_t> bitmap;
  for (size_t i = 2; i < words.size(); ++i) {
    auto port = number(words[i], 65535);
    if (!port) port = service_port(words[i], protocol);
    if (!port) return make_error("unknown WKS service \"" + words[i] + "\"");
    size_t byte = *port / 8;
    if (bitmap.size() <= byte) bitmap.resize(byte + 1);
    bitmap[byte] |= static_cast<uint8_t>(0x80 >> (*port % 8));
  }
  rdata.insert(rdata.end(), bitmap.begin(), bitmap.end());
  return rdata;
}

Result<std::vector<uint8_t>> nsap_rdata(const std::vector<std::string>& words) {
  std::string hex;
  for (const auto& w : words) hex += w;
  if (hex.size() < 2 || hex[0] != '0' || (hex[1] != 'x' && hex[1] != 'X')) {
    return make_error("NSAP RDATA must start with 0x");
  }
  std::vector<uint8_t> out;
  int high = -1;
  for (size_t i = 2; i < hex.size(); ++i) {
    char c = hex[i];
    if (c == '.') continue;
    int v = std::isdigit(static_cast<unsigned char>(c)) ? c - '0'
            : std::isxdigit(static_cast<unsigned char>(c))
                ? std::tolower(static_cast<unsigned char>(c)) - 'a' + 10
                : -1;
    if (v < 0) return make_error("bad hex digit in NSAP RDATA \"" + hex + "\"");
    if (high < 0) {
      high = v;
    } else {
      out.push_back(static_cast<uint8_t>(high << 4 | v));
      high = -1;
    }
  }
  if (high >= 0 || out.empty()) return make_error("NSAP RDATA needs whole octets");
  return out;
}

}  // namespace

Result<std::string> rewrite_legacy_types(std::string_view text, const std::string& source,
                                         std::map<uint64_t, LegacyRecord>& retype) {
  std::vector<std::string_view> lines;
  for (size_t at = 0; at <= text.size();) {
    size_t nl = text.find('\n', at);
    if (nl == std::string_view::npos) nl = text.size();
    lines.push_back(text.substr(at, nl - at));
    at = nl + 1;
  }
  // Cheap test first: most files hold none of these types.
  bool any = false;
  for (std::string_view line : lines) {
    for (const Token& t :
         tokens_of(std::string(line.substr(0, std::min<size_t>(line.size(), 200)))))
      if (legacy_type(line.substr(t.begin, t.end - t.begin))) any = true;
    if (any) break;
  }
  if (!any) return std::string(text);

  std::vector<std::string> out(lines.begin(), lines.end());
  int depth = 0;
  bool quoted = false;
  for (size_t i = 0; i < lines.size(); ++i) {
    const bool starts_record = depth == 0 && !quoted;
    const size_t first = i;
    std::string record = scan_line(lines[i], depth, quoted);
    // Follow a record that goes on inside parentheses.
    while ((depth > 0 || quoted) && i + 1 < lines.size()) {
      record += ' ';
      record += scan_line(lines[++i], depth, quoted);
    }
    if (!starts_record || record.empty() || record[0] == '$') continue;
    auto tokens = tokens_of(record);
    size_t k = (record[0] == ' ' || record[0] == '\t') ? 0 : 1;  // past the owner
    for (size_t n = 0; n < 2 && k < tokens.size(); ++n) {
      std::string_view t(record.data() + tokens[k].begin, tokens[k].end - tokens[k].begin);
      if (!is_ttl(t) && !is_class(t)) break;
      ++k;
    }
    if (k >= tokens.size()) continue;
    const LegacyType* legacy = legacy_type(
        std::string_view(record.data() + tokens[k].begin, tokens[k].end - tokens[k].begin));
    if (!legacy) continue;
    std::vector<std::string> words;
    for (size_t j = k + 1; j < tokens.size(); ++j)
      words.push_back(record.substr(tokens[j].begin, tokens[j].end - tokens[j].begin));
    const std::string head = record.substr(0, tokens[k].begin);
    auto fail = [&](const std::string& why) -> Error {
      return make_error(source + ":" + std::to_string(first + 1) + ": " + why);
    };
    std::string rewritten;
    switch (legacy->form) {
      case Form::wks: {
        auto rdata = wks_rdata(words);
        if (!rdata) return fail(rdata.error());
        rewritten = head + generic(legacy->code, *rdata);
        break;
      }
      case Form::nsap: {
        auto rdata = nsap_rdata(words);
        if (!rdata) return fail(rdata.error());
        rewritten = head + generic(legacy->code, *rdata);
        break;
      }
      case Form::name:
      case Form::strings: {
        rewritten = head + (legacy->form == Form::name ? "PTR" : "TXT");
        for (const auto& w : words) rewritten += " " + w;
        retype[first + 1] = LegacyRecord{legacy->code, legacy->min_strings, legacy->max_strings};
        break;
      }
    }
    // The record now sits on its first line; the lines it ran over are blank.
    out[first] = rewritten;
    for (size_t j = first + 1; j <= i; ++j) out[j].clear();
  }
  std::string joined;
  for (size_t i = 0; i < out.size(); ++i) {
    joined += out[i];
    if (i + 1 < out.size()) joined.push_back('\n');
  }
  return joined;
}

}  // namespace raftdns::zone::detail
