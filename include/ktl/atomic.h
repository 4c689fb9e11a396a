// SPDX-License-Identifier: GPL-2.0
// Atomic<T> over the GCC __atomic builtins: lock-free for 1..8-byte integers
// and pointers, so it is safe in probe handlers and needs no libatomic.
#ifndef KTL_ATOMIC_H
#define KTL_ATOMIC_H

#include <ktl/types.h>

namespace ktl {

enum class MemoryOrder : int {
  kRelaxed = __ATOMIC_RELAXED,
  kAcquire = __ATOMIC_ACQUIRE,
  kRelease = __ATOMIC_RELEASE,
  kAcqRel = __ATOMIC_ACQ_REL,
  kSeqCst = __ATOMIC_SEQ_CST,
};

template <typename T>
class Atomic {
  static_assert(sizeof(T) <= 8, "only lock-free sizes");

 public:
  constexpr Atomic() : value_{} {}
  constexpr explicit Atomic(T value) : value_(value) {}
  Atomic(const Atomic&) = delete;
  Atomic& operator=(const Atomic&) = delete;

  T load(MemoryOrder order = MemoryOrder::kSeqCst) const {
    return __atomic_load_n(&value_, static_cast<int>(order));
  }
  void store(T value, MemoryOrder order = MemoryOrder::kSeqCst) {
    __atomic_store_n(&value_, value, static_cast<int>(order));
  }
  T exchange(T value, MemoryOrder order = MemoryOrder::kSeqCst) {
    return __atomic_exchange_n(&value_, value, static_cast<int>(order));
  }
  bool compare_exchange(T& expected, T desired, MemoryOrder order = MemoryOrder::kSeqCst) {
    return __atomic_compare_exchange_n(&value_, &expected, desired, false, static_cast<int>(order),
                                       __ATOMIC_RELAXED);
  }
  T fetch_add(T delta, MemoryOrder order = MemoryOrder::kSeqCst) {
    return __atomic_fetch_add(&value_, delta, static_cast<int>(order));
  }
  T fetch_sub(T delta, MemoryOrder order = MemoryOrder::kSeqCst) {
    return __atomic_fetch_sub(&value_, delta, static_cast<int>(order));
  }

 private:
  T value_;
};

// READ_ONCE/WRITE_ONCE: a plain-sized access the compiler may not tear,
// merge or reorder with other once-accesses; no ordering with the CPU.
template <typename T>
inline T read_once(const T& field) {
  return __atomic_load_n(&field, __ATOMIC_RELAXED);
}
template <typename T>
inline void write_once(T& field, T value) {
  __atomic_store_n(&field, value, __ATOMIC_RELAXED);
}

// A counter written by one CPU at a time (its owner, preemption off) and read
// by anyone: relaxed load/store, no locked instruction on the hot path.
class OwnedCounter {
 public:
  void add(u64 delta) {
    value_.store(value_.load(MemoryOrder::kRelaxed) + delta, MemoryOrder::kRelaxed);
  }
  u64 read() const { return value_.load(MemoryOrder::kRelaxed); }
  void reset() { value_.store(0, MemoryOrder::kRelaxed); }

 private:
  Atomic<u64> value_;
};

}  // namespace ktl

#endif  // KTL_ATOMIC_H
