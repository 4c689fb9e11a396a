// SPDX-License-Identifier: GPL-2.0
// RecordSlot and RecordRing: a per-CPU ring of finished records with one
// writer (its CPU, preemption off) and lock-free readers that detect a
// record overwritten while they copied it (per-slot sequence count).
#ifndef FORKSCOPE_CORE_RECORD_RING_H
#define FORKSCOPE_CORE_RECORD_RING_H

#include <ktl/atomic.h>
#include <ktl/seq_count.h>
#include <ktl/types.h>
#include <ktl/unique_ptr.h>

#include "record.h"

namespace forkscope {

class RecordSlot {
 public:
  // Writer side (owner CPU only).
  void write(const Record& record, ktl::u64 index);
  // Reader side: copies the record stored as `index`; false if the slot
  // holds another record or was rewritten during the copy.
  bool read(ktl::u64 index, Record* out) const;
  // Reader side: the stored index, or kU64Max while being written.
  ktl::u64 stored_index() const;
  void clear();

 private:
  ktl::SeqCount seq_;  // odd while being written
  ktl::u64 index_ = ktl::kU64Max;
  Record record_;
};

class RecordRing {
 public:
  RecordRing() = default;
  RecordRing(const RecordRing&) = delete;
  RecordRing& operator=(const RecordRing&) = delete;

  [[nodiscard]] int init(ktl::u32 capacity);  // may sleep; 0 or -FORKSCOPE_ENOMEM
  ktl::u32 capacity() const { return capacity_; }

  void push(const Record& record);  // owner CPU
  ktl::u64 written() const { return head_.load(ktl::MemoryOrder::kAcquire); }
  // Oldest index still held: max(base, written - capacity).
  ktl::u64 oldest() const;
  bool read(ktl::u64 index, Record* out) const {
    return slots_[index % capacity_].read(index, out);
  }
  // Owner CPU: forget every record so far (O(1): indices keep growing, so
  // a reader's cursor never aliases an old record).
  void reset() { base_.store(head_.load(ktl::MemoryOrder::kRelaxed), ktl::MemoryOrder::kRelease); }

 private:
  ktl::Array<RecordSlot> slots_;
  ktl::u32 capacity_ = 0;
  ktl::Atomic<ktl::u64> head_;
  ktl::Atomic<ktl::u64> base_;
};

}  // namespace forkscope

#endif  // FORKSCOPE_CORE_RECORD_RING_H
