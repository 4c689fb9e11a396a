// SPDX-License-Identifier: GPL-2.0
// Parsers for the debugfs control and filter files, the filter's match test
// and its canonical text. Input is untrusted bytes: every path is bounded.
#include "control.h"

#include <forkscope/platform.h>
#include <ktl/utility.h>

#include "probe_context.h"

namespace forkscope {
namespace {

constexpr ktl::size_t kMaxInput = 256;
constexpr ktl::u32 kMaxSample = 1000000;
constexpr ktl::u32 kMaxPid = 4194304;  // PID_MAX_LIMIT on 64-bit
constexpr ktl::size_t kMaxComm = 15;   // TASK_COMM_LEN - 1

// A piece of the caller's buffer; never NUL-terminated.
struct Span {
  const char* data = nullptr;
  ktl::size_t length = 0;
};

bool is_blank(char c) { return c == ' ' || c == '\t'; }

bool equals(Span span, const char* word) {
  ktl::size_t n = ktl::string_length(word);
  if (span.length != n) return false;
  for (ktl::size_t i = 0; i < n; ++i) {
    if (span.data[i] != word[i]) return false;
  }
  return true;
}

// Checks the raw write and strips one trailing newline and surrounding
// blanks. Returns an error message, or nullptr with *text set.
const char* prepare(const char* input, ktl::size_t length, Span* text) {
  if (length > kMaxInput) return "input longer than 256 bytes";
  if (input == nullptr && length != 0) return "no input buffer";
  if (length > 0 && input[length - 1] == '\n') --length;
  for (ktl::size_t i = 0; i < length; ++i) {
    char c = input[i];
    if (is_blank(c)) continue;
    if (c == '\0') return "embedded NUL byte";
    if (c == '\n') return "newline before the end: one line per write";
    // Signed or unsigned char: bytes >= 0x7f and control bytes both fail.
    auto byte = static_cast<ktl::u8>(c);
    if (byte < 0x20 || byte > 0x7e) return "non-printable byte";
  }
  ktl::size_t begin = 0;
  while (begin < length && is_blank(input[begin])) ++begin;
  while (length > begin && is_blank(input[length - 1])) --length;
  text->data = input + begin;
  text->length = length - begin;
  return nullptr;
}

// Splits text at blanks: returns false when no token is left.
bool next_token(Span* rest, Span* token) {
  ktl::size_t i = 0;
  while (i < rest->length && is_blank(rest->data[i])) ++i;
  if (i == rest->length) {
    rest->data += i;
    rest->length = 0;
    return false;
  }
  ktl::size_t start = i;
  while (i < rest->length && !is_blank(rest->data[i])) ++i;
  token->data = rest->data + start;
  token->length = i - start;
  rest->data += i;
  rest->length -= i;
  return true;
}

// Plain decimal only: no sign, no "0x", no leading zero (could be meant as
// octal), no trailing bytes. Values above max are rejected without wrapping.
const char* parse_number(Span text, ktl::u32 min, ktl::u32 max, const char* range_why,
                         ktl::u32* out) {
  if (text.length == 0) return "empty number";
  for (ktl::size_t i = 0; i < text.length; ++i) {
    if (text.data[i] < '0' || text.data[i] > '9') return "number must be plain decimal digits";
  }
  if (text.length > 1 && text.data[0] == '0') return "number with a leading zero";
  ktl::u64 value = 0;
  for (ktl::size_t i = 0; i < text.length; ++i) {
    value = value * 10 + static_cast<ktl::u64>(text.data[i] - '0');
    // max < 2^32, so value stays below 2^36 and cannot wrap.
    if (value > max) return range_why;
  }
  if (value < min) return range_why;
  *out = static_cast<ktl::u32>(value);
  return nullptr;
}

const char* parse_control_text(Span text, ControlCommand* command) {
  Span rest = text;
  Span word;
  if (!next_token(&rest, &word)) return "empty command";
  const char* sample_why = "sample needs a number from 1 to 1000000";
  if (equals(word, "enable")) {
    command->op = ControlCommand::Op::kEnable;
  } else if (equals(word, "disable")) {
    command->op = ControlCommand::Op::kDisable;
  } else if (equals(word, "reset")) {
    command->op = ControlCommand::Op::kReset;
  } else if (equals(word, "sample")) {
    command->op = ControlCommand::Op::kSample;
    Span number;
    if (!next_token(&rest, &number)) return sample_why;
    const char* why = parse_number(number, 1, kMaxSample, sample_why, &command->sample_every);
    if (why != nullptr) return why;
  } else if (equals(word, "detail")) {
    command->op = ControlCommand::Op::kDetail;
    Span level;
    const char* detail_why = "detail needs a level: summary, fork, exec or all";
    if (!next_token(&rest, &level)) return detail_why;
    if (!parse_detail(level.data, level.length, &command->detail)) return detail_why;
  } else if (equals(word, "calibrate")) {
    command->op = ControlCommand::Op::kCalibrate;
  } else {
    return "unknown command (enable, disable, reset, sample N, detail LEVEL, calibrate)";
  }
  Span extra;
  if (next_token(&rest, &extra)) return "unexpected text after the command: one command per write";
  return nullptr;
}

const char* parse_filter_text(Span text, Filter* filter) {
  Span rest = text;
  Span clause;
  bool seen_pid = false;
  bool seen_tgid = false;
  bool seen_comm = false;
  bool any = false;
  bool clear = false;
  const char* pid_why = "pid and tgid need a number from 1 to 4194304";
  while (next_token(&rest, &clause)) {
    any = true;
    if (equals(clause, "clear")) {
      clear = true;
      continue;
    }
    ktl::size_t eq = 0;
    while (eq < clause.length && clause.data[eq] != '=') ++eq;
    if (eq == clause.length) return "clause must be key=value (pid, tgid, comm, kind) or clear";
    Span key{clause.data, eq};
    Span value{clause.data + eq + 1, clause.length - eq - 1};
    if (equals(key, "pid")) {
      if (seen_pid) return "duplicate pid clause";
      seen_pid = true;
      ktl::u32 pid = 0;
      const char* why = parse_number(value, 1, kMaxPid, pid_why, &pid);
      if (why != nullptr) return why;
      filter->pid = static_cast<ktl::s32>(pid);
    } else if (equals(key, "tgid")) {
      if (seen_tgid) return "duplicate tgid clause";
      seen_tgid = true;
      ktl::u32 tgid = 0;
      const char* why = parse_number(value, 1, kMaxPid, pid_why, &tgid);
      if (why != nullptr) return why;
      filter->tgid = static_cast<ktl::s32>(tgid);
    } else if (equals(key, "comm")) {
      if (seen_comm) return "duplicate comm clause";
      seen_comm = true;
      if (value.length == 0) return "empty comm";
      if (value.length > kMaxComm) return "comm longer than 15 bytes";
      for (ktl::size_t i = 0; i < value.length; ++i) {
        if (value.data[i] == '=') return "comm must not contain '='";
      }
      ktl::fill_bytes(filter->comm, 0, sizeof(filter->comm));
      ktl::copy_bytes(filter->comm, value.data, value.length);
    } else if (equals(key, "kind")) {
      Kind kind;
      if (!parse_kind(value.data, value.length, &kind)) {
        return "unknown kind (fork, vfork, thread, clone, clone3, kthread, io_worker, umh)";
      }
      filter->kind_mask |= 1u << static_cast<unsigned int>(kind);
    } else {
      return "unknown filter key (pid, tgid, comm, kind)";
    }
  }
  if (clear) {
    // Checked after the loop so "clear pid=1" and "pid=1 clear" say the same.
    if (seen_pid || seen_tgid || seen_comm || filter->kind_mask != 0) {
      return "clear must be alone";
    }
    // "clear clear" is still one clear.
    *filter = Filter{};
    return nullptr;
  }
  filter->active = any;
  return nullptr;
}

// Length of s, reading at most limit bytes (comm arrays may lack a NUL).
FORKSCOPE_PROBE_CONTEXT ktl::size_t bounded_length(const char* s, ktl::size_t limit) {
  ktl::size_t n = 0;
  while (n < limit && s[n] != '\0') ++n;
  return n;
}

template <typename T>
int finish(const char* why_text, const T& parsed, T* out, const char** why) {
  if (why_text != nullptr) {
    if (why != nullptr) *why = why_text;
    return -FORKSCOPE_EINVAL;
  }
  *out = parsed;
  if (why != nullptr) *why = nullptr;
  return 0;
}

}  // namespace

FORKSCOPE_PROBE_CONTEXT bool Filter::matches(ktl::s32 task_pid, ktl::s32 task_tgid,
                                             const char* task_comm, Kind kind) const {
  if (!active) return true;
  if (pid != 0 && task_pid != pid) return false;
  if (tgid != 0 && task_tgid != tgid) return false;
  ktl::size_t comm_length = bounded_length(comm, kMaxComm);
  if (comm_length != 0) {
    if (task_comm == nullptr) return false;
    // The task's comm is at most TASK_COMM_LEN (16) bytes including its NUL.
    ktl::size_t task_length = bounded_length(task_comm, kMaxComm + 1);
    if (task_length != comm_length) return false;
    for (ktl::size_t i = 0; i < comm_length; ++i) {
      if (task_comm[i] != comm[i]) return false;
    }
  }
  if (kind_mask != 0) {
    auto index = static_cast<unsigned int>(kind);
    // Guards the shift against a corrupted Kind.
    if (index >= static_cast<unsigned int>(Kind::kCount)) return false;
    if ((kind_mask & (1u << index)) == 0) return false;
  }
  return true;
}

void append_filter(ktl::StringBuilder& out, const Filter& filter) {
  bool first = true;
  auto clause = [&](const char* key) -> ktl::StringBuilder& {
    if (!first) out.append_char(' ');
    first = false;
    return out.append(key);
  };
  if (filter.active) {
    if (filter.pid != 0) clause("pid=").append_s64(filter.pid);
    if (filter.tgid != 0) clause("tgid=").append_s64(filter.tgid);
    ktl::size_t comm_length = bounded_length(filter.comm, kMaxComm);
    if (comm_length != 0) clause("comm=").append(filter.comm, comm_length);
    for (unsigned int i = 0; i < static_cast<unsigned int>(Kind::kCount); ++i) {
      if (filter.kind_mask & (1u << i)) clause("kind=").append(kind_name(static_cast<Kind>(i)));
    }
  }
  // An active filter with no clause lets everything pass, exactly like clear.
  if (first) out.append("clear");
}

int parse_control(const char* input, ktl::size_t length, ControlCommand* out, const char** why) {
  if (out == nullptr) return finish<int>("no output", 0, nullptr, why);
  Span text;
  const char* why_text = prepare(input, length, &text);
  ControlCommand parsed;
  if (why_text == nullptr) why_text = parse_control_text(text, &parsed);
  return finish(why_text, parsed, out, why);
}

int parse_filter(const char* input, ktl::size_t length, Filter* out, const char** why) {
  if (out == nullptr) return finish<int>("no output", 0, nullptr, why);
  Span text;
  const char* why_text = prepare(input, length, &text);
  Filter parsed;
  if (why_text == nullptr) why_text = parse_filter_text(text, &parsed);
  return finish(why_text, parsed, out, why);
}

}  // namespace forkscope
