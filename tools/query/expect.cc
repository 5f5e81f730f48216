// Normalised comparison of answers against --expect values.
#include "tools/query/expect.h"

#include <arpa/inet.h>

#include "tools/query/dns_text.h"

namespace raftdns::query_tool {
namespace {

// Splits on blanks outside double quotes; a backslash escapes the next char.
std::vector<std::string> tokens(std::string_view text) {
  std::vector<std::string> out;
  std::string current;
  bool in_quotes = false;
  bool have_token = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '\\' && i + 1 < text.size()) {
      current += c;
      current += text[++i];
      have_token = true;
    } else if (c == '"') {
      in_quotes = !in_quotes;
      current += c;
      have_token = true;
    } else if (!in_quotes && (c == ' ' || c == '\t' || c == '\n')) {
      if (have_token) out.push_back(std::move(current));
      current.clear();
      have_token = false;
    } else {
      current += c;
      have_token = true;
    }
  }
  if (have_token) out.push_back(std::move(current));
  return out;
}

std::string comparable_name(std::string_view name) {
  std::string lowered = to_lower_ascii(name);
  if (lowered.empty() || lowered == ".") return ".";
  return absolute_name(lowered);
}

std::string comparable_address(int family, const std::string& text) {
  unsigned char address[16];
  if (inet_pton(family, text.c_str(), address) != 1) return text;
  char printed[INET6_ADDRSTRLEN];
  inet_ntop(family, address, printed, sizeof printed);
  return printed;
}

}  // namespace

std::string comparable_value(uint16_t type, std::string_view text) {
  auto parts = tokens(text);
  // Which fields hold names, by type.
  std::vector<size_t> name_fields;
  switch (type) {
    case kTypeA:
      if (parts.size() == 1) return comparable_address(AF_INET, parts[0]);
      break;
    case kTypeAaaa:
      if (parts.size() == 1) return comparable_address(AF_INET6, parts[0]);
      break;
    case kTypeNs:
    case kTypeCname:
    case kTypeDname:
    case kTypePtr:
      name_fields = {0};
      break;
    case kTypeMx:
      name_fields = {1};
      break;
    case kTypeSrv:
      name_fields = {3};
      break;
    case kTypeSoa:
      name_fields = {0, 1};
      break;
    case kTypeNaptr:
      name_fields = {5};
      break;
    default:
      break;
  }
  for (size_t field : name_fields) {
    if (field < parts.size()) parts[field] = comparable_name(parts[field]);
  }
  std::string out;
  for (const auto& part : parts) {
    if (!out.empty()) out += ' ';
    out += part;
  }
  return out;
}

AnswerDiff compare_answer_set(const std::vector<std::string>& expected,
                              const std::vector<AnswerValue>& actual) {
  std::vector<bool> used(actual.size(), false);
  AnswerDiff diff;
  for (const auto& want : expected) {
    bool found = false;
    for (size_t i = 0; i < actual.size() && !found; ++i) {
      if (used[i]) continue;
      const auto& have = actual[i];
      bool matches = comparable_value(have.type, want) == comparable_value(have.type, have.text) ||
                     (have.type == kTypeTxt && want == have.joined_text);
      if (matches) {
        used[i] = true;
        found = true;
      }
    }
    if (!found) diff.missing.push_back(want);
  }
  for (size_t i = 0; i < actual.size(); ++i) {
    if (!used[i]) diff.unexpected.push_back(actual[i].text);
  }
  return diff;
}

}  // namespace raftdns::query_tool
