// SPDX-License-Identifier: GPL-2.0
// JsonObject: writes one JSON object field by field into a StringBuilder,
// with the commas, quoting and escaping in one place.
#ifndef FORKSCOPE_CORE_JSON_WRITER_H
#define FORKSCOPE_CORE_JSON_WRITER_H

#include <ktl/string_builder.h>
#include <ktl/types.h>

namespace forkscope {

class JsonObject {
 public:
  explicit JsonObject(ktl::StringBuilder& out) : out_(out) { out_.append_char('{'); }
  JsonObject(const JsonObject&) = delete;
  JsonObject& operator=(const JsonObject&) = delete;

  JsonObject& field(const char* name, ktl::u64 value) {
    key(name).append_u64(value);
    return *this;
  }
  JsonObject& field(const char* name, ktl::s64 value) {
    key(name).append_s64(value);
    return *this;
  }
  JsonObject& field(const char* name, ktl::s32 value) { return field(name, ktl::s64{value}); }
  JsonObject& field(const char* name, ktl::u32 value) { return field(name, ktl::u64{value}); }
  JsonObject& field(const char* name, bool value) {
    key(name).append(value ? "true" : "false");
    return *this;
  }
  // A string, escaped; nullptr is written as null.
  JsonObject& field(const char* name, const char* text) {
    if (text == nullptr) {
      key(name).append("null");
    } else {
      key(name).append_char('"').append_json_escaped(text).append_char('"');
    }
    return *this;
  }
  JsonObject& null_field(const char* name) {
    key(name).append("null");
    return *this;
  }
  // The raw value text is the caller's (a number, or a quoted string it built).
  ktl::StringBuilder& raw_field(const char* name) { return key(name); }
  // A nested object: the caller fills it and calls close() on it first.
  ktl::StringBuilder& object_field(const char* name) { return key(name); }

  // Writes the closing brace (and a newline for JSON Lines).
  void close(bool newline = false) {
    out_.append_char('}');
    if (newline) out_.append_char('\n');
  }

 private:
  ktl::StringBuilder& key(const char* name) {
    if (!first_) out_.append_char(',');
    first_ = false;
    return out_.append_char('"').append(name).append("\":");
  }

  ktl::StringBuilder& out_;
  bool first_ = true;
};

}  // namespace forkscope

#endif  // FORKSCOPE_CORE_JSON_WRITER_H
