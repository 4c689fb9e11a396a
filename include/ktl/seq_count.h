// SPDX-License-Identifier: GPL-2.0
// SeqCount: a sequence counter for data with one writer at a time and
// lock-free readers that retry (the kernel's seqcount_t, in C++).
#ifndef KTL_SEQ_COUNT_H
#define KTL_SEQ_COUNT_H

#include <ktl/atomic.h>
#include <ktl/types.h>

namespace ktl {

class SeqCount {
 public:
  // Writer side; writers are serialized by their caller.
  void begin_write() {
    value_.store(value_.load(MemoryOrder::kRelaxed) + 1, MemoryOrder::kRelaxed);
    __atomic_thread_fence(__ATOMIC_RELEASE);
  }
  void end_write() { value_.store(value_.load(MemoryOrder::kRelaxed) + 1, MemoryOrder::kRelease); }

  // Reader side: a snapshot is valid when read_begin() gave an even value
  // and read_retry() with that value says false.
  u32 read_begin() const { return value_.load(MemoryOrder::kAcquire); }
  static bool writing(u32 seq) { return (seq & 1) != 0; }
  bool read_retry(u32 seq) const {
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    return value_.load(MemoryOrder::kRelaxed) != seq;
  }

 private:
  Atomic<u32> value_;
};

}  // namespace ktl

#endif  // KTL_SEQ_COUNT_H
