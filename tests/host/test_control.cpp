// SPDX-License-Identifier: GPL-2.0
// Control and filter parsers against hostile input: exact accepted values,
// a table of rejected writes that must leave state alone, the filter's
// canonical text and match test, and a seeded random-bytes run.
#include <forkscope/platform.h>
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "control.h"

namespace {

using forkscope::ControlCommand;
using forkscope::Filter;
using forkscope::Kind;
using Op = ControlCommand::Op;

unsigned int bit(Kind kind) { return 1u << static_cast<unsigned int>(kind); }

bool same_filter(const Filter& a, const Filter& b) {
  return a.active == b.active && a.pid == b.pid && a.tgid == b.tgid && a.kind_mask == b.kind_mask &&
         std::memcmp(a.comm, b.comm, sizeof(a.comm)) == 0;
}

std::string describe(const Filter& f) {
  return std::string(f.active ? "active" : "inactive") + " pid=" + std::to_string(f.pid) +
         " tgid=" + std::to_string(f.tgid) + " comm=" + std::string(f.comm, strnlen(f.comm, 16)) +
         " mask=" + std::to_string(f.kind_mask);
}

std::string filter_text(const Filter& f) {
  char buf[512];
  ktl::StringBuilder out(buf, sizeof(buf));
  forkscope::append_filter(out, f);
  EXPECT_FALSE(out.truncated());
  return std::string(out.c_str(), out.length());
}

// Parses from an exactly sized heap copy so an over-read is visible to ASan.
int control(const std::string& text, ControlCommand* out, const char** why) {
  std::vector<char> bytes(text.begin(), text.end());
  return forkscope::parse_control(bytes.data(), bytes.size(), out, why);
}

int filter(const std::string& text, Filter* out, const char** why) {
  std::vector<char> bytes(text.begin(), text.end());
  return forkscope::parse_filter(bytes.data(), bytes.size(), out, why);
}

ControlCommand control_sentinel() {
  ControlCommand c;
  c.op = Op::kSample;
  c.sample_every = 777;
  return c;
}

Filter filter_sentinel() {
  Filter f;
  f.active = true;
  f.pid = 7;
  f.tgid = 8;
  std::memcpy(f.comm, "sentinel", 9);
  f.kind_mask = 0x5;
  return f;
}

Filter make_filter(int pid, int tgid, const char* comm, unsigned int mask) {
  Filter f;
  f.active = true;
  f.pid = pid;
  f.tgid = tgid;
  std::strncpy(f.comm, comm, sizeof(f.comm) - 1);
  f.kind_mask = mask;
  return f;
}

struct Rejected {
  std::string input;
  const char* why;
};

// ---- control ----

TEST(Control, AcceptsEachCommand) {
  const struct {
    std::string input;
    Op op;
    unsigned int sample;
  } cases[] = {
      {"enable", Op::kEnable, 1},
      {"enable\n", Op::kEnable, 1},
      {"  enable  ", Op::kEnable, 1},
      {"\tdisable\t\n", Op::kDisable, 1},
      {"disable", Op::kDisable, 1},
      {"reset\n", Op::kReset, 1},
      {"sample 1", Op::kSample, 1},
      {"sample 1000000", Op::kSample, 1000000},
      {"sample\t 42\n", Op::kSample, 42},
      {"  sample   7  ", Op::kSample, 7},
      {"sample 10\n", Op::kSample, 10},
      {"sample 999999 \t\n", Op::kSample, 999999},
      {"enable" + std::string(250, ' '), Op::kEnable, 1},  // exactly 256 bytes
      {"sample 3" + std::string(247, ' ') + "\n", Op::kSample, 3},
  };
  for (const auto& c : cases) {
    ControlCommand out = control_sentinel();
    const char* why = "not set";
    ASSERT_EQ(control(c.input, &out, &why), 0) << '"' << c.input << "\": " << why;
    EXPECT_EQ(why, nullptr);
    EXPECT_EQ(out.op, c.op) << c.input;
    EXPECT_EQ(out.sample_every, c.sample) << c.input;
  }
}

TEST(Control, RejectsMalformedWritesAndKeepsState) {
  const char* kUnknown =
      "unknown command (enable, disable, reset, sample N, detail LEVEL, calibrate)";
  const char* kExtra = "unexpected text after the command: one command per write";
  const char* kSample = "sample needs a number from 1 to 1000000";
  const char* kDigits = "number must be plain decimal digits";
  const char* kNul = "embedded NUL byte";
  const char* kBinary = "non-printable byte";
  const char* kNewline = "newline before the end: one line per write";
  const char* kLong = "input longer than 256 bytes";
  const Rejected cases[] = {
      {"", "empty command"},
      {"\n", "empty command"},
      {"   \t ", "empty command"},
      {" \t \n", "empty command"},
      {"\n\n", kNewline},
      {"enable\n\n", kNewline},
      {"enable\ndisable\n", kNewline},
      {"disable\n ", kNewline},
      {"enable\r\n", kBinary},
      {"Enable", kUnknown},
      {"ENABLE", kUnknown},
      {"enabled", kUnknown},
      {"enabl", kUnknown},
      {"en able", kUnknown},
      {"#enable", kUnknown},
      {"enable;", kUnknown},
      {"sample=5", kUnknown},
      {"start", kUnknown},
      {"enable disable", kExtra},
      {"enable now", kExtra},
      {"reset 1", kExtra},
      {"disable disable", kExtra},
      {"sample 5 6", kExtra},
      {"sample 5 enable", kExtra},
      {"sample", kSample},
      {"sample \n", kSample},
      {"sample 0", kSample},
      {"sample 1000001", kSample},
      {"sample 4294967297", kSample},            // 2^32 + 1 would wrap to 1 in u32
      {"sample 18446744073709551617", kSample},  // 2^64 + 1 would wrap to 1 in u64
      {"sample 99999999999999999999", kSample},
      {"sample " + std::string(200, '9'), kSample},
      {"sample -1", kDigits},
      {"sample +5", kDigits},
      {"sample 0x10", kDigits},
      {"sample 5x", kDigits},
      {"sample 1e3", kDigits},
      {"sample 5.0", kDigits},
      {"sample 1_000", kDigits},
      {"sample 010", "number with a leading zero"},
      {"sample 00", "number with a leading zero"},
      {std::string("sample\0 5", 9), kNul},
      {std::string("enable\0", 7), kNul},
      {std::string("\0", 1), kNul},
      {std::string("reset\n\0", 7), kNewline},  // the first bad byte is reported
      {"enable\x7f", kBinary},
      {"enable\xff", kBinary},
      {"sample \xd9\xa5", kBinary},  // ARABIC-INDIC DIGIT FIVE
      {"\x1b[31menable", kBinary},
      {"enable\v", kBinary},
      {"enable\f", kBinary},
      {"enable" + std::string(251, ' '), kLong},
      {std::string(257, ' '), kLong},
      {"sample 3" + std::string(248, ' ') + "\n", kLong},  // the newline counts
      {std::string(100000, 'a'), kLong},
  };
  ASSERT_GE(std::size(cases), 40u);
  for (const Rejected& c : cases) {
    ControlCommand out = control_sentinel();
    const char* why = nullptr;
    EXPECT_EQ(control(c.input, &out, &why), -FORKSCOPE_EINVAL) << '"' << c.input << '"';
    EXPECT_STREQ(why, c.why) << '"' << c.input << '"';
    EXPECT_EQ(out.op, Op::kSample) << c.input;
    EXPECT_EQ(out.sample_every, 777u) << c.input;
  }
}

TEST(Control, NullAndEmptyBuffers) {
  ControlCommand out = control_sentinel();
  const char* why = nullptr;
  EXPECT_EQ(forkscope::parse_control(nullptr, 0, &out, &why), -FORKSCOPE_EINVAL);
  EXPECT_STREQ(why, "empty command");
  EXPECT_EQ(forkscope::parse_control(nullptr, 6, &out, &why), -FORKSCOPE_EINVAL);
  EXPECT_STREQ(why, "no input buffer");
  EXPECT_EQ(out.sample_every, 777u);
  EXPECT_EQ(forkscope::parse_control("enable", 6, nullptr, &why), -FORKSCOPE_EINVAL);
  // why may be omitted.
  EXPECT_EQ(forkscope::parse_control("bogus", 5, &out, nullptr), -FORKSCOPE_EINVAL);
  EXPECT_EQ(forkscope::parse_control("reset", 5, &out, nullptr), 0);
  EXPECT_EQ(out.op, Op::kReset);
}

TEST(Control, LengthBoundsTheInput) {
  // Bytes past length are never looked at.
  ControlCommand out;
  const char* why = nullptr;
  ASSERT_EQ(forkscope::parse_control("sample 12345", 9, &out, &why), 0) << why;
  EXPECT_EQ(out.sample_every, 12u);
  ASSERT_EQ(forkscope::parse_control("enable disable", 6, &out, &why), 0) << why;
  EXPECT_EQ(out.op, Op::kEnable);
}

// ---- filter ----

TEST(Filter, AcceptsClausesWithExactValues) {
  const struct {
    std::string input;
    Filter expected;
  } cases[] = {
      {"", Filter{}},
      {"\n", Filter{}},
      {" \t\n", Filter{}},
      {"clear", Filter{}},
      {" clear \n", Filter{}},
      {"clear clear", Filter{}},
      {"pid=12", make_filter(12, 0, "", 0)},
      {"pid=1", make_filter(1, 0, "", 0)},
      {"tgid=4194304", make_filter(0, 4194304, "", 0)},
      {"comm=bash", make_filter(0, 0, "bash", 0)},
      {"comm=123456789012345\n", make_filter(0, 0, "123456789012345", 0)},
      {"comm=kworker/0:1H", make_filter(0, 0, "kworker/0:1H", 0)},
      {"\tcomm=x-y.z:1@!\t", make_filter(0, 0, "x-y.z:1@!", 0)},
      {"kind=fork kind=vfork", make_filter(0, 0, "", bit(Kind::kFork) | bit(Kind::kVfork))},
      {"kind=umh kind=fork kind=umh", make_filter(0, 0, "", bit(Kind::kUmh) | bit(Kind::kFork))},
      {"kind=io_worker", make_filter(0, 0, "", bit(Kind::kIoWorker))},
      {"pid=1 tgid=2 comm=a kind=clone3", make_filter(1, 2, "a", bit(Kind::kClone3))},
      {"kind=thread  comm=sh\tpid=5\n", make_filter(5, 0, "sh", bit(Kind::kThread))},
      {"  kind=kthread tgid=300 ", make_filter(0, 300, "", bit(Kind::kKthread))},
  };
  for (const auto& c : cases) {
    Filter out = filter_sentinel();
    const char* why = "not set";
    ASSERT_EQ(filter(c.input, &out, &why), 0) << '"' << c.input << "\": " << why;
    EXPECT_EQ(why, nullptr);
    EXPECT_TRUE(same_filter(out, c.expected))
        << '"' << c.input << "\" gave " << describe(out) << ", want " << describe(c.expected);
  }
}

TEST(Filter, RejectsMalformedWritesAndKeepsState) {
  const char* kPid = "pid and tgid need a number from 1 to 4194304";
  const char* kDigits = "number must be plain decimal digits";
  const char* kKeyValue = "clause must be key=value (pid, tgid, comm, kind) or clear";
  const char* kKey = "unknown filter key (pid, tgid, comm, kind)";
  const char* kKind = "unknown kind (fork, vfork, thread, clone, clone3, kthread, io_worker, umh)";
  const char* kAlone = "clear must be alone";
  const char* kBinary = "non-printable byte";
  const char* kNewline = "newline before the end: one line per write";
  const Rejected cases[] = {
      {"pid", kKeyValue},
      {"pid =1", kKeyValue},
      {"clearx", kKeyValue},
      {"Clear", kKeyValue},
      {"bash", kKeyValue},
      {"pid=", "empty number"},
      {"pid= 1", "empty number"},
      {"tgid=", "empty number"},
      {"pid=0", kPid},
      {"pid=4194305", kPid},
      {"tgid=0", kPid},
      {"pid=99999999999999999999", kPid},
      {"pid=4294967308", kPid},  // 2^32 + 12 would wrap to 12
      {"pid=2147483648", kPid},  // would turn negative as s32
      {"pid=-1", kDigits},
      {"pid=+1", kDigits},
      {"pid=0x10", kDigits},
      {"pid=12abc", kDigits},
      {"pid=1=2", kDigits},
      {"pid=1 tgid=x", kDigits},
      {"pid=012", "number with a leading zero"},
      {"pid=1 pid=1", "duplicate pid clause"},
      {"pid=1 pid=2", "duplicate pid clause"},
      {"tgid=1 tgid=2", "duplicate tgid clause"},
      {"comm=a comm=b", "duplicate comm clause"},
      {"comm=bash pid=1 comm=bash", "duplicate comm clause"},
      {"comm=", "empty comm"},
      {"comm=1234567890123456", "comm longer than 15 bytes"},
      {"comm=" + std::string(200, 'x'), "comm longer than 15 bytes"},
      {"comm=a=b", "comm must not contain '='"},
      {"comm==", "comm must not contain '='"},
      {"kind=", kKind},
      {"kind=Fork", kKind},
      {"kind=fork,vfork", kKind},
      {"kind=all", kKind},
      {"kind=fork kind=forks", kKind},
      {"PID=1", kKey},
      {"=1", kKey},
      {"uid=0", kKey},
      {"pid=1 bogus=2", kKey},
      {"clear pid=1", kAlone},
      {"pid=1 clear", kAlone},
      {"clear kind=fork", kAlone},
      {"comm=sh clear clear", kAlone},
      {std::string("pid=1\0", 6), "embedded NUL byte"},
      {std::string("comm=ba\0sh", 10), "embedded NUL byte"},
      {"comm=b\xc3\xa4sh", kBinary},
      {"kind=fork\r\n", kBinary},
      {"comm=\x01", kBinary},
      {"comm=bash\n\n", kNewline},
      {"pid=1\npid=2", kNewline},
      {"pid=1" + std::string(252, ' '), "input longer than 256 bytes"},
  };
  ASSERT_GE(std::size(cases), 40u);
  for (const Rejected& c : cases) {
    Filter out = filter_sentinel();
    const char* why = nullptr;
    EXPECT_EQ(filter(c.input, &out, &why), -FORKSCOPE_EINVAL) << '"' << c.input << '"';
    EXPECT_STREQ(why, c.why) << '"' << c.input << '"';
    EXPECT_TRUE(same_filter(out, filter_sentinel())) << c.input << " changed " << describe(out);
  }
}

TEST(Filter, NullBuffers) {
  Filter out = filter_sentinel();
  const char* why = nullptr;
  EXPECT_EQ(forkscope::parse_filter(nullptr, 3, &out, &why), -FORKSCOPE_EINVAL);
  EXPECT_STREQ(why, "no input buffer");
  EXPECT_TRUE(same_filter(out, filter_sentinel()));
  EXPECT_EQ(forkscope::parse_filter("pid=1", 5, nullptr, &why), -FORKSCOPE_EINVAL);
  // An empty write (even without a buffer) clears.
  EXPECT_EQ(forkscope::parse_filter(nullptr, 0, &out, &why), 0);
  EXPECT_TRUE(same_filter(out, Filter{}));
}

TEST(Filter, InactiveMatchesEverything) {
  Filter f;
  EXPECT_TRUE(f.matches(1, 1, "bash", Kind::kFork));
  EXPECT_TRUE(f.matches(0, 0, nullptr, static_cast<Kind>(200)));
  // Fields set but inactive: still everything passes.
  Filter off = make_filter(5, 5, "bash", bit(Kind::kFork));
  off.active = false;
  EXPECT_TRUE(off.matches(6, 6, "zsh", Kind::kThread));
}

TEST(Filter, EachFieldMustMatch) {
  Filter pid = make_filter(42, 0, "", 0);
  EXPECT_TRUE(pid.matches(42, 1, "x", Kind::kClone));
  EXPECT_FALSE(pid.matches(43, 42, "x", Kind::kClone));

  Filter tgid = make_filter(0, 42, "", 0);
  EXPECT_TRUE(tgid.matches(1, 42, "x", Kind::kClone));
  EXPECT_FALSE(tgid.matches(42, 41, "x", Kind::kClone));

  Filter comm = make_filter(0, 0, "bash", 0);
  EXPECT_TRUE(comm.matches(1, 1, "bash", Kind::kFork));
  EXPECT_FALSE(comm.matches(1, 1, "bash2", Kind::kFork));
  EXPECT_FALSE(comm.matches(1, 1, "bas", Kind::kFork));
  EXPECT_FALSE(comm.matches(1, 1, "Bash", Kind::kFork));
  EXPECT_FALSE(comm.matches(1, 1, "", Kind::kFork));
  EXPECT_FALSE(comm.matches(1, 1, nullptr, Kind::kFork));

  Filter kinds = make_filter(0, 0, "", bit(Kind::kFork) | bit(Kind::kVfork));
  EXPECT_TRUE(kinds.matches(1, 1, "x", Kind::kFork));
  EXPECT_TRUE(kinds.matches(1, 1, "x", Kind::kVfork));
  EXPECT_FALSE(kinds.matches(1, 1, "x", Kind::kThread));
  EXPECT_FALSE(kinds.matches(1, 1, "x", Kind::kUmh));
  EXPECT_FALSE(kinds.matches(1, 1, "x", Kind::kCount));
  EXPECT_FALSE(kinds.matches(1, 1, "x", static_cast<Kind>(255)));

  Filter all = make_filter(10, 20, "make", bit(Kind::kThread));
  EXPECT_TRUE(all.matches(10, 20, "make", Kind::kThread));
  EXPECT_FALSE(all.matches(11, 20, "make", Kind::kThread));
  EXPECT_FALSE(all.matches(10, 21, "make", Kind::kThread));
  EXPECT_FALSE(all.matches(10, 20, "cc1", Kind::kThread));
  EXPECT_FALSE(all.matches(10, 20, "make", Kind::kFork));
}

TEST(Filter, CommComparesFifteenBytes) {
  Filter f = make_filter(0, 0, "123456789012345", 0);
  EXPECT_TRUE(f.matches(1, 1, "123456789012345", Kind::kFork));
  EXPECT_FALSE(f.matches(1, 1, "12345678901234", Kind::kFork));
  // A task comm is at most 16 bytes with its NUL; 16 non-NUL bytes never match.
  const char sixteen[] = {'1', '2', '3', '4', '5', '6', '7', '8',
                          '9', '0', '1', '2', '3', '4', '5', '6'};
  EXPECT_FALSE(f.matches(1, 1, sixteen, Kind::kFork));
  // A filter comm without its NUL is read as its first 15 bytes.
  std::memcpy(f.comm, "ABCDEFGHIJKLMNOP", 16);
  EXPECT_TRUE(f.matches(1, 1, "ABCDEFGHIJKLMNO", Kind::kFork));
  EXPECT_EQ(filter_text(f), "comm=ABCDEFGHIJKLMNO");
}

TEST(Filter, CanonicalText) {
  EXPECT_EQ(filter_text(Filter{}), "clear");
  Filter empty_active;
  empty_active.active = true;
  EXPECT_EQ(filter_text(empty_active), "clear");
  EXPECT_EQ(filter_text(make_filter(12, 0, "bash", bit(Kind::kVfork) | bit(Kind::kFork))),
            "pid=12 comm=bash kind=fork kind=vfork");
  EXPECT_EQ(filter_text(make_filter(1, 2, "123456789012345", 0xff)),
            "pid=1 tgid=2 comm=123456789012345 kind=fork kind=vfork kind=thread kind=clone "
            "kind=clone3 kind=kthread kind=io_worker kind=umh");
  EXPECT_EQ(filter_text(make_filter(0, 4194304, "", 0)), "tgid=4194304");
  // Bits beyond the last kind are not invented into names.
  EXPECT_EQ(filter_text(make_filter(0, 0, "", 0xfffffe00u | bit(Kind::kUmh))), "kind=umh");

  Filter parsed;
  const char* why = nullptr;
  ASSERT_EQ(filter("  kind=vfork\tcomm=bash kind=fork pid=12\n", &parsed, &why), 0) << why;
  EXPECT_EQ(filter_text(parsed), "pid=12 comm=bash kind=fork kind=vfork");
}

TEST(Filter, TextIsBoundedByBuffer) {
  char buf[10];
  ktl::StringBuilder out(buf, sizeof(buf));
  forkscope::append_filter(out, make_filter(12, 0, "bash", 0));
  EXPECT_TRUE(out.truncated());
  EXPECT_STREQ(buf, "pid=12 co");
}

TEST(Filter, RandomValidFiltersRoundTrip) {
  std::mt19937 rng(20240601);
  const std::string comm_chars =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!\"#$%&'()*+,-./"
      ":;<>?@[\\]^_`{|}~";
  for (int iteration = 0; iteration < 20000; ++iteration) {
    Filter f;
    if (rng() % 2) f.pid = static_cast<int>(1 + rng() % 4194304);
    if (rng() % 2) f.tgid = static_cast<int>(1 + rng() % 4194304);
    if (rng() % 3 == 0) f.pid = 4194304;
    if (rng() % 2) {
      size_t n = 1 + rng() % 15;
      for (size_t i = 0; i < n; ++i) f.comm[i] = comm_chars[rng() % comm_chars.size()];
    }
    if (rng() % 2) f.kind_mask = rng() % 256;
    f.active = f.pid != 0 || f.tgid != 0 || f.comm[0] != '\0' || f.kind_mask != 0;

    std::string text = filter_text(f);
    Filter back = filter_sentinel();
    const char* why = nullptr;
    ASSERT_EQ(filter(text, &back, &why), 0) << text << ": " << why;
    ASSERT_TRUE(same_filter(back, f)) << text << " gave " << describe(back);
    ASSERT_EQ(filter_text(back), text);
  }
}

// ---- random bytes ----

std::string control_text(const ControlCommand& c) {
  switch (c.op) {
    case Op::kEnable:
      return "enable";
    case Op::kDisable:
      return "disable";
    case Op::kReset:
      return "reset";
    case Op::kSample:
      return "sample " + std::to_string(c.sample_every);
    case Op::kDetail:
      return std::string("detail ") + detail_name(c.detail);
    case Op::kCalibrate:
      return "calibrate";
  }
  return "?";
}

// Only blanks, printable ASCII and one final newline can ever be accepted.
bool plausible(const std::string& s) {
  if (s.size() > 256) return false;
  size_t n = s.size();
  if (n > 0 && s[n - 1] == '\n') --n;
  for (size_t i = 0; i < n; ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c != '\t' && (c < 0x20 || c > 0x7e)) return false;
  }
  return true;
}

