// SPDX-License-Identifier: GPL-2.0
// StringBuilder: bounded text formatting for debugfs output and log lines.
#include <ktl/string_builder.h>
#include <ktl/utility.h>

namespace ktl {

size_t format_u64(u64 value, char* out) {
  char reversed[20];
  size_t n = 0;
  do {
    reversed[n++] = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value != 0);
  for (size_t i = 0; i < n; ++i) out[i] = reversed[n - 1 - i];
  out[n] = '\0';
  return n;
}

StringBuilder::StringBuilder(char* buffer, size_t capacity) : buffer_(buffer), capacity_(capacity) {
  if (capacity_ > 0) {
    buffer_[0] = '\0';
  } else {
    truncated_ = true;
  }
}

StringBuilder& StringBuilder::append(const char* text, size_t length) {
  if (capacity_ == 0) return *this;
  size_t room = capacity_ - 1 - length_;
  size_t take = min(room, length);
  copy_bytes(buffer_ + length_, text, take);
  length_ += take;
  buffer_[length_] = '\0';
  if (take < length) truncated_ = true;
  return *this;
}

StringBuilder& StringBuilder::append(const char* text) { return append(text, string_length(text)); }

StringBuilder& StringBuilder::append_char(char c) { return append(&c, 1); }

StringBuilder& StringBuilder::append_u64(u64 value) {
  char digits[21];
  size_t n = format_u64(value, digits);
  return append(digits, n);
}

StringBuilder& StringBuilder::append_s64(s64 value) {
  if (value < 0) {
    append_char('-');
    // Negate in unsigned arithmetic so the minimum value does not overflow.
    return append_u64(u64{0} - static_cast<u64>(value));
  }
  return append_u64(static_cast<u64>(value));
}

StringBuilder& StringBuilder::append_hex(u64 value) {
  char digits[16];
  size_t n = 0;
  do {
    digits[n++] = "0123456789abcdef"[value & 0xf];
    value >>= 4;
  } while (value != 0);
  append("0x", 2);
  while (n > 0) append_char(digits[--n]);
  return *this;
}

StringBuilder& StringBuilder::append_u64_padded(u64 value, size_t width) {
  char digits[21];
  size_t n = format_u64(value, digits);
  if (n < width) append_repeat(' ', width - n);
  return append(digits, n);
}

StringBuilder& StringBuilder::append_padded(const char* text, size_t width) {
  size_t n = string_length(text);
  append(text, n);
  if (n < width) append_repeat(' ', width - n);
  return *this;
}

StringBuilder& StringBuilder::append_repeat(char c, size_t count) {
  for (size_t i = 0; i < count; ++i) append_char(c);
  return *this;
}

StringBuilder& StringBuilder::append_json_escaped(const char* text) {
  for (; *text != '\0'; ++text) {
    unsigned char c = static_cast<unsigned char>(*text);
    if (c == '"' || c == '\\') {
      append_char('\\');
      append_char(static_cast<char>(c));
    } else if (c < 0x20 || c == 0x7f) {
      append("\\u00", 4);
      append_char("0123456789abcdef"[c >> 4]);
      append_char("0123456789abcdef"[c & 0xf]);
    } else {
      append_char(static_cast<char>(c));
    }
  }
  return *this;
}

}  // namespace ktl
