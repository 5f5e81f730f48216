// Comparison of an answer set with the values given to --expect, and the resulting diff.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace raftdns::query_tool {

struct AnswerValue {
  uint16_t type = 0;
  std::string text;         // presentation form
  std::string joined_text;  // TXT: the strings concatenated, so `--expect hello` matches "hello"
};

// The form two values of a type are compared in: addresses re-printed
// (2001:DB8:0::1 equals 2001:db8::1), names lowercased and made absolute,
// runs of blanks collapsed outside quotes.
std::string comparable_value(uint16_t type, std::string_view text);

struct AnswerDiff {
  std::vector<std::string> missing;     // expected, not in the answer
  std::vector<std::string> unexpected;  // in the answer, not expected
  bool equal() const { return missing.empty() && unexpected.empty(); }
};

// Compares as multisets: each expected value consumes one matching answer.
AnswerDiff compare_answer_set(const std::vector<std::string>& expected,
                              const std::vector<AnswerValue>& actual);

}  // namespace raftdns::query_tool