std::string random_input(std::mt19937& rng) {
  static const char* const kPieces[] = {
      "enable",    "disable",   "reset",
      "sample",    "clear",     "pid=",
      "tgid=",     "comm=",     "kind=",
      "fork",      "vfork",     "thread",
      "clone",     "clone3",    "kthread",
      "io_worker", "umh",       "bash",
      "1",         "7",         "0",
      "42",        "4194304",   "4194305",
      "1000000",   "1000001",   "99999999999999999999",
      "-",         "+",         "0x",
      "=",         " ",         " ",
      "\t",        "\n",        "\r",
      "\xff",      "x",         "sample 5",
      "pid=1",     "kind=fork", "comm=a",
      "calibrate",
  };
  std::string s;
  switch (rng() % 5) {
    case 4: {  // one command, padded, with a random digit string
      static const char* const kCommands[] = {"enable", "disable", "reset", "sample "};
      s.append(rng() % 3, ' ');
      s += kCommands[rng() % std::size(kCommands)];
      size_t digits = rng() % 9;
      for (size_t i = 0; i < digits; ++i) s.push_back(static_cast<char>('0' + rng() % 10));
      s.append(rng() % 3, rng() % 2 ? ' ' : '\t');
      if (rng() % 2) s += '\n';
      break;
    }
    case 0: {  // raw bytes, sometimes too long
      size_t n = rng() % 300;
      for (size_t i = 0; i < n; ++i) s.push_back(static_cast<char>(rng() & 0xff));
      break;
    }
    case 1: {  // printable ASCII soup
      size_t n = rng() % 40;
      for (size_t i = 0; i < n; ++i) s.push_back(static_cast<char>(0x20 + rng() % 95));
      break;
    }
    default: {  // plausible words, occasionally corrupted
      size_t n = rng() % 8;
      for (size_t i = 0; i < n; ++i) {
        s += kPieces[rng() % std::size(kPieces)];
        if (rng() % 2) s += ' ';
      }
      if (!s.empty() && rng() % 10 == 0) s[rng() % s.size()] = static_cast<char>(rng() & 0xff);
      if (rng() % 3 == 0) s += '\n';
      break;
    }
  }
  return s;
}

