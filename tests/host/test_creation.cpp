// SPDX-License-Identifier: GPL-2.0
// Creation kinds: classification of real-world clone requests, kind names,
// and CLONE_* / exit signal decoding, checked against the host's uapi headers.
#include <gtest/gtest.h>
#include <linux/sched.h>
#include <signal.h>

#include <cstring>
#include <iterator>
#include <string>

#include "creation.h"

namespace {

using forkscope::CloneRequest;
using forkscope::Kind;
using forkscope::Origin;
namespace cf = forkscope::clone_flag;

std::string decode(unsigned long long flags, unsigned int exit_signal) {
  char buf[1024];
  ktl::StringBuilder out(buf, sizeof(buf));
  forkscope::append_clone_flags(out, flags, exit_signal);
  EXPECT_FALSE(out.truncated());
  return std::string(out.c_str(), out.length());
}

// The header's constants are the kernel's, bit for bit.
TEST(CreationConstants, MatchUapiSchedH) {
  EXPECT_EQ(cf::kVm, static_cast<unsigned long long>(CLONE_VM));
  EXPECT_EQ(cf::kFs, static_cast<unsigned long long>(CLONE_FS));
  EXPECT_EQ(cf::kFiles, static_cast<unsigned long long>(CLONE_FILES));
  EXPECT_EQ(cf::kSighand, static_cast<unsigned long long>(CLONE_SIGHAND));
  EXPECT_EQ(cf::kPidfd, static_cast<unsigned long long>(CLONE_PIDFD));
  EXPECT_EQ(cf::kPtrace, static_cast<unsigned long long>(CLONE_PTRACE));
  EXPECT_EQ(cf::kVfork, static_cast<unsigned long long>(CLONE_VFORK));
  EXPECT_EQ(cf::kParent, static_cast<unsigned long long>(CLONE_PARENT));
  EXPECT_EQ(cf::kThread, static_cast<unsigned long long>(CLONE_THREAD));
  EXPECT_EQ(cf::kNewns, static_cast<unsigned long long>(CLONE_NEWNS));
  EXPECT_EQ(cf::kSysvsem, static_cast<unsigned long long>(CLONE_SYSVSEM));
  EXPECT_EQ(cf::kSettls, static_cast<unsigned long long>(CLONE_SETTLS));
  EXPECT_EQ(cf::kParentSettid, static_cast<unsigned long long>(CLONE_PARENT_SETTID));
  EXPECT_EQ(cf::kChildCleartid, static_cast<unsigned long long>(CLONE_CHILD_CLEARTID));
  EXPECT_EQ(cf::kDetached, static_cast<unsigned long long>(CLONE_DETACHED));
  EXPECT_EQ(cf::kUntraced, static_cast<unsigned long long>(CLONE_UNTRACED));
  EXPECT_EQ(cf::kChildSettid, static_cast<unsigned long long>(CLONE_CHILD_SETTID));
  EXPECT_EQ(cf::kNewcgroup, static_cast<unsigned long long>(CLONE_NEWCGROUP));
  EXPECT_EQ(cf::kNewuts, static_cast<unsigned long long>(CLONE_NEWUTS));
  EXPECT_EQ(cf::kNewipc, static_cast<unsigned long long>(CLONE_NEWIPC));
  EXPECT_EQ(cf::kNewuser, static_cast<unsigned long long>(CLONE_NEWUSER));
  EXPECT_EQ(cf::kNewpid, static_cast<unsigned long long>(CLONE_NEWPID));
  EXPECT_EQ(cf::kNewnet, static_cast<unsigned long long>(CLONE_NEWNET));
  // CLONE_IO is a negative int in the uapi header; compare its 32 bits.
  EXPECT_EQ(cf::kIo, static_cast<unsigned long long>(static_cast<unsigned int>(CLONE_IO)));
  EXPECT_EQ(cf::kClearSighand, static_cast<unsigned long long>(CLONE_CLEAR_SIGHAND));
  EXPECT_EQ(cf::kIntoCgroup, static_cast<unsigned long long>(CLONE_INTO_CGROUP));
  EXPECT_EQ(cf::kNewtime, static_cast<unsigned long long>(CLONE_NEWTIME));
  EXPECT_EQ(forkscope::kSigchld, static_cast<unsigned int>(SIGCHLD));
}

TEST(CreationConstants, FlagsAreDistinctSingleBits) {
  const unsigned long long all[] = {
      cf::kVm,           cf::kFs,
      cf::kFiles,        cf::kSighand,
      cf::kPidfd,        cf::kPtrace,
      cf::kVfork,        cf::kParent,
      cf::kThread,       cf::kNewns,
      cf::kSysvsem,      cf::kSettls,
      cf::kParentSettid, cf::kChildCleartid,
      cf::kDetached,     cf::kUntraced,
      cf::kChildSettid,  cf::kNewcgroup,
      cf::kNewuts,       cf::kNewipc,
      cf::kNewuser,      cf::kNewpid,
      cf::kNewnet,       cf::kIo,
      cf::kClearSighand, cf::kIntoCgroup,
      cf::kNewtime,
  };
  unsigned long long seen = 0;
  for (unsigned long long bit : all) {
    EXPECT_EQ(__builtin_popcountll(bit), 1) << std::hex << bit;
    EXPECT_EQ(seen & bit, 0u) << std::hex << bit;
    seen |= bit;
  }
  EXPECT_EQ(seen, 0x3ffffff80ull);
  EXPECT_EQ(cf::kNewMask, static_cast<unsigned long long>(
                              CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC |
                              CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWTIME));
}

struct ClassifyCase {
  const char* what;
  CloneRequest request;
  Kind expected;
};

CloneRequest req(unsigned long long flags, unsigned int exit_signal, Origin origin,
                 bool kthread = false, bool io_thread = false, bool has_fn = false) {
  CloneRequest r;
  r.flags = flags;
  r.exit_signal = exit_signal;
  r.origin = origin;
  r.kthread = kthread;
  r.io_thread = io_thread;
  r.has_fn = has_fn;
  return r;
}

constexpr unsigned long long kPthreadFlags = cf::kVm | cf::kFs | cf::kFiles | cf::kSighand |
                                             cf::kThread | cf::kSysvsem | cf::kSettls |
                                             cf::kParentSettid | cf::kChildCleartid;
constexpr unsigned long long kGlibcForkFlags = cf::kChildSettid | cf::kChildCleartid;

TEST(Classify, RealWorldRequests) {
  const ClassifyCase cases[] = {
      {"fork(2)", req(0, SIGCHLD, Origin::kSysFork), Kind::kFork},
      {"glibc fork via clone", req(kGlibcForkFlags, SIGCHLD, Origin::kSysClone), Kind::kFork},
      {"clone SIGCHLD only", req(0, SIGCHLD, Origin::kSysClone), Kind::kFork},
      {"clone PARENT_SETTID", req(cf::kParentSettid, SIGCHLD, Origin::kSysClone), Kind::kFork},
      {"clone all three tid flags",
       req(kGlibcForkFlags | cf::kParentSettid, SIGCHLD, Origin::kSysClone), Kind::kFork},
      {"vfork(2)", req(cf::kVm | cf::kVfork, SIGCHLD, Origin::kSysVfork), Kind::kVfork},
      {"posix_spawn via clone3", req(cf::kVm | cf::kVfork, SIGCHLD, Origin::kSysClone3),
       Kind::kVfork},
      {"posix_spawn via clone", req(cf::kVm | cf::kVfork, SIGCHLD, Origin::kSysClone),
       Kind::kVfork},
      {"pthread via clone3", req(kPthreadFlags, 0, Origin::kSysClone3), Kind::kThread},
      {"pthread via clone", req(kPthreadFlags, 0, Origin::kSysClone), Kind::kThread},
      // kthreadd: kernel_thread(kthread, create, CLONE_FS | CLONE_FILES | SIGCHLD), which
      // adds CLONE_VM | CLONE_UNTRACED and moves SIGCHLD into exit_signal.
      {"kernel_thread",
       req(cf::kVm | cf::kFs | cf::kFiles | cf::kUntraced, SIGCHLD, Origin::kKernel, true, false,
           true),
       Kind::kKthread},
      // call_usermodehelper_exec_work: user_mode_thread(fn, info, SIGCHLD).
      {"user_mode_thread",
       req(cf::kVm | cf::kUntraced, SIGCHLD, Origin::kKernel, false, false, true), Kind::kUmh},
      // io-wq: create_io_thread() with CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD |
      // CLONE_IO, plus the CLONE_VM | CLONE_UNTRACED it adds; entered from io_uring_enter.
      {"create_io_thread",
       req(cf::kVm | cf::kFs | cf::kFiles | cf::kSighand | cf::kThread | cf::kIo | cf::kUntraced, 0,
           Origin::kUnknown, false, true, true),
       Kind::kIoWorker},
      {"clone3 plain child", req(0, SIGCHLD, Origin::kSysClone3), Kind::kClone3},
      {"clone3 new time ns", req(cf::kNewtime, SIGCHLD, Origin::kSysClone3), Kind::kClone3},
      {"clone3 into cgroup", req(cf::kIntoCgroup, SIGCHLD, Origin::kSysClone3), Kind::kClone3},
      {"clone new pid ns", req(cf::kNewpid | cf::kNewns, SIGCHLD, Origin::kSysClone), Kind::kClone},
      {"clone shared VM, no thread", req(cf::kVm, SIGCHLD, Origin::kSysClone), Kind::kClone},
      {"clone glibc flags, no signal", req(kGlibcForkFlags, 0, Origin::kSysClone), Kind::kClone},
      {"clone glibc flags, SIGUSR1", req(kGlibcForkFlags, SIGUSR1, Origin::kSysClone),
       Kind::kClone},
      {"clone NEWTIME bit", req(cf::kNewtime, SIGCHLD, Origin::kSysClone), Kind::kClone},
      {"clone PIDFD", req(cf::kPidfd, SIGCHLD, Origin::kSysClone), Kind::kClone},
      {"clone unknown high bit", req(1ull << 40, SIGCHLD, Origin::kSysClone), Kind::kClone},
      {"unknown origin, fork-like", req(0, SIGCHLD, Origin::kUnknown), Kind::kClone},
      {"kernel origin, no fn", req(0, SIGCHLD, Origin::kKernel), Kind::kClone},
  };
  for (const ClassifyCase& c : cases) {
    EXPECT_EQ(forkscope::classify(c.request), c.expected) << c.what;
  }
}

TEST(Classify, FirstRuleWins) {
  // io_thread beats kthread, kthread beats fn, fn beats CLONE_THREAD...
  EXPECT_EQ(forkscope::classify(req(0, 0, Origin::kKernel, true, true, true)), Kind::kIoWorker);
  EXPECT_EQ(forkscope::classify(req(cf::kThread, 0, Origin::kKernel, true, false, true)),
            Kind::kKthread);
  EXPECT_EQ(
      forkscope::classify(req(cf::kThread | cf::kVfork, 0, Origin::kKernel, false, false, true)),
      Kind::kUmh);
  EXPECT_EQ(forkscope::classify(req(cf::kThread | cf::kVfork, SIGCHLD, Origin::kSysClone3)),
            Kind::kThread);
  EXPECT_EQ(forkscope::classify(req(cf::kVfork, SIGCHLD, Origin::kSysClone3)), Kind::kVfork);
  // fork(2) is fork whatever the flags claim.
  EXPECT_EQ(forkscope::classify(req(cf::kNewpid, 0, Origin::kSysFork)), Kind::kFork);
}

TEST(Kind, NamesRoundTrip) {
  const char* expected[] = {"fork",    "vfork",     "thread", "clone", "clone3",
                            "kthread", "io_worker", "umh",    "exec"};
  ASSERT_EQ(std::size(expected), static_cast<size_t>(Kind::kCount));
  for (size_t i = 0; i < std::size(expected); ++i) {
    Kind kind = static_cast<Kind>(i);
    EXPECT_STREQ(forkscope::kind_name(kind), expected[i]);
    Kind parsed = Kind::kCount;
    ASSERT_TRUE(forkscope::parse_kind(expected[i], strlen(expected[i]), &parsed)) << expected[i];
    EXPECT_EQ(parsed, kind);
  }
}

TEST(Kind, OutOfRangeHasAName) {
  EXPECT_STREQ(forkscope::kind_name(Kind::kCount), "unknown");
  EXPECT_STREQ(forkscope::kind_name(static_cast<Kind>(255)), "unknown");
}

TEST(Kind, ParseRejectsNearMisses) {
  const char* bad[] = {"",       "Fork",      "FORK",      "fork ",   " fork",    "for", "forks",
                       "clone4", "io-worker", "kthread\n", "unknown", "thread\t", "um"};
  for (const char* text : bad) {
    Kind parsed = Kind::kUmh;
    EXPECT_FALSE(forkscope::parse_kind(text, strlen(text), &parsed)) << '"' << text << '"';
    EXPECT_EQ(parsed, Kind::kUmh) << "output touched for " << text;
  }
  EXPECT_FALSE(forkscope::parse_kind(nullptr, 0, nullptr));
  EXPECT_FALSE(forkscope::parse_kind("fork\0", 5, nullptr));
}

TEST(Kind, ParseHonoursLengthWithoutNul) {
  const char buffer[] = {'c', 'l', 'o', 'n', 'e', '3', 'x'};
  Kind parsed = Kind::kCount;
  EXPECT_TRUE(forkscope::parse_kind(buffer, 5, &parsed));
  EXPECT_EQ(parsed, Kind::kClone);
  EXPECT_TRUE(forkscope::parse_kind(buffer, 6, &parsed));
  EXPECT_EQ(parsed, Kind::kClone3);
  EXPECT_FALSE(forkscope::parse_kind(buffer, 7, &parsed));
  EXPECT_FALSE(forkscope::parse_kind(buffer, 4, &parsed));
}

TEST(CloneFlags, NothingIsZero) { EXPECT_EQ(decode(0, 0), "0"); }

TEST(CloneFlags, CommonRequests) {
  EXPECT_EQ(decode(kGlibcForkFlags, SIGCHLD), "CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD");
  EXPECT_EQ(decode(kPthreadFlags, 0),
            "CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|CLONE_SYSVSEM|"
            "CLONE_SETTLS|CLONE_PARENT_SETTID|CLONE_CHILD_CLEARTID");
  EXPECT_EQ(decode(cf::kVm | cf::kVfork, SIGCHLD), "CLONE_VM|CLONE_VFORK|SIGCHLD");
  EXPECT_EQ(decode(0, SIGCHLD), "SIGCHLD");
  EXPECT_EQ(decode(cf::kNewuser | cf::kNewpid, 0), "CLONE_NEWUSER|CLONE_NEWPID");
}

TEST(CloneFlags, EveryKnownBitInOrder) {
  unsigned long long all = 0x3ffffff80ull;
  EXPECT_EQ(decode(all, 0),
            "CLONE_NEWTIME|CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_PIDFD|"
            "CLONE_PTRACE|CLONE_VFORK|CLONE_PARENT|CLONE_THREAD|CLONE_NEWNS|CLONE_SYSVSEM|"
            "CLONE_SETTLS|CLONE_PARENT_SETTID|CLONE_CHILD_CLEARTID|CLONE_DETACHED|"
            "CLONE_UNTRACED|CLONE_CHILD_SETTID|CLONE_NEWCGROUP|CLONE_NEWUTS|CLONE_NEWIPC|"
            "CLONE_NEWUSER|CLONE_NEWPID|CLONE_NEWNET|CLONE_IO|CLONE_CLEAR_SIGHAND|"
            "CLONE_INTO_CGROUP");
  // One name per single bit, spelled like the kernel macro.
  struct {
    unsigned long long bit;
    const char* name;
  } singles[] = {
      {CLONE_VM, "CLONE_VM"},
      {CLONE_PIDFD, "CLONE_PIDFD"},
      {CLONE_DETACHED, "CLONE_DETACHED"},
      {static_cast<unsigned int>(CLONE_IO), "CLONE_IO"},
      {CLONE_CLEAR_SIGHAND, "CLONE_CLEAR_SIGHAND"},
      {CLONE_INTO_CGROUP, "CLONE_INTO_CGROUP"},
      {CLONE_NEWTIME, "CLONE_NEWTIME"},
      {CLONE_NEWCGROUP, "CLONE_NEWCGROUP"},
  };
  for (const auto& s : singles) EXPECT_EQ(decode(s.bit, 0), s.name);
}

TEST(CloneFlags, UnknownBitsAsOneHexNumber) {
  EXPECT_EQ(decode(0x400000000ull, 0), "0x400000000");
  EXPECT_EQ(decode(0x7f, 0), "0x7f");  // the old CSIGNAL byte, minus CLONE_NEWTIME
  EXPECT_EQ(decode(0x1, 0), "0x1");
  EXPECT_EQ(decode(0xff, 0), "CLONE_NEWTIME|0x7f");
  EXPECT_EQ(decode(cf::kVm | (1ull << 63) | 0x3, SIGCHLD), "CLONE_VM|0x8000000000000003|SIGCHLD");
  std::string all = decode(~0ull, SIGKILL);
  EXPECT_EQ(all.substr(0, 14), "CLONE_NEWTIME|");
  EXPECT_NE(all.find("|CLONE_INTO_CGROUP|0xfffffffc0000007f|SIGKILL"), std::string::npos) << all;
}

TEST(CloneFlags, SignalsByX86Name) {
  const struct {
    int number;
    const char* name;
  } named[] = {
      {SIGHUP, "SIGHUP"},       {SIGINT, "SIGINT"},       {SIGQUIT, "SIGQUIT"},
      {SIGILL, "SIGILL"},       {SIGTRAP, "SIGTRAP"},     {SIGABRT, "SIGABRT"},
      {SIGBUS, "SIGBUS"},       {SIGFPE, "SIGFPE"},       {SIGKILL, "SIGKILL"},
      {SIGUSR1, "SIGUSR1"},     {SIGSEGV, "SIGSEGV"},     {SIGUSR2, "SIGUSR2"},
      {SIGPIPE, "SIGPIPE"},     {SIGALRM, "SIGALRM"},     {SIGTERM, "SIGTERM"},
      {SIGSTKFLT, "SIGSTKFLT"}, {SIGCHLD, "SIGCHLD"},     {SIGCONT, "SIGCONT"},
      {SIGSTOP, "SIGSTOP"},     {SIGTSTP, "SIGTSTP"},     {SIGTTIN, "SIGTTIN"},
      {SIGTTOU, "SIGTTOU"},     {SIGURG, "SIGURG"},       {SIGXCPU, "SIGXCPU"},
      {SIGXFSZ, "SIGXFSZ"},     {SIGVTALRM, "SIGVTALRM"}, {SIGPROF, "SIGPROF"},
      {SIGWINCH, "SIGWINCH"},   {SIGIO, "SIGIO"},         {SIGPWR, "SIGPWR"},
      {SIGSYS, "SIGSYS"},
  };
  ASSERT_EQ(std::size(named), 31u);
  for (const auto& s : named) EXPECT_EQ(decode(0, s.number), s.name);
  // x86-64 numbering pinned independently of the host headers.
  EXPECT_EQ(decode(0, 17), "SIGCHLD");
  EXPECT_EQ(decode(0, 10), "SIGUSR1");
  EXPECT_EQ(decode(0, 31), "SIGSYS");
}

TEST(CloneFlags, UnnamedSignalsByNumber) {
  EXPECT_EQ(decode(0, 32), "SIG32");
  EXPECT_EQ(decode(0, 64), "SIG64");
  EXPECT_EQ(decode(0, 65), "SIG65");
  EXPECT_EQ(decode(0, 0xffffffffu), "SIG4294967295");
  EXPECT_EQ(decode(cf::kVm, 34), "CLONE_VM|SIG34");
}

TEST(CloneFlags, TruncatesWithinBuffer) {
  char buf[16];
  buf[15] = 'X';
  ktl::StringBuilder out(buf, 15);
  forkscope::append_clone_flags(out, kPthreadFlags, SIGCHLD);
  EXPECT_TRUE(out.truncated());
  EXPECT_STREQ(out.c_str(), "CLONE_VM|CLONE");
  EXPECT_EQ(buf[15], 'X');
}

TEST(CloneFlags, AppendsAfterExistingText) {
  char buf[64];
  ktl::StringBuilder out(buf, sizeof(buf));
  out.append("flags=");
  forkscope::append_clone_flags(out, 0, 0);
  out.append(" next");
  EXPECT_STREQ(out.c_str(), "flags=0 next");
}

}  // namespace
