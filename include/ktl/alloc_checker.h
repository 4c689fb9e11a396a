// SPDX-License-Identifier: GPL-2.0
// AllocChecker (after Fuchsia's fbl): `new (ac) T(...)` never throws; the
// caller must ask ac.check() before using the result, or cxxrt warns.
#ifndef KTL_ALLOC_CHECKER_H
#define KTL_ALLOC_CHECKER_H

#include <ktl/new.h>
#include <ktl/types.h>

namespace ktl {

class AllocChecker {
 public:
  AllocChecker() = default;
  AllocChecker(const AllocChecker&) = delete;
  AllocChecker& operator=(const AllocChecker&) = delete;
  ~AllocChecker();

  // Called by operator new with the result; arms the checker.
  void arm(size_t size, bool succeeded);
  // True if the allocation succeeded; disarms the checker.
  [[nodiscard]] bool check();

 private:
  enum class State : u8 { kUnused, kArmedSucceeded, kArmedFailed, kChecked };
  State state_ = State::kUnused;
};

}  // namespace ktl

void* operator new(__SIZE_TYPE__ size, ktl::AllocChecker& ac) noexcept;
void* operator new[](__SIZE_TYPE__ size, ktl::AllocChecker& ac) noexcept;
void* operator new(__SIZE_TYPE__ size, std::align_val_t align, ktl::AllocChecker& ac) noexcept;
void* operator new[](__SIZE_TYPE__ size, std::align_val_t align, ktl::AllocChecker& ac) noexcept;

#endif  // KTL_ALLOC_CHECKER_H
