// SPDX-License-Identifier: GPL-2.0
// StringBuilder: appends text and numbers into a caller-owned buffer with no
// allocation; output that does not fit is cut and remembered (truncated()).
#ifndef KTL_STRING_BUILDER_H
#define KTL_STRING_BUILDER_H

#include <ktl/types.h>

namespace ktl {

class StringBuilder {
 public:
  // buffer must hold capacity bytes; the text is always NUL-terminated.
  StringBuilder(char* buffer, size_t capacity);

  StringBuilder& append(const char* text);
  StringBuilder& append(const char* text, size_t length);
  StringBuilder& append_char(char c);
  StringBuilder& append_u64(u64 value);
  StringBuilder& append_s64(s64 value);
  StringBuilder& append_hex(u64 value);  // 0x-prefixed, lower case
  // Right-aligns value in width columns (no cut if wider).
  StringBuilder& append_u64_padded(u64 value, size_t width);
  // Left-aligns text in width columns.
  StringBuilder& append_padded(const char* text, size_t width);
  StringBuilder& append_repeat(char c, size_t count);
  // Appends text with JSON string escaping, without the quotes.
  StringBuilder& append_json_escaped(const char* text);

  const char* c_str() const { return buffer_; }
  size_t length() const { return length_; }
  bool truncated() const { return truncated_; }

 private:
  char* buffer_;
  size_t capacity_;
  size_t length_ = 0;
  bool truncated_ = false;
};

// Formats value in base 10 into out (>= 21 bytes); returns the length.
size_t format_u64(u64 value, char* out);

}  // namespace ktl

#endif  // KTL_STRING_BUILDER_H