TEST(ControlFuzz, RandomBytesNeverCrashOrCorrupt) {
  std::mt19937 rng(12345);
  int control_ok = 0;
  int filter_ok = 0;
  for (int iteration = 0; iteration < 100000; ++iteration) {
    std::string input = random_input(rng);
    const std::string where = ::testing::PrintToString(input);

    ControlCommand command = control_sentinel();
    const char* why = nullptr;
    int rc = control(input, &command, &why);
    if (rc == 0) {
      ++control_ok;
      ASSERT_EQ(why, nullptr) << where;
      ASSERT_TRUE(plausible(input)) << where;
      ASSERT_TRUE(command.op != Op::kSample ||
                  (command.sample_every >= 1 && command.sample_every <= 1000000))
          << where;
      ControlCommand back;
      ASSERT_EQ(control(control_text(command), &back, &why), 0) << where;
      ASSERT_EQ(back.op, command.op) << where;
      if (command.op == Op::kSample) {
        ASSERT_EQ(back.sample_every, command.sample_every) << where;
      }
    } else {
      ASSERT_EQ(rc, -FORKSCOPE_EINVAL) << where;
      ASSERT_NE(why, nullptr) << where;
      ASSERT_GT(std::strlen(why), 0u) << where;
      ASSERT_EQ(command.op, Op::kSample) << where;
      ASSERT_EQ(command.sample_every, 777u) << where;
    }

    Filter f = filter_sentinel();
    why = nullptr;
    rc = filter(input, &f, &why);
    if (rc == 0) {
      ++filter_ok;
      ASSERT_EQ(why, nullptr) << where;
      ASSERT_TRUE(plausible(input)) << where;
      ASSERT_GE(f.pid, 0) << where;
      ASSERT_LE(f.pid, 4194304) << where;
      ASSERT_GE(f.tgid, 0) << where;
      ASSERT_LE(f.tgid, 4194304) << where;
      ASSERT_EQ(f.comm[15], '\0') << where;
      ASSERT_EQ(f.kind_mask >> static_cast<unsigned int>(Kind::kCount), 0u) << where;
      std::string text = filter_text(f);
      Filter back = filter_sentinel();
      ASSERT_EQ(filter(text, &back, &why), 0) << where << " -> " << text << ": " << why;
      ASSERT_TRUE(same_filter(back, f)) << where << " -> " << text;
    } else {
      ASSERT_EQ(rc, -FORKSCOPE_EINVAL) << where;
      ASSERT_NE(why, nullptr) << where;
      ASSERT_GT(std::strlen(why), 0u) << where;
      ASSERT_TRUE(same_filter(f, filter_sentinel())) << where;
    }
  }
  RecordProperty("control_accepted", control_ok);
  RecordProperty("filter_accepted", filter_ok);
  // The generator must reach the accepting paths too, not only errors.
  EXPECT_GT(control_ok, 1000);
  EXPECT_GT(filter_ok, 1000);
}

}  // namespace
