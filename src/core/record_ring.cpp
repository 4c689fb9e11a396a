// SPDX-License-Identifier: GPL-2.0
// Per-CPU record ring: sequence-counted slots, one writer, many readers.
#include "record_ring.h"

#include <ktl/alloc_checker.h>
#include <ktl/utility.h>

#include "probe_context.h"

namespace forkscope {

FORKSCOPE_PROBE_CONTEXT void RecordSlot::write(const Record& record, ktl::u64 index) {
  ktl::u32 generation = generation_.load(ktl::MemoryOrder::kRelaxed);
  generation_.store(generation + 1, ktl::MemoryOrder::kRelaxed);
  __atomic_thread_fence(__ATOMIC_RELEASE);
  record_ = record;
  index_ = index;
  generation_.store(generation + 2, ktl::MemoryOrder::kRelease);
}

bool RecordSlot::read(ktl::u64 index, Record* out) const {
  ktl::u32 before = generation_.load(ktl::MemoryOrder::kAcquire);
  if ((before & 1) != 0) return false;
  if (__atomic_load_n(&index_, __ATOMIC_RELAXED) != index) return false;
  ktl::copy_bytes(out, &record_, sizeof(Record));
  __atomic_thread_fence(__ATOMIC_ACQUIRE);
  ktl::u32 after = generation_.load(ktl::MemoryOrder::kRelaxed);
  return before == after;
}

ktl::u64 RecordSlot::stored_index() const {
  ktl::u32 before = generation_.load(ktl::MemoryOrder::kAcquire);
  if ((before & 1) != 0) return ktl::kU64Max;
  return __atomic_load_n(&index_, __ATOMIC_RELAXED);
}

FORKSCOPE_PROBE_CONTEXT void RecordSlot::clear() {
  ktl::u32 generation = generation_.load(ktl::MemoryOrder::kRelaxed);
  generation_.store(generation + 1, ktl::MemoryOrder::kRelaxed);
  __atomic_thread_fence(__ATOMIC_RELEASE);
  index_ = ktl::kU64Max;
  generation_.store(generation + 2, ktl::MemoryOrder::kRelease);
}

int RecordRing::init(ktl::u32 capacity) {
  ktl::AllocChecker ac;
  slots_ = new (ac) RecordSlot[capacity];
  if (!ac.check()) return -FORKSCOPE_ENOMEM;
  capacity_ = capacity;
  return 0;
}

FORKSCOPE_PROBE_CONTEXT void RecordRing::push(const Record& record) {
  ktl::u64 index = head_.load(ktl::MemoryOrder::kRelaxed);
  slots_[index % capacity_].write(record, index);
  head_.store(index + 1, ktl::MemoryOrder::kRelease);
}

ktl::u64 RecordRing::oldest() const {
  ktl::u64 written = head_.load(ktl::MemoryOrder::kAcquire);
  ktl::u64 base = base_.load(ktl::MemoryOrder::kAcquire);
  ktl::u64 held = written > capacity_ ? written - capacity_ : 0;
  return held > base ? held : base;
}

}  // namespace forkscope
