// SPDX-License-Identifier: GPL-2.0
// The kernel profiles (one table per series, read from Debian's
// linux-source-6.1 6.1.192 and linux-source-6.12 6.12.117) and how one is
// chosen for the running kernel.
#include "kernel_profile.h"

#include <ktl/utility.h>

namespace forkscope {
namespace {

using A = Anchor;
using S = Stage;

constexpr ktl::u64 bit(Anchor anchor) { return ktl::u64{1} << static_cast<int>(anchor); }

// 6.1: the shared tables (stage_model.cpp) are 6.1's; every anchor has a symbol.

// 6.12: dup_mmap and __pidfd_prepare are inlined (dup_mm, copy_mm and
// copy_process's other helpers were already in 6.1); only the exported
// pidfd_prepare() wrapper has a symbol, and copy_process does not call it.
// do_open_execat moved from bprm_execve into alloc_bprm (6.8).
constexpr AnchorNames kNames612[] = {
    {A::kPidfdPrepare, {"__pidfd_prepare", nullptr, nullptr}},
};

constexpr StageText kTexts612[] = {
    {S::kDupMm,
     "mm_init return to copy_namespaces: inlined dup_mm with dup_mmap (VMAs and page tables, "
     "without CLONE_VM), and the end of copy_mm"},
    {S::kDupMmap, "dup_mmap(): inlined into dup_mm on 6.12 (timed in dup_mm)"},
    {S::kTaskSetup,
     "alloc_pid return to cgroup_can_fork: inlined __pidfd_prepare (CLONE_PIDFD), futex init, "
     "pid and tgid, thread group links"},
    {S::kPidfdPrepare, "__pidfd_prepare(): inlined on 6.12 (timed in task_setup)"},
    {S::kSchedCgroupFork, "sched_cgroup_fork() (can fail on 6.12: sched_ext)"},
    {S::kAllocBprm,
     "alloc_bprm(): do_open_execat first (nested), then the binprm, bprm_mm_init (mm_init and "
     "pgd_alloc nested)"},
    {S::kDoOpenExecat, "do_open_execat(): path walk and open of the file (inside alloc_bprm)"},
    {S::kPrepareBprmCreds,
     "bprm_execve entry to sched_exec: inlined prepare_bprm_creds, check_unsafe_exec, "
     "sched_mm_cid_before_execve"},
    {S::kSearchBinaryHandler,
     "bprm_execve after sched_exec: security_bprm_creds_for_exec, inlined exec_binprm and "
     "search_binary_handler (prepare_binprm reads the first page, binfmt iteration), the tail"},
};

constexpr KernelProfile kProfiles[] = {
    {"6.1",
     6,
     1,
     "Debian linux-source-6.1 (6.1.192): kernel/fork.c, kernel/nsproxy.c, fs/exec.c",
     0,
     nullptr,
     0,
     nullptr,
     0,
     {true, true, false}},
    {"6.12",
     6,
     12,
     "Debian linux-source-6.12 (6.12.117): kernel/fork.c, kernel/nsproxy.c, fs/exec.c",
     bit(A::kDupMmap) | bit(A::kPidfdPrepare),
     kNames612,
     ktl::size(kNames612),
     kTexts612,
     ktl::size(kTexts612),
     {false, false, true}},
};

// Set once at load, before probes are armed; read-only afterwards.
const KernelProfile* g_active = &kProfiles[0];
bool g_active_exact = true;
const char* g_release = nullptr;

// Leading decimal number of *p, advancing past it; false if none.
bool parse_number(const char** p, ktl::u32* out) {
  ktl::u32 value = 0;
  int digits = 0;
  while (**p >= '0' && **p <= '9' && digits < 6) {
    value = value * 10 + static_cast<ktl::u32>(**p - '0');
    ++*p;
    ++digits;
  }
  *out = value;
  return digits > 0;
}

bool older(const KernelProfile& profile, ktl::u32 major, ktl::u32 minor) {
  return profile.major < major || (profile.major == major && profile.minor < minor);
}

void append_anchor_names(ktl::StringBuilder& out, ktl::u64 mask) {
  bool first = true;
  for (ktl::size_t a = 0; a < kAnchorCount; ++a) {
    if (!((mask >> a) & 1)) continue;
    out.append(first ? "" : ", ").append(anchor_info(static_cast<Anchor>(a)).names[0]);
    first = false;
  }
}

}  // namespace

ktl::size_t profile_count() { return ktl::size(kProfiles); }
const KernelProfile& profile_at(ktl::size_t index) { return kProfiles[index]; }

const KernelProfile* choose_profile(const char* release, bool* exact) {
  *exact = false;
  if (release == nullptr) return nullptr;
  const char* p = release;
  ktl::u32 major = 0;
  ktl::u32 minor = 0;
  if (!parse_number(&p, &major) || *p++ != '.' || !parse_number(&p, &minor)) return nullptr;
  const KernelProfile* nearest = nullptr;
  for (const KernelProfile& profile : kProfiles) {
    if (profile.major == major && profile.minor == minor) {
      *exact = true;
      return &profile;
    }
    if (older(profile, major, minor)) nearest = &profile;  // kProfiles is oldest first
  }
  return nearest != nullptr ? nearest : &kProfiles[0];
}

const KernelProfile& active_profile() { return *g_active; }
bool active_profile_exact() { return g_active_exact; }

const char* active_release() { return g_release; }

void set_active_profile(const KernelProfile* profile, bool exact, const char* release) {
  g_active = profile != nullptr ? profile : &kProfiles[0];
  g_active_exact = profile != nullptr && exact;
  g_release = release;
}

const char* const* profile_anchor_names(const KernelProfile& profile, Anchor anchor) {
  for (ktl::size_t i = 0; i < profile.name_count; ++i) {
    if (profile.names[i].anchor == anchor) return profile.names[i].names;
  }
  return anchor_info(anchor).names;
}

const char* profile_stage_contains(const KernelProfile& profile, Stage stage) {
  for (ktl::size_t i = 0; i < profile.text_count; ++i) {
    if (profile.texts[i].stage == stage) return profile.texts[i].contains;
  }
  return stage_info(stage).contains;
}

ProfileCheck check_profile(const KernelProfile& profile, ktl::u64 registered) {
  ProfileCheck check;
  const ktl::u64 all = kAnchorCount >= 64 ? ~ktl::u64{0} : (ktl::u64{1} << kAnchorCount) - 1;
  check.missing = all & ~profile.inlined_anchors & ~registered;
  check.unexpected = profile.inlined_anchors & registered;
  check.inlined = profile.inlined_anchors & ~registered;
  return check;
}

void append_profile_summary(ktl::StringBuilder& out, const KernelProfile& profile, bool exact,
                            const char* release, ktl::u64 registered) {
  out.append("profile ").append(profile.name).append(" for ").append(release ? release : "?");
  out.append(exact ? " (its series)" : " (no profile for this series: the nearest)");
  ProfileCheck check = check_profile(profile, registered);
  if (check.missing == 0 && check.unexpected == 0) {
    out.append(": confirmed by symbol resolution");
  } else {
    out.append(": symbol resolution differs");
  }
  if (check.inlined != 0) {
    out.append("; inlined as the profile says: ");
    append_anchor_names(out, check.inlined);
  }
  if (check.missing != 0) {
    out.append("; absent, merged into a neighbour stage: ");
    append_anchor_names(out, check.missing);
  }
  if (check.unexpected != 0) {
    out.append("; present though the profile has them inlined (probed): ");
    append_anchor_names(out, check.unexpected);
  }
}

}  // namespace forkscope
