// SPDX-License-Identifier: GPL-2.0
// Kernel profiles: what each supported series (6.1, 6.12) does differently
// on the creation path, read from that series' kernel/fork.c,
// kernel/nsproxy.c and fs/exec.c. Chosen at load from the running kernel's
// release and confirmed by symbol resolution.
#ifndef FORKSCOPE_CORE_KERNEL_PROFILE_H
#define FORKSCOPE_CORE_KERNEL_PROFILE_H

#include <ktl/string_builder.h>
#include <ktl/types.h>

#include "stage_model.h"

namespace forkscope {

// copy_process's refusal and sharing rules that differ between series.
struct VerdictRules {
  // 6.1: copy_process refuses CLONE_THREAD or CLONE_VM (EINVAL) while
  // time_ns_for_children differs from time_ns; 6.12 has no such check.
  bool timens_refuses_thread_vm;
  // 6.1: CLONE_PIDFD with CLONE_THREAD is EINVAL; 6.12 makes a PIDFD_THREAD pidfd.
  bool pidfd_refuses_thread;
  // 6.12: copy_namespaces' fast path (nsproxy shared) also when CLONE_VM,
  // whatever time_ns_for_children is.
  bool vm_shares_nsproxy_across_timens;
};

// An anchor whose symbol names differ on a series (newest first, nullptr-terminated).
struct AnchorNames {
  Anchor anchor;
  const char* names[3];
};

// A stage whose content differs on a series (what its time covers there).
struct StageText {
  Stage stage;
  const char* contains;
};

// One supported series. The two series' kernel_clone and copy_process call
// the probed functions in the same order, so the boundary order
// (stage_model.cpp) is shared; a profile says what its series inlines (the
// stage is then timed inside the gap around it), how it names symbols, what
// each stage contains there, and which verdict rules apply.
struct KernelProfile {
  const char* name;  // "6.1"
  ktl::u32 major;
  ktl::u32 minor;
  const char* source;        // what the tables were read from
  ktl::u64 inlined_anchors;  // bit per Anchor: no symbol in this series' Debian build
  const AnchorNames* names;
  ktl::size_t name_count;
  const StageText* texts;
  ktl::size_t text_count;
  VerdictRules rules;
};

ktl::size_t profile_count();
const KernelProfile& profile_at(ktl::size_t index);

// The profile for a kernel release ("6.12.117+deb12-amd64"): its series,
// else the nearest one (the newest series older than the kernel, or the
// oldest), with exact = false; nullptr only if release is unparsable.
const KernelProfile* choose_profile(const char* release, bool* exact);

// The profile in use: chosen at load, before any probe is armed (then
// read-only); 6.1's until then.
const KernelProfile& active_profile();
void set_active_profile(const KernelProfile* profile, bool exact, const char* release);
bool active_profile_exact();
const char* active_release();  // the release it was chosen for (nullptr: none given)

// The profile's symbol names for an anchor (the shared table's unless it overrides them).
const char* const* profile_anchor_names(const KernelProfile& profile, Anchor anchor);
// What a stage contains on this profile's series.
const char* profile_stage_contains(const KernelProfile& profile, Stage stage);
inline bool profile_inlines(const KernelProfile& profile, Anchor anchor) {
  return (profile.inlined_anchors >> static_cast<int>(anchor)) & 1;
}

// How symbol resolution (registered: bit per Anchor) agrees with the
// profile: anchors it expects but the kernel lacks, anchors it expects
// inlined that the kernel has.
struct ProfileCheck {
  ktl::u64 missing = 0;
  ktl::u64 unexpected = 0;
  ktl::u64 inlined = 0;  // expected inlined and absent
};
ProfileCheck check_profile(const KernelProfile& profile, ktl::u64 registered);
// "profile 6.12 (...) for 6.12.117+deb12-amd64: confirmed, 2 anchors inlined as expected (...)"
void append_profile_summary(ktl::StringBuilder& out, const KernelProfile& profile, bool exact,
                            const char* release, ktl::u64 registered);

}  // namespace forkscope

#endif  // FORKSCOPE_CORE_KERNEL_PROFILE_H
