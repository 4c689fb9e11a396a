// SPDX-License-Identifier: GPL-2.0
// The verdict: refusal and sharing predictions checked against tables written
// from 6.1's kernel/fork.c, kernel/nsproxy.c, ipc/sem.c and block/blk-ioc.c,
// and judge()'s comparison of a prediction with an observation.
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "creation.h"
#include "verdict.h"

namespace {

using forkscope::CallerContext;
using forkscope::CloneRequest;
using forkscope::kResourceCount;
using forkscope::Observation;
using forkscope::Origin;
using forkscope::Prediction;
using forkscope::Resource;
using forkscope::Sharing;
using forkscope::Verdict;
using forkscope::VerdictKind;
namespace cf = forkscope::clone_flag;

constexpr int kEinval = -22;
constexpr int kEperm = -1;
constexpr unsigned int kSigchld = 17;

// glibc's pthread_create (sysdeps/unix/sysv/linux/createthread.c).
constexpr unsigned long long kPthreadFlags = cf::kVm | cf::kFs | cf::kFiles | cf::kSighand |
                                             cf::kThread | cf::kSysvsem | cf::kSettls |
                                             cf::kParentSettid | cf::kChildCleartid;
// glibc's fork (arch_fork).
constexpr unsigned long long kGlibcForkFlags = cf::kChildSettid | cf::kChildCleartid;
// A thread without the extras: what every thread rule needs.
constexpr unsigned long long kThreadCore = cf::kThread | cf::kSighand | cf::kVm;
// kernel_thread(kthread, ..., CLONE_FS | CLONE_FILES | SIGCHLD) after its
// "| CLONE_VM | CLONE_UNTRACED".
constexpr unsigned long long kKthreadFlags = cf::kFs | cf::kFiles | cf::kVm | cf::kUntraced;
// create_io_thread's flags.
constexpr unsigned long long kIoThreadFlags =
    cf::kFs | cf::kFiles | cf::kSighand | cf::kThread | cf::kIo | cf::kVm | cf::kUntraced;

// Callers.
CallerContext user() { return CallerContext{}; }
CallerContext root() {
  CallerContext c;
  c.cap_sys_admin = true;
  c.cap_sys_admin_init_ns = true;
  return c;
}
CallerContext init_task() {
  CallerContext c = root();
  c.unkillable = true;
  return c;
}
CallerContext in_unshared_pidns(bool cap) {
  CallerContext c;
  c.cap_sys_admin = cap;
  c.cap_sys_admin_init_ns = cap;
  c.pid_ns_differs = true;
  return c;
}
CallerContext in_unshared_timens(bool cap) {
  CallerContext c;
  c.cap_sys_admin = cap;
  c.cap_sys_admin_init_ns = cap;
  c.time_ns_differs = true;
  return c;
}
CallerContext userns_clone_off(bool cap) {
  CallerContext c;
  c.cap_sys_admin = cap;
  c.cap_sys_admin_init_ns = cap;
  c.unprivileged_userns = false;
  return c;
}
CallerContext pidfd_same_pointer() {
  CallerContext c;
  c.pidfd_is_parent_tid = true;
  return c;
}
CallerContext kthreadd() {
  CallerContext c;
  c.cap_sys_admin = true;
  c.cap_sys_admin_init_ns = true;
  c.has_mm = false;
  c.group_leader_exit_signal = 0;
  return c;
}

CloneRequest request(unsigned long long flags, unsigned int exit_signal = kSigchld,
                     Origin origin = Origin::kSysClone) {
  CloneRequest r;
  r.flags = flags;
  r.exit_signal = exit_signal;
  r.origin = origin;
  return r;
}

Prediction predict(const CloneRequest& r, const CallerContext& c) {
  Prediction p;
  p.error = 12345;  // predict() must overwrite everything
  p.rule = "stale";
  p.exit_signal = 999;
  forkscope::predict(r, c, &p);
  return p;
}

constexpr size_t idx(Resource r) { return static_cast<size_t>(r); }

// ---------------------------------------------------------------------------
// Refusals.

struct RefusalCase {
  const char* what;
  unsigned long long flags;
  CallerContext caller;
  int error;
  const char* rule;  // a substring of the rule; nullptr for success
};

TEST(PredictRefusal, TableFrom61Source) {
  const RefusalCase cases[] = {
      // Everyday creations.
      {"fork", 0, user(), 0, nullptr},
      {"glibc fork", kGlibcForkFlags, user(), 0, nullptr},
      {"vfork", cf::kVm | cf::kVfork, user(), 0, nullptr},
      {"pthread", kPthreadFlags, user(), 0, nullptr},
      {"CLONE_SYSVSEM alone", cf::kSysvsem, user(), 0, nullptr},
      {"CLONE_IO alone", cf::kIo, user(), 0, nullptr},
      {"CLONE_PARENT from a user", cf::kParent, user(), 0, nullptr},
      {"CLONE_SIGHAND|CLONE_VM", cf::kSighand | cf::kVm, user(), 0, nullptr},
      {"CLONE_CLEAR_SIGHAND", cf::kClearSighand, user(), 0, nullptr},
      // kernel_clone: pidfd and parent_tid at the same address.
      {"PIDFD|PARENT_SETTID same pointer", cf::kPidfd | cf::kParentSettid, pidfd_same_pointer(),
       kEinval, "CLONE_PIDFD and CLONE_PARENT_SETTID"},
      {"PIDFD|PARENT_SETTID different pointers", cf::kPidfd | cf::kParentSettid, user(), 0,
       nullptr},
      {"PARENT_SETTID alone, same pointer", cf::kParentSettid, pidfd_same_pointer(), 0, nullptr},
      {"PIDFD alone, same pointer", cf::kPidfd, pidfd_same_pointer(), 0, nullptr},
      {"kernel_clone's rule before copy_process's",
       cf::kPidfd | cf::kParentSettid | cf::kNewns | cf::kFs, pidfd_same_pointer(), kEinval,
       "CLONE_PIDFD and CLONE_PARENT_SETTID"},
      // copy_process: NEWNS|FS, NEWUSER|FS.
      {"NEWNS|FS", cf::kNewns | cf::kFs, root(), kEinval, "CLONE_NEWNS with CLONE_FS"},
      {"NEWNS|FS|THREAD: first rule", cf::kNewns | cf::kFs | cf::kThread, user(), kEinval,
       "CLONE_NEWNS with CLONE_FS"},
      {"NEWNS|FS without CAP: EINVAL before copy_namespaces' EPERM", cf::kNewns | cf::kFs, user(),
       kEinval, "CLONE_NEWNS with CLONE_FS"},
      {"NEWUSER|FS", cf::kNewuser | cf::kFs, user(), kEinval, "CLONE_NEWUSER with CLONE_FS"},
      {"NEWUSER|FS with userns clone off: EINVAL first", cf::kNewuser | cf::kFs,
       userns_clone_off(false), kEinval, "CLONE_NEWUSER with CLONE_FS"},
      // Debian's unprivileged_userns_clone.
      {"NEWUSER, userns clone on", cf::kNewuser, user(), 0, nullptr},
      {"NEWUSER, userns clone off, no CAP", cf::kNewuser, userns_clone_off(false), kEperm,
       "unprivileged_userns_clone"},
      {"NEWUSER, userns clone off, CAP", cf::kNewuser, userns_clone_off(true), 0, nullptr},
      {"NEWUSER|THREAD, userns clone off: Debian's EPERM first", cf::kNewuser | kThreadCore,
       userns_clone_off(false), kEperm, "unprivileged_userns_clone"},
      {"NEWUSER|NEWUTS, userns clone off", cf::kNewuser | cf::kNewuts, userns_clone_off(false),
       kEperm, "unprivileged_userns_clone"},
      // Thread/sighand/VM.
      {"THREAD alone", cf::kThread, user(), kEinval, "CLONE_THREAD without CLONE_SIGHAND"},
      {"THREAD|VM", cf::kThread | cf::kVm, user(), kEinval, "CLONE_THREAD without CLONE_SIGHAND"},
      {"SIGHAND alone", cf::kSighand, user(), kEinval, "CLONE_SIGHAND without CLONE_VM"},
      {"THREAD|SIGHAND", cf::kThread | cf::kSighand, user(), kEinval,
       "CLONE_SIGHAND without CLONE_VM"},
      {"THREAD|PARENT from init: thread rule first", cf::kThread | cf::kParent, init_task(),
       kEinval, "CLONE_THREAD without CLONE_SIGHAND"},
      // CLONE_PARENT from init.
      {"PARENT from init", cf::kParent, init_task(), kEinval, "CLONE_PARENT from an unkillable"},
      {"fork from init", 0, init_task(), 0, nullptr},
      {"PARENT thread from init", cf::kParent | kThreadCore, init_task(), kEinval,
       "CLONE_PARENT from an unkillable"},
      // Threads across pid/user namespaces.
      {"THREAD|NEWPID", kThreadCore | cf::kNewpid, root(), kEinval, "CLONE_THREAD into another"},
      {"THREAD|NEWUSER", kThreadCore | cf::kNewuser, user(), kEinval, "CLONE_THREAD into another"},
      {"pthread after unshare(NEWPID)", kPthreadFlags, in_unshared_pidns(false), kEinval,
       "CLONE_THREAD into another"},
      {"fork after unshare(NEWPID)", 0, in_unshared_pidns(false), 0, nullptr},
      {"vfork after unshare(NEWPID)", cf::kVm | cf::kVfork, in_unshared_pidns(false), 0, nullptr},
      // Time namespaces.
      {"pthread after unshare(NEWTIME)", kPthreadFlags, in_unshared_timens(true), kEinval,
       "time_ns_for_children"},
      {"posix_spawn after unshare(NEWTIME)", cf::kVm | cf::kVfork, in_unshared_timens(true),
       kEinval, "time_ns_for_children"},
      {"fork after unshare(NEWTIME), no CAP", 0, in_unshared_timens(false), 0, nullptr},
      {"NEWTIME|VM without a pending time ns", cf::kNewtime | cf::kVm, root(), 0, nullptr},
      {"io thread after unshare(NEWTIME)", kIoThreadFlags, in_unshared_timens(false), kEinval,
       "time_ns_for_children"},
      {"io thread after unshare(NEWPID)", kIoThreadFlags, in_unshared_pidns(false), kEinval,
       "CLONE_THREAD into another"},
      // CLONE_PIDFD.
      {"PIDFD", cf::kPidfd, user(), 0, nullptr},
      {"PIDFD|DETACHED", cf::kPidfd | cf::kDetached, user(), kEinval,
       "CLONE_PIDFD with CLONE_DETACHED"},
      {"PIDFD|THREAD", cf::kPidfd | kThreadCore, user(), kEinval,
       "CLONE_PIDFD with CLONE_DETACHED"},
      {"DETACHED without PIDFD", cf::kDetached, user(), 0, nullptr},
      // copy_namespaces: capability.
      {"NEWNS no CAP", cf::kNewns, user(), kEperm, "CAP_SYS_ADMIN"},
      {"NEWUTS no CAP", cf::kNewuts, user(), kEperm, "CAP_SYS_ADMIN"},
      {"NEWIPC no CAP", cf::kNewipc, user(), kEperm, "CAP_SYS_ADMIN"},
      {"NEWPID no CAP", cf::kNewpid, user(), kEperm, "CAP_SYS_ADMIN"},
      {"NEWNET no CAP", cf::kNewnet, user(), kEperm, "CAP_SYS_ADMIN"},
      {"NEWCGROUP no CAP", cf::kNewcgroup, user(), kEperm, "CAP_SYS_ADMIN"},
      {"NEWTIME no CAP", cf::kNewtime, user(), kEperm, "CAP_SYS_ADMIN"},
      {"NEWNS with CAP", cf::kNewns, root(), 0, nullptr},
      {"all of copy_namespaces' with CAP",
       cf::kNewns | cf::kNewuts | cf::kNewipc | cf::kNewpid | cf::kNewnet | cf::kNewcgroup |
           cf::kNewtime,
       root(), 0, nullptr},
      {"NEWUSER|NEWUTS no CAP: privileged in the new user ns", cf::kNewuser | cf::kNewuts, user(),
       0, nullptr},
      {"NEWUSER|NEWNS|NEWPID|NEWNET no CAP", cf::kNewuser | cf::kNewns | cf::kNewpid | cf::kNewnet,
       user(), 0, nullptr},
      {"thread with NEWNS and CAP", kThreadCore | cf::kNewns, root(), 0, nullptr},
      {"thread with NEWNS without CAP", kThreadCore | cf::kNewns, user(), kEperm, "CAP_SYS_ADMIN"},
      // copy_namespaces: NEWIPC|SYSVSEM, after the capability.
      {"NEWUTS|NEWIPC|SYSVSEM no CAP: EPERM first", cf::kNewuts | cf::kNewipc | cf::kSysvsem,
       user(), kEperm, "CAP_SYS_ADMIN"},
      {"NEWUTS|NEWIPC|SYSVSEM with CAP", cf::kNewuts | cf::kNewipc | cf::kSysvsem, root(), kEinval,
       "CLONE_NEWIPC with CLONE_SYSVSEM"},
      {"NEWUSER|NEWIPC|SYSVSEM no CAP", cf::kNewuser | cf::kNewipc | cf::kSysvsem, user(), kEinval,
       "CLONE_NEWIPC with CLONE_SYSVSEM"},
      {"pthread|NEWIPC with CAP", kPthreadFlags | cf::kNewipc, root(), kEinval,
       "CLONE_NEWIPC with CLONE_SYSVSEM"},
      {"SYSVSEM after unshare(NEWTIME), no VM", cf::kSysvsem, in_unshared_timens(false), 0,
       nullptr},
      // copy_pid_ns: NEWPID when pid_ns_for_children was already changed.
      {"NEWPID after unshare(NEWPID), CAP", cf::kNewpid, in_unshared_pidns(true), kEinval,
       "CLONE_NEWPID"},
      {"NEWPID after unshare(NEWPID), no CAP: EPERM first", cf::kNewpid, in_unshared_pidns(false),
       kEperm, "CAP_SYS_ADMIN"},
      {"NEWUSER|NEWPID after unshare(NEWPID)", cf::kNewuser | cf::kNewpid, in_unshared_pidns(false),
       kEinval, "CLONE_NEWPID"},
      {"NEWNS after unshare(NEWPID), CAP", cf::kNewns, in_unshared_pidns(true), 0, nullptr},
      // Kernel threads go through the same rules.
      {"kthreadd's kernel_thread", kKthreadFlags, kthreadd(), 0, nullptr},
      {"user_mode_thread CLONE_PARENT", cf::kParent | cf::kVm | cf::kUntraced, kthreadd(), 0,
       nullptr},
      {"io thread", kIoThreadFlags, user(), 0, nullptr},
  };
  static_assert(sizeof(cases) / sizeof(cases[0]) >= 40);
  for (const RefusalCase& c : cases) {
    SCOPED_TRACE(c.what);
    Prediction p = predict(request(c.flags), c.caller);
    EXPECT_EQ(p.error, c.error);
    if (c.rule == nullptr) {
      EXPECT_EQ(p.rule, nullptr) << p.rule;
    } else {
      ASSERT_NE(p.rule, nullptr);
      EXPECT_NE(std::strstr(p.rule, c.rule), nullptr) << p.rule;
    }
  }
}

// Only CLONE_* bits count; kernel thread markers change nothing.
TEST(PredictRefusal, DebianUsernsCheckAsksTheInitialNamespace) {
  // Root in a child user namespace: ns_capable yes, capable() no.
  CallerContext c;
  c.cap_sys_admin = true;
  c.cap_sys_admin_init_ns = false;
  c.unprivileged_userns = false;
  CloneRequest r;
  r.flags = forkscope::clone_flag::kNewuser;
  r.exit_signal = kSigchld;
  Prediction p;
  predict(r, c, &p);
  EXPECT_EQ(p.error, -FORKSCOPE_EPERM);
  r.flags = forkscope::clone_flag::kNewuts;  // copy_namespaces asks ns_capable: allowed
  predict(r, c, &p);
  EXPECT_EQ(p.error, 0);
}

TEST(PredictRefusal, KernelThreadsFollowTheSameRules) {
  CloneRequest r = request(cf::kSighand | cf::kUntraced, 0, Origin::kKernel);
  r.kthread = true;
  r.has_fn = true;
  EXPECT_EQ(predict(r, kthreadd()).error, kEinval);
  r.flags = cf::kParent | cf::kVm | cf::kUntraced;
  EXPECT_EQ(predict(r, init_task()).error, kEinval);
}

TEST(PredictRefusal, RefusalLeavesSharingUnpredicted) {
  Prediction p = predict(request(cf::kSighand), user());
  for (size_t i = 0; i < kResourceCount; ++i) EXPECT_EQ(p.sharing[i], Sharing::kAny) << i;
}

// ---------------------------------------------------------------------------
// Sharing.

constexpr Sharing S = Sharing::kShared;
constexpr Sharing C = Sharing::kCopied;
constexpr Sharing N = Sharing::kNone;

struct Expected {
  Sharing mm, files, fs, sighand, signal, sysvsem, io;
  Sharing nsproxy = S, uts = S, ipc = S, mnt = S, pid = S, net = S, cgroup = S, time = S;
  bool same_thread_group = false;
  bool parent_is_callers_parent = false;
  int exit_signal = kSigchld;
};

void expect_prediction(const Prediction& p, const Expected& e) {
  ASSERT_EQ(p.error, 0) << p.rule;
  const Sharing want[] = {e.mm,  e.files, e.fs,  e.sighand, e.signal, e.sysvsem, e.io,  e.nsproxy,
                          e.uts, e.ipc,   e.mnt, e.pid,     e.net,    e.cgroup,  e.time};
  static_assert(sizeof(want) / sizeof(want[0]) == kResourceCount);
  for (size_t i = 0; i < kResourceCount; ++i) {
    EXPECT_EQ(forkscope::sharing_name(p.sharing[i]), std::string(forkscope::sharing_name(want[i])))
        << forkscope::resource_name(static_cast<Resource>(i));
  }
  EXPECT_EQ(p.same_thread_group, e.same_thread_group);
  EXPECT_EQ(p.parent_is_callers_parent, e.parent_is_callers_parent);
  EXPECT_EQ(p.exit_signal, e.exit_signal);
}

TEST(PredictSharing, GlibcFork) {
  expect_prediction(
      predict(request(kGlibcForkFlags), user()),
      {.mm = C, .files = C, .fs = C, .sighand = C, .signal = C, .sysvsem = N, .io = N});
}

TEST(PredictSharing, Vfork) {
  expect_prediction(
      predict(request(cf::kVm | cf::kVfork, kSigchld, Origin::kSysVfork), user()),
      {.mm = S, .files = C, .fs = C, .sighand = C, .signal = C, .sysvsem = N, .io = N});
}

TEST(PredictSharing, PosixSpawn) {
  expect_prediction(
      predict(request(cf::kVm | cf::kVfork), user()),
      {.mm = S, .files = C, .fs = C, .sighand = C, .signal = C, .sysvsem = N, .io = N});
}

TEST(PredictSharing, Pthread) {
  expect_prediction(predict(request(kPthreadFlags, 0), user()), {.mm = S,
                                                                 .files = S,
                                                                 .fs = S,
                                                                 .sighand = S,
                                                                 .signal = S,
                                                                 .sysvsem = S,
                                                                 .io = N,
                                                                 .same_thread_group = true,
                                                                 .parent_is_callers_parent = true,
                                                                 .exit_signal = -1});
}

TEST(PredictSharing, KthreaddKernelThread) {
  CloneRequest r = request(kKthreadFlags, kSigchld, Origin::kKernel);
  r.kthread = true;
  r.has_fn = true;
  // No mm to share: copy_mm returns before looking at CLONE_VM.
  expect_prediction(
      predict(r, kthreadd()),
      {.mm = N, .files = S, .fs = S, .sighand = C, .signal = C, .sysvsem = N, .io = N});
}

TEST(PredictSharing, UserModeThread) {
  // call_usermodehelper_exec_work: user_mode_thread(..., CLONE_PARENT | SIGCHLD)
  // from a kworker (no mm; its group leader's exit_signal is SIGCHLD).
  CloneRequest r = request(cf::kParent | cf::kVm | cf::kUntraced, kSigchld, Origin::kKernel);
  r.has_fn = true;
  CallerContext kworker = kthreadd();
  kworker.group_leader_exit_signal = kSigchld;
  expect_prediction(predict(r, kworker), {.mm = N,
                                          .files = C,
                                          .fs = C,
                                          .sighand = C,
                                          .signal = C,
                                          .sysvsem = N,
                                          .io = N,
                                          .parent_is_callers_parent = true,
                                          .exit_signal = kSigchld});
  // kernel_init: user_mode_thread(kernel_init, NULL, CLONE_FS), exit signal 0.
  r.flags = cf::kFs | cf::kVm | cf::kUntraced;
  r.exit_signal = 0;
  expect_prediction(predict(r, kthreadd()), {.mm = N,
                                             .files = C,
                                             .fs = S,
                                             .sighand = C,
                                             .signal = C,
                                             .sysvsem = N,
                                             .io = N,
                                             .exit_signal = 0});
}

TEST(PredictSharing, IoThread) {
  CloneRequest r = request(kIoThreadFlags, 0, Origin::kUnknown);
  r.io_thread = true;
  r.has_fn = true;
  CallerContext caller = user();
  caller.has_io_context = true;
  expect_prediction(predict(r, caller), {.mm = S,
                                         .files = S,
                                         .fs = S,
                                         .sighand = S,
                                         .signal = S,
                                         .sysvsem = N,
                                         .io = S,
                                         .same_thread_group = true,
                                         .parent_is_callers_parent = true,
                                         .exit_signal = -1});
  // copy_io: CLONE_IO without a parent io_context shares nothing.
  expect_prediction(predict(r, user()), {.mm = S,
                                         .files = S,
                                         .fs = S,
                                         .sighand = S,
                                         .signal = S,
                                         .sysvsem = N,
                                         .io = N,
                                         .same_thread_group = true,
                                         .parent_is_callers_parent = true,
                                         .exit_signal = -1});
}

TEST(PredictSharing, Clone3NewUtsNewPid) {
  expect_prediction(
      predict(request(cf::kNewuts | cf::kNewpid, kSigchld, Origin::kSysClone3), root()),
      {.mm = C,
       .files = C,
       .fs = C,
       .sighand = C,
       .signal = C,
       .sysvsem = N,
       .io = N,
       .nsproxy = C,
       .uts = C,
       .pid = C});
}

TEST(PredictSharing, EveryNamespaceFlag) {
  struct {
    unsigned long long flag;
    Resource resource;
  } const cases[] = {
      {cf::kNewns, Resource::kMntNs},
      {cf::kNewuts, Resource::kUtsNs},
      {cf::kNewipc, Resource::kIpcNs},
      {cf::kNewpid, Resource::kPidNsForChildren},
      {cf::kNewnet, Resource::kNetNs},
      {cf::kNewcgroup, Resource::kCgroupNs},
      {cf::kNewtime, Resource::kTimeNsForChildren},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(forkscope::resource_name(c.resource));
    Prediction p = predict(request(c.flag), root());
    ASSERT_EQ(p.error, 0);
    EXPECT_EQ(p.sharing[idx(Resource::kNsproxy)], Sharing::kCopied);
    for (size_t i = idx(Resource::kUtsNs); i < kResourceCount; ++i) {
      EXPECT_EQ(p.sharing[i], i == idx(c.resource) ? Sharing::kCopied : Sharing::kShared)
          << forkscope::resource_name(static_cast<Resource>(i));
    }
  }
}

TEST(PredictSharing, NewUserAloneKeepsTheNsproxy) {
  // CLONE_NEWUSER is copy_creds' business: copy_namespaces takes its fast path.
  expect_prediction(
      predict(request(cf::kNewuser), user()),
      {.mm = C, .files = C, .fs = C, .sighand = C, .signal = C, .sysvsem = N, .io = N});
}

TEST(PredictSharing, PendingTimeNamespaceCopiesTheNsproxy) {
  // fork after unshare(CLONE_NEWTIME): a new nsproxy with every member shared
  // (timens_on_fork then switches time_ns, which is not a Resource).
  expect_prediction(predict(request(0), in_unshared_timens(false)), {.mm = C,
                                                                     .files = C,
                                                                     .fs = C,
                                                                     .sighand = C,
                                                                     .signal = C,
                                                                     .sysvsem = N,
                                                                     .io = N,
                                                                     .nsproxy = C});
}

TEST(PredictSharing, ClearSighand) {
  expect_prediction(
      predict(request(cf::kClearSighand, kSigchld, Origin::kSysClone3), user()),
      {.mm = C, .files = C, .fs = C, .sighand = C, .signal = C, .sysvsem = N, .io = N});
}

TEST(PredictSharing, IoContext) {
  CallerContext with_ioc = user();
  with_ioc.has_io_context = true;
  CallerContext with_prio = with_ioc;
  with_prio.io_context_prio_valid = true;
  struct {
    const char* what;
    unsigned long long flags;
    CallerContext caller;
    Sharing io;
  } const cases[] = {
      {"CLONE_IO, parent io_context", cf::kIo, with_ioc, S},
      {"CLONE_IO, parent io_context with ioprio", cf::kIo, with_prio, S},
      {"CLONE_IO, no parent io_context", cf::kIo, user(), N},
      {"no CLONE_IO, ioprio set", 0, with_prio, C},
      {"no CLONE_IO, ioprio unset", 0, with_ioc, N},
      {"no CLONE_IO, no io_context", 0, user(), N},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    Prediction p = predict(request(c.flags), c.caller);
    ASSERT_EQ(p.error, 0);
    EXPECT_EQ(p.sharing[idx(Resource::kIo)], c.io);
  }
}

TEST(PredictSharing, SysvsemAndSharedVmWithoutThread) {
  // clone(CLONE_VM|CLONE_SIGHAND|CLONE_SYSVSEM): a new thread group.
  expect_prediction(
      predict(request(cf::kVm | cf::kSighand | cf::kSysvsem | cf::kFiles), user()),
      {.mm = S, .files = S, .fs = C, .sighand = S, .signal = C, .sysvsem = S, .io = N});
}

TEST(PredictSharing, ExitSignal) {
  CallerContext caller = user();
  caller.group_leader_exit_signal = 10;
  // CLONE_PARENT: the group leader's exit signal, not the request's.
  Prediction p = predict(request(cf::kParent, kSigchld), caller);
  EXPECT_EQ(p.exit_signal, 10);
  EXPECT_TRUE(p.parent_is_callers_parent);
  EXPECT_FALSE(p.same_thread_group);
  // A thread: -1, whatever either says.
  p = predict(request(kThreadCore | cf::kParent, kSigchld), caller);
  EXPECT_EQ(p.exit_signal, -1);
  EXPECT_TRUE(p.parent_is_callers_parent);
  EXPECT_TRUE(p.same_thread_group);
  // Otherwise the request's (clone(..., SIGUSR1), clone3 exit_signal 0).
  EXPECT_EQ(predict(request(0, 10), caller).exit_signal, 10);
  EXPECT_EQ(predict(request(0, 0, Origin::kSysClone3), caller).exit_signal, 0);
  EXPECT_FALSE(predict(request(0, 0), caller).parent_is_callers_parent);
}

// ---------------------------------------------------------------------------
// judge().

// What the glue would see if the kernel did exactly what was predicted.
Observation observe(const Prediction& p) {
  Observation o;
  for (size_t i = 0; i < kResourceCount; ++i) {
    o.same[i] = p.sharing[i] == Sharing::kShared;
    o.child_null[i] = p.sharing[i] == Sharing::kNone;
  }
  o.same_thread_group = p.same_thread_group;
  o.parent_is_callers_parent = p.parent_is_callers_parent;
  o.parent_is_caller = !p.parent_is_callers_parent;
  o.exit_signal = p.exit_signal;
  return o;
}

TEST(JudgeMatch, PredictionsObservedExactly) {
  const Prediction predictions[] = {
      predict(request(kGlibcForkFlags), user()),
      predict(request(kPthreadFlags, 0), user()),
      predict(request(cf::kVm | cf::kVfork), user()),
      predict(request(cf::kNewuts | cf::kNewpid), root()),
      predict(request(kKthreadFlags), kthreadd()),
  };
  for (const Prediction& p : predictions) {
    Verdict v = forkscope::judge(p, 0, observe(p));
    EXPECT_EQ(v.kind, VerdictKind::kMatch) << (v.reason ? v.reason : "");
    EXPECT_EQ(v.reason, nullptr);
    EXPECT_EQ(v.mismatched_resources, 0u);
    EXPECT_FALSE(v.refusal_mismatch || v.thread_group_mismatch || v.parent_mismatch ||
                 v.exit_signal_mismatch);
  }
}

TEST(JudgeMatch, NoneMatchesAParentWithoutTheObjectToo) {
  // A kernel thread's mm: parent and child both null ("same").
  Prediction p = predict(request(kKthreadFlags), kthreadd());
  Observation o = observe(p);
  o.same[idx(Resource::kMm)] = true;
  EXPECT_EQ(forkscope::judge(p, 0, o).kind, VerdictKind::kMatch);
}

TEST(JudgeMatch, AnyMatchesEverything) {
  Prediction p = predict(request(0), user());
  p.sharing[idx(Resource::kIo)] = Sharing::kAny;
  Observation o = observe(p);
  for (int shape = 0; shape < 3; ++shape) {
    o.same[idx(Resource::kIo)] = shape == 0;
    o.child_null[idx(Resource::kIo)] = shape == 2;
    EXPECT_EQ(forkscope::judge(p, 0, o).kind, VerdictKind::kMatch) << shape;
  }
}

TEST(JudgeMatch, RefusalWithThePredictedErrno) {
  Prediction p = predict(request(cf::kSighand), user());
  Verdict v = forkscope::judge(p, kEinval, Observation{});
  EXPECT_EQ(v.kind, VerdictKind::kMatch);
  EXPECT_FALSE(v.refusal_mismatch);
  p = predict(request(cf::kNewnet), user());
  EXPECT_EQ(forkscope::judge(p, kEperm, Observation{}).kind, VerdictKind::kMatch);
}

TEST(JudgeMismatch, EachResource) {
  const Prediction p = predict(request(kGlibcForkFlags), user());
  for (size_t i = 0; i < kResourceCount; ++i) {
    const std::string name = forkscope::resource_name(static_cast<Resource>(i));
    SCOPED_TRACE(name);
    Observation o = observe(p);
    if (p.sharing[i] == Sharing::kNone) {
      o.child_null[i] = false;  // got an object
    } else {
      o.same[i] = !o.same[i];  // shared <-> copied
    }
    Verdict v = forkscope::judge(p, 0, o);
    EXPECT_EQ(v.kind, VerdictKind::kMismatch);
    EXPECT_EQ(v.mismatched_resources, 1u << i);
    ASSERT_NE(v.reason, nullptr);
    EXPECT_EQ(std::string(v.reason), name + " differs");
    EXPECT_FALSE(v.refusal_mismatch || v.thread_group_mismatch || v.parent_mismatch ||
                 v.exit_signal_mismatch);
  }
}

TEST(JudgeMismatch, SharedObservedAsNone) {
  const Prediction p = predict(request(kPthreadFlags, 0), user());
  Observation o = observe(p);
  o.child_null[idx(Resource::kSysvsem)] = true;
  Verdict v = forkscope::judge(p, 0, o);
  EXPECT_EQ(v.kind, VerdictKind::kMismatch);
  EXPECT_STREQ(v.reason, "sysvsem differs");
}

TEST(JudgeMismatch, ThreadGroup) {
  const Prediction p = predict(request(kPthreadFlags, 0), user());
  Observation o = observe(p);
  o.same_thread_group = false;
  Verdict v = forkscope::judge(p, 0, o);
  EXPECT_EQ(v.kind, VerdictKind::kMismatch);
  EXPECT_TRUE(v.thread_group_mismatch);
  EXPECT_STREQ(v.reason, "thread group differs");
}

TEST(JudgeMismatch, Parent) {
  // Predicted the caller, observed the caller's parent.
  Prediction p = predict(request(0), user());
  Observation o = observe(p);
  o.parent_is_caller = false;
  o.parent_is_callers_parent = true;
  Verdict v = forkscope::judge(p, 0, o);
  EXPECT_EQ(v.kind, VerdictKind::kMismatch);
  EXPECT_TRUE(v.parent_mismatch);
  EXPECT_STREQ(v.reason, "parent differs");
  // Predicted the caller's parent (CLONE_PARENT), observed the caller.
  p = predict(request(cf::kParent), user());
  o = observe(p);
  o.parent_is_caller = true;
  o.parent_is_callers_parent = false;
  EXPECT_TRUE(forkscope::judge(p, 0, o).parent_mismatch);
  // Neither.
  o.parent_is_caller = false;
  EXPECT_TRUE(forkscope::judge(p, 0, o).parent_mismatch);
}

TEST(JudgeMismatch, ExitSignal) {
  const Prediction p = predict(request(cf::kParent), user());
  Observation o = observe(p);
  o.exit_signal = 0;
  Verdict v = forkscope::judge(p, 0, o);
  EXPECT_EQ(v.kind, VerdictKind::kMismatch);
  EXPECT_TRUE(v.exit_signal_mismatch);
  EXPECT_STREQ(v.reason, "exit_signal differs");
}

TEST(JudgeMismatch, SeveralDifferencesNameTheFirst) {
  const Prediction p = predict(request(0), user());
  Observation o = observe(p);
  o.same[idx(Resource::kFs)] = true;
  o.same[idx(Resource::kNetNs)] = false;
  o.same_thread_group = true;
  o.exit_signal = 1;
  Verdict v = forkscope::judge(p, 0, o);
  EXPECT_EQ(v.kind, VerdictKind::kMismatch);
  EXPECT_STREQ(v.reason, "fs differs");
  EXPECT_EQ(v.mismatched_resources, (1u << idx(Resource::kFs)) | (1u << idx(Resource::kNetNs)));
  EXPECT_TRUE(v.thread_group_mismatch);
  EXPECT_FALSE(v.parent_mismatch);
  EXPECT_TRUE(v.exit_signal_mismatch);
}

TEST(JudgeMismatch, RefusalWithAnotherErrno) {
  const Prediction p = predict(request(cf::kSighand), user());
  Verdict v = forkscope::judge(p, kEperm, Observation{});
  EXPECT_EQ(v.kind, VerdictKind::kMismatch);
  EXPECT_TRUE(v.refusal_mismatch);
  ASSERT_NE(v.reason, nullptr);
  // A top-of-copy_process rule runs before any limit: EAGAIN is a mismatch too.
  v = forkscope::judge(p, -11, Observation{});
  EXPECT_EQ(v.kind, VerdictKind::kMismatch);
  EXPECT_TRUE(v.refusal_mismatch);
}

TEST(JudgeMismatch, RefusalPredictedButSucceeded) {
  const Prediction p = predict(request(cf::kNewuts | cf::kNewipc | cf::kSysvsem), user());
  ASSERT_EQ(p.error, kEperm);
  Verdict v = forkscope::judge(p, 0, Observation{});
  EXPECT_EQ(v.kind, VerdictKind::kMismatch);
  EXPECT_TRUE(v.refusal_mismatch);
  ASSERT_NE(v.reason, nullptr);
}

TEST(JudgeMismatch, LateRuleWithAnotherRuleErrno) {
  // copy_namespaces' EPERM observed as EINVAL: the order is wrong somewhere.
  const Prediction p = predict(request(cf::kNewuts | cf::kNewipc | cf::kSysvsem), user());
  Verdict v = forkscope::judge(p, kEinval, Observation{});
  EXPECT_EQ(v.kind, VerdictKind::kMismatch);
  EXPECT_TRUE(v.refusal_mismatch);
}

TEST(JudgeUnchecked, ResourceFailures) {
  const Prediction p = predict(request(0), user());
  struct {
    long long ret;
    const char* reason;
  } const cases[] = {
      {-11, "resource-dependent failure (EAGAIN)"},
      {-12, "resource-dependent failure (ENOMEM)"},
      {-28, "resource-dependent failure (ENOSPC)"},
      {-513, "restarted for a pending signal (ERESTARTNOINTR)"},
      {-4, "interrupted by a fatal signal (EINTR)"},
      {-1, "refused by a rule outside the model (errno 1)"},
      {-22, "refused by a rule outside the model (errno 22)"},
      {-1000, "refused by a rule outside the model (other errno)"},
  };
  for (const auto& c : cases) {
    Verdict v = forkscope::judge(p, c.ret, Observation{});
    EXPECT_EQ(v.kind, VerdictKind::kUnchecked) << c.ret;
    EXPECT_STREQ(v.reason, c.reason);
    EXPECT_FALSE(v.refusal_mismatch);
  }
}

TEST(JudgeUnchecked, LateRulePreemptedByALimit) {
  // RLIMIT_NPROC (EAGAIN) and allocations come before copy_namespaces.
  const Prediction p = predict(request(cf::kNewnet), user());
  ASSERT_EQ(p.error, kEperm);
  Verdict v = forkscope::judge(p, -11, Observation{});
  EXPECT_EQ(v.kind, VerdictKind::kUnchecked);
  EXPECT_STREQ(v.reason, "resource-dependent failure (EAGAIN)");
  EXPECT_EQ(forkscope::judge(p, -12, Observation{}).kind, VerdictKind::kUnchecked);
}

// ---------------------------------------------------------------------------
// Names and text.

TEST(VerdictNames, All) {
  EXPECT_STREQ(forkscope::verdict_name(VerdictKind::kMatch), "match");
  EXPECT_STREQ(forkscope::verdict_name(VerdictKind::kMismatch), "mismatch");
  EXPECT_STREQ(forkscope::verdict_name(VerdictKind::kUnchecked), "unchecked");
  EXPECT_STREQ(forkscope::sharing_name(Sharing::kShared), "shared");
  EXPECT_STREQ(forkscope::sharing_name(Sharing::kCopied), "copied");
  EXPECT_STREQ(forkscope::sharing_name(Sharing::kNone), "none");
  EXPECT_STREQ(forkscope::sharing_name(Sharing::kAny), "any");
  const char* const resources[] = {
      "mm",      "files",     "fs",
      "sighand", "signal",    "sysvsem",
      "io",      "nsproxy",   "uts_ns",
      "ipc_ns",  "mnt_ns",    "pid_ns_for_children",
      "net_ns",  "cgroup_ns", "time_ns_for_children",
  };
  static_assert(sizeof(resources) / sizeof(resources[0]) == kResourceCount);
  for (size_t i = 0; i < kResourceCount; ++i) {
    EXPECT_STREQ(forkscope::resource_name(static_cast<Resource>(i)), resources[i]);
  }
}

std::string prediction_text(const Prediction& p) {
  char buf[512];
  ktl::StringBuilder out(buf, sizeof(buf));
  forkscope::append_prediction(out, p);
  EXPECT_FALSE(out.truncated());
  return std::string(out.c_str(), out.length());
}

std::string observation_text(const Observation& o) {
  char buf[512];
  ktl::StringBuilder out(buf, sizeof(buf));
  forkscope::append_observation(out, o);
  EXPECT_FALSE(out.truncated());
  return std::string(out.c_str(), out.length());
}

TEST(VerdictText, Prediction) {
  EXPECT_EQ(prediction_text(predict(request(0), user())),
            "mm=copied files=copied fs=copied sighand=copied signal=copied sysvsem=none io=none "
            "nsproxy=shared uts_ns=shared ipc_ns=shared mnt_ns=shared pid_ns_for_children=shared "
            "net_ns=shared cgroup_ns=shared time_ns_for_children=shared tgid=new parent=caller "
            "exit_signal=17");
  EXPECT_EQ(prediction_text(predict(request(kPthreadFlags, 0), user())),
            "mm=shared files=shared fs=shared sighand=shared signal=shared sysvsem=shared io=none "
            "nsproxy=shared uts_ns=shared ipc_ns=shared mnt_ns=shared pid_ns_for_children=shared "
            "net_ns=shared cgroup_ns=shared time_ns_for_children=shared tgid=same "
            "parent=callers_parent exit_signal=-1");
  EXPECT_EQ(prediction_text(predict(request(cf::kSighand), user())), "refused");
}

TEST(VerdictText, Observation) {
  Prediction p = predict(request(kPthreadFlags, 0), user());
  EXPECT_EQ(observation_text(observe(p)), prediction_text(p));
  p = predict(request(cf::kNewnet | cf::kVm), root());
  EXPECT_EQ(observation_text(observe(p)), prediction_text(p));
  Observation o = observe(p);
  o.parent_is_caller = false;
  EXPECT_NE(observation_text(o).find(" parent=other "), std::string::npos);
}

}  // namespace
