// SPDX-License-Identifier: GPL-2.0
// StringBuilder: numbers, padding, JSON escaping, and truncation that is
// reported instead of silent.
#include <gtest/gtest.h>
#include <ktl/string_builder.h>

#include <climits>
#include <string>

namespace {

TEST(StringBuilder, FormatsNumbers) {
  char buf[128];
  ktl::StringBuilder out(buf, sizeof(buf));
  out.append_u64(0).append_char(' ').append_u64(18446744073709551615ull).append_char(' ');
  out.append_s64(-42).append_char(' ').append_s64(LLONG_MIN).append_char(' ').append_hex(
      0xdeadbeef);
  EXPECT_STREQ(buf, "0 18446744073709551615 -42 -9223372036854775808 0xdeadbeef");
  EXPECT_FALSE(out.truncated());
  EXPECT_EQ(out.length(), std::string(buf).size());
}

TEST(StringBuilder, Pads) {
  char buf[64];
  ktl::StringBuilder out(buf, sizeof(buf));
  out.append_padded("ab", 5).append_char('|').append_u64_padded(42, 6).append_char('|');
  out.append_u64_padded(1234567, 3);
  EXPECT_STREQ(buf, "ab   |    42|1234567");
}

TEST(StringBuilder, TruncatesAndSaysSo) {
  char buf[8];
  ktl::StringBuilder out(buf, sizeof(buf));
  out.append("0123456789");
  EXPECT_TRUE(out.truncated());
  EXPECT_STREQ(buf, "0123456");
  EXPECT_EQ(out.length(), 7u);
  out.append_u64(5);  // further appends stay bounded
  EXPECT_STREQ(buf, "0123456");
}

TEST(StringBuilder, ZeroCapacityIsTruncatedNotACrash) {
  ktl::StringBuilder out(nullptr, 0);
  out.append("x").append_u64(1);
  EXPECT_TRUE(out.truncated());
  EXPECT_EQ(out.length(), 0u);
}

TEST(StringBuilder, EscapesJson) {
  char buf[64];
  ktl::StringBuilder out(buf, sizeof(buf));
  out.append_json_escaped("a\"b\\c\n\x01\x7f");
  EXPECT_STREQ(buf, "a\\\"b\\\\c\\u000a\\u0001\\u007f");
}

}  // namespace
