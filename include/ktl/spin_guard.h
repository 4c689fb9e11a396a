// SPDX-License-Identifier: GPL-2.0
// SpinGuard: holds a platform spin lock (raw, interrupts off) for a scope,
// so no path out of the scope can forget to release it.
#ifndef KTL_SPIN_GUARD_H
#define KTL_SPIN_GUARD_H

#include <forkscope/platform.h>

namespace ktl {

class SpinGuard {
 public:
  explicit SpinGuard(forkscope_spinlock* lock)
      : lock_(lock), flags_(forkscope_platform_spin_lock_irqsave(lock)) {}
  SpinGuard(const SpinGuard&) = delete;
  SpinGuard& operator=(const SpinGuard&) = delete;
  ~SpinGuard() { forkscope_platform_spin_unlock_irqrestore(lock_, flags_); }

 private:
  forkscope_spinlock* lock_;
  unsigned long flags_;
};

}  // namespace ktl

#endif  // KTL_SPIN_GUARD_H
