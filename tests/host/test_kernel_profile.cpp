// SPDX-License-Identifier: GPL-2.0
// Kernel profiles: which profile a release gets, how symbol resolution
// confirms it, the stage map's inlined stages, and 6.12's verdict rules
// (written from linux-source-6.12's kernel/fork.c and kernel/nsproxy.c).
#include <gtest/gtest.h>

#include <string>

#include "format.h"
#include "kernel_profile.h"
#include "verdict.h"

namespace {

using forkscope::Anchor;
using forkscope::CallerContext;
using forkscope::CloneRequest;
using forkscope::KernelProfile;
using forkscope::Prediction;
using forkscope::Resource;
using forkscope::Sharing;
namespace cf = forkscope::clone_flag;

constexpr unsigned long long kThreadCore = cf::kThread | cf::kSighand | cf::kVm;

const KernelProfile* choose(const char* release, bool* exact) {
  return forkscope::choose_profile(release, exact);
}

unsigned long long bit(Anchor anchor) { return 1ull << static_cast<int>(anchor); }

unsigned long long all_anchors() { return (1ull << forkscope::kAnchorCount) - 1; }

const KernelProfile& profile_named(const char* name) {
  for (size_t i = 0; i < forkscope::profile_count(); ++i) {
    if (std::string(forkscope::profile_at(i).name) == name) return forkscope::profile_at(i);
  }
  ADD_FAILURE() << "no profile " << name;
  return forkscope::profile_at(0);
}

TEST(KernelProfile, SeriesOfTheRelease) {
  bool exact = false;
  ASSERT_NE(nullptr, choose("6.1.0-57-amd64", &exact));
  EXPECT_STREQ("6.1", choose("6.1.0-57-amd64", &exact)->name);
  EXPECT_TRUE(exact);
  EXPECT_STREQ("6.12", choose("6.12.117+deb12-amd64", &exact)->name);
  EXPECT_TRUE(exact);
  EXPECT_STREQ("6.12", choose("6.12.117+deb12-rt-amd64", &exact)->name);
  EXPECT_TRUE(exact);
  EXPECT_STREQ("6.1", choose("6.1.0-57-cloud-amd64", &exact)->name);
  EXPECT_TRUE(exact);
}

TEST(KernelProfile, UnknownSeriesGetsTheNearest) {
  bool exact = true;
  EXPECT_STREQ("6.1", choose("6.6.30", &exact)->name);  // newest older series
  EXPECT_FALSE(exact);
  EXPECT_STREQ("6.12", choose("6.16.3+deb13-amd64", &exact)->name);
  EXPECT_FALSE(exact);
  EXPECT_STREQ("6.1", choose("5.10.0-30-amd64", &exact)->name);  // older than all: the oldest
  EXPECT_FALSE(exact);
  EXPECT_STREQ("6.12", choose("7.0", &exact)->name);
  EXPECT_FALSE(exact);
  EXPECT_STREQ("6.1", choose("6.10", &exact)->name);  // 6.10 < 6.12: minor compared as a number
}

TEST(KernelProfile, UnparsableReleaseHasNone) {
  bool exact = true;
  EXPECT_EQ(nullptr, choose("", &exact));
  EXPECT_EQ(nullptr, choose("linux", &exact));
  EXPECT_EQ(nullptr, choose("6", &exact));
  EXPECT_EQ(nullptr, choose("6.", &exact));
  EXPECT_EQ(nullptr, choose(nullptr, &exact));
}

TEST(KernelProfile, SymbolResolutionConfirmsIt) {
  const KernelProfile& p61 = profile_named("6.1");
  const KernelProfile& p612 = profile_named("6.12");
  // 6.1: every anchor has a symbol.
  auto check = forkscope::check_profile(p61, all_anchors());
  EXPECT_EQ(0u, check.missing);
  EXPECT_EQ(0u, check.unexpected);
  // 6.12: dup_mmap and __pidfd_prepare are inlined.
  unsigned long long on612 = all_anchors() & ~bit(Anchor::kDupMmap) & ~bit(Anchor::kPidfdPrepare);
  check = forkscope::check_profile(p612, on612);
  EXPECT_EQ(0u, check.missing);
  EXPECT_EQ(0u, check.unexpected);
  EXPECT_EQ(bit(Anchor::kDupMmap) | bit(Anchor::kPidfdPrepare), check.inlined);
  // The 6.1 profile on a kernel without dup_mmap: not confirmed.
  check = forkscope::check_profile(p61, on612);
  EXPECT_EQ(bit(Anchor::kDupMmap) | bit(Anchor::kPidfdPrepare), check.missing);
  // The 6.12 profile on a kernel that has them: probed, but said.
  check = forkscope::check_profile(p612, all_anchors());
  EXPECT_EQ(bit(Anchor::kDupMmap) | bit(Anchor::kPidfdPrepare), check.unexpected);

  char buf[512];
  ktl::StringBuilder text(buf, sizeof(buf));
  forkscope::append_profile_summary(text, p612, true, "6.12.117+deb12-amd64", on612);
  std::string line(buf, text.length());
  EXPECT_NE(std::string::npos, line.find("profile 6.12 for 6.12.117+deb12-amd64")) << line;
  EXPECT_NE(std::string::npos, line.find("confirmed by symbol resolution")) << line;
  EXPECT_NE(std::string::npos, line.find("dup_mmap, __pidfd_prepare")) << line;
}

TEST(KernelProfile, NamesAndTexts) {
  const KernelProfile& p612 = profile_named("6.12");
  // copy_process calls __pidfd_prepare; the exported pidfd_prepare() is not on its path.
  const char* const* names = forkscope::profile_anchor_names(p612, Anchor::kPidfdPrepare);
  EXPECT_STREQ("__pidfd_prepare", names[0]);
  EXPECT_EQ(nullptr, names[1]);
  const char* const* shared = forkscope::profile_anchor_names(p612, Anchor::kCopyProcess);
  EXPECT_STREQ("copy_process", shared[0]);
  std::string dup_mm = forkscope::profile_stage_contains(p612, forkscope::Stage::kDupMm);
  EXPECT_NE(std::string::npos, dup_mm.find("dup_mmap")) << dup_mm;
  EXPECT_STREQ(forkscope::stage_info(forkscope::Stage::kCopyCreds).contains,
               forkscope::profile_stage_contains(p612, forkscope::Stage::kCopyCreds));
}

Prediction predict(const KernelProfile& profile, unsigned long long flags,
                   const CallerContext& caller = CallerContext{}) {
  CloneRequest request;
  request.flags = flags;
  request.origin = forkscope::Origin::kSysClone3;
  Prediction out;
  forkscope::predict(request, caller, profile.rules, &out);
  return out;
}

TEST(KernelProfileVerdict, PidfdThreadIsAThreadPidfdOn612) {
  const unsigned long long flags = kThreadCore | cf::kPidfd;
  EXPECT_EQ(-22, predict(profile_named("6.1"), flags).error);
  Prediction p = predict(profile_named("6.12"), flags);
  EXPECT_EQ(0, p.error) << p.rule;
  EXPECT_TRUE(p.same_thread_group);
  // CLONE_DETACHED stays refused on both.
  EXPECT_EQ(-22, predict(profile_named("6.12"), cf::kPidfd | cf::kDetached).error);
}

TEST(KernelProfileVerdict, TimeNamespaceNoLongerRefusesThreadsOn612) {
  CallerContext caller;
  caller.time_ns_differs = true;
  EXPECT_EQ(-22, predict(profile_named("6.1"), kThreadCore, caller).error);
  EXPECT_EQ(-22, predict(profile_named("6.1"), cf::kVm, caller).error);
  Prediction p = predict(profile_named("6.12"), kThreadCore, caller);
  EXPECT_EQ(0, p.error) << p.rule;
  // copy_namespaces' fast path: CLONE_VM shares the nsproxy whatever time_ns_for_children is.
  EXPECT_EQ(Sharing::kShared, p.sharing[static_cast<size_t>(Resource::kNsproxy)]);
  // Without CLONE_VM a new nsproxy takes the new time namespace, on both series.
  EXPECT_EQ(
      Sharing::kCopied,
      predict(profile_named("6.12"), 0, caller).sharing[static_cast<size_t>(Resource::kNsproxy)]);
  EXPECT_EQ(
      Sharing::kCopied,
      predict(profile_named("6.1"), 0, caller).sharing[static_cast<size_t>(Resource::kNsproxy)]);
}

TEST(KernelProfileStages, StageMapSaysWhatIsInlined) {
  const KernelProfile& p612 = profile_named("6.12");
  forkscope::set_active_profile(&p612, true, "6.12.117+deb12-amd64");
  static char buf[1 << 16];
  ktl::StringBuilder out(buf, sizeof(buf));
  forkscope::EngineCounters counters{};
  unsigned long long on612 = all_anchors() & ~bit(Anchor::kDupMmap) & ~bit(Anchor::kPidfdPrepare);
  forkscope::append_stage_map(out, counters, nullptr, 0, on612, on612);
  forkscope::set_active_profile(nullptr, true, nullptr);
  std::string map(buf, out.length());
  EXPECT_NE(std::string::npos, map.find("# kernel profile 6.12 for 6.12.117+deb12-amd64")) << map;
  EXPECT_NE(std::string::npos, map.find("inlined into dup_mm")) << map;
  EXPECT_NE(std::string::npos, map.find("inlined into task_setup")) << map;
  EXPECT_EQ(std::string::npos, map.find("merged into")) << map;
}

}  // namespace
