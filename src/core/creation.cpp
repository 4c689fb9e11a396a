// SPDX-License-Identifier: GPL-2.0
// Creation kinds: classifying one kernel_clone() request, kind names, and
// decoding CLONE_* flags and the exit signal into text.
#include "creation.h"

#include <ktl/utility.h>

#include "probe_context.h"

namespace forkscope {
namespace {

// Indexed by Kind; must stay in enum order.
constexpr const char* kKindNames[] = {
    "fork", "vfork", "thread", "clone", "clone3", "kthread", "io_worker", "umh", "exec",
};
static_assert(ktl::size(kKindNames) == static_cast<ktl::size_t>(Kind::kCount),
              "kKindNames must name every Kind");

struct FlagName {
  ktl::u64 bit;
  const char* name;
};

// Ascending bit order; CLONE_NEWTIME (0x80) sits in the legacy CSIGNAL byte
// but is a real clone3 flag, so it comes first.
constexpr FlagName kFlagNames[] = {
    {clone_flag::kNewtime, "CLONE_NEWTIME"},
    {clone_flag::kVm, "CLONE_VM"},
    {clone_flag::kFs, "CLONE_FS"},
    {clone_flag::kFiles, "CLONE_FILES"},
    {clone_flag::kSighand, "CLONE_SIGHAND"},
    {clone_flag::kPidfd, "CLONE_PIDFD"},
    {clone_flag::kPtrace, "CLONE_PTRACE"},
    {clone_flag::kVfork, "CLONE_VFORK"},
    {clone_flag::kParent, "CLONE_PARENT"},
    {clone_flag::kThread, "CLONE_THREAD"},
    {clone_flag::kNewns, "CLONE_NEWNS"},
    {clone_flag::kSysvsem, "CLONE_SYSVSEM"},
    {clone_flag::kSettls, "CLONE_SETTLS"},
    {clone_flag::kParentSettid, "CLONE_PARENT_SETTID"},
    {clone_flag::kChildCleartid, "CLONE_CHILD_CLEARTID"},
    {clone_flag::kDetached, "CLONE_DETACHED"},
    {clone_flag::kUntraced, "CLONE_UNTRACED"},
    {clone_flag::kChildSettid, "CLONE_CHILD_SETTID"},
    {clone_flag::kNewcgroup, "CLONE_NEWCGROUP"},
    {clone_flag::kNewuts, "CLONE_NEWUTS"},
    {clone_flag::kNewipc, "CLONE_NEWIPC"},
    {clone_flag::kNewuser, "CLONE_NEWUSER"},
    {clone_flag::kNewpid, "CLONE_NEWPID"},
    {clone_flag::kNewnet, "CLONE_NEWNET"},
    {clone_flag::kIo, "CLONE_IO"},
    {clone_flag::kClearSighand, "CLONE_CLEAR_SIGHAND"},
    {clone_flag::kIntoCgroup, "CLONE_INTO_CGROUP"},
};

// x86 signal numbers 1..31 (arch/x86/include/uapi/asm/signal.h); index 0 unused.
constexpr const char* kSignalNames[] = {
    nullptr,     "SIGHUP",  "SIGINT",    "SIGQUIT", "SIGILL",   "SIGTRAP", "SIGABRT", "SIGBUS",
    "SIGFPE",    "SIGKILL", "SIGUSR1",   "SIGSEGV", "SIGUSR2",  "SIGPIPE", "SIGALRM", "SIGTERM",
    "SIGSTKFLT", "SIGCHLD", "SIGCONT",   "SIGSTOP", "SIGTSTP",  "SIGTTIN", "SIGTTOU", "SIGURG",
    "SIGXCPU",   "SIGXFSZ", "SIGVTALRM", "SIGPROF", "SIGWINCH", "SIGIO",   "SIGPWR",  "SIGSYS",
};
static_assert(ktl::size(kSignalNames) == 32, "x86 has 31 named signals");

// What glibc's fork() passes to clone(2) besides SIGCHLD.
constexpr ktl::u64 kForkLikeFlags =
    clone_flag::kChildSettid | clone_flag::kChildCleartid | clone_flag::kParentSettid;

}  // namespace

FORKSCOPE_PROBE_CONTEXT Kind classify(const CloneRequest& request) {
  if (request.io_thread) return Kind::kIoWorker;
  if (request.kthread) return Kind::kKthread;
  if (request.has_fn) return Kind::kUmh;
  if (request.flags & clone_flag::kThread) return Kind::kThread;
  if (request.flags & clone_flag::kVfork) return Kind::kVfork;
  if (request.origin == Origin::kSysClone3) return Kind::kClone3;
  if (request.origin == Origin::kSysFork) return Kind::kFork;
  if (request.origin == Origin::kSysClone && (request.flags & ~kForkLikeFlags) == 0 &&
      request.exit_signal == kSigchld) {
    return Kind::kFork;
  }
  return Kind::kClone;
}

const char* kind_name(Kind kind) {
  auto index = static_cast<ktl::size_t>(kind);
  // A corrupted value must not index past the table.
  if (index >= ktl::size(kKindNames)) return "unknown";
  return kKindNames[index];
}

bool parse_kind(const char* text, ktl::size_t length, Kind* out) {
  if (text == nullptr && length != 0) return false;
  for (ktl::size_t i = 0; i < ktl::size(kKindNames); ++i) {
    const char* name = kKindNames[i];
    ktl::size_t name_length = ktl::string_length(name);
    if (name_length != length) continue;
    bool same = true;
    for (ktl::size_t j = 0; j < length; ++j) {
      if (text[j] != name[j]) {
        same = false;
        break;
      }
    }
    if (same) {
      if (out != nullptr) *out = static_cast<Kind>(i);
      return true;
    }
  }
  return false;
}

void append_clone_flags(ktl::StringBuilder& out, ktl::u64 flags, ktl::u32 exit_signal) {
  bool first = true;
  auto separate = [&]() {
    if (!first) out.append_char('|');
    first = false;
  };
  ktl::u64 unknown = flags;
  for (const FlagName& flag : kFlagNames) {
    if ((flags & flag.bit) == 0) continue;
    separate();
    out.append(flag.name);
    unknown &= ~flag.bit;
  }
  if (unknown != 0) {
    separate();
    out.append_hex(unknown);
  }
  if (exit_signal != 0) {
    separate();
    if (exit_signal < ktl::size(kSignalNames)) {
      out.append(kSignalNames[exit_signal]);
    } else {
      // Real-time signals (32..64) and nonsense values alike: the number.
      out.append("SIG").append_u64(exit_signal);
    }
  }
  if (first) out.append_char('0');
}

}  // namespace forkscope
