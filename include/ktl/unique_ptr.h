// SPDX-License-Identifier: GPL-2.0
// Small owning types (after Fuchsia's ktl and fbl): UniquePtr<T> deletes its
// object, Array<T> owns a counted array; both allocate only through
// AllocChecker, so a failed allocation is always seen.
#ifndef KTL_UNIQUE_PTR_H
#define KTL_UNIQUE_PTR_H

#include <forkscope/platform.h>
#include <ktl/alloc_checker.h>
#include <ktl/types.h>
#include <ktl/utility.h>

namespace ktl {

template <typename T>
class UniquePtr {
 public:
  constexpr UniquePtr() = default;
  explicit UniquePtr(T* object) : object_(object) {}
  UniquePtr(const UniquePtr&) = delete;
  UniquePtr& operator=(const UniquePtr&) = delete;
  UniquePtr(UniquePtr&& other) : object_(other.release()) {}
  UniquePtr& operator=(UniquePtr&& other) {
    reset(other.release());
    return *this;
  }
  ~UniquePtr() { reset(); }

  // Allocates a T; -FORKSCOPE_ENOMEM on failure (the pointer stays empty).
  template <typename... Args>
  [[nodiscard]] int make(Args&&... args) {
    AllocChecker ac;
    T* object = new (ac) T(forward<Args>(args)...);
    if (!ac.check()) return -FORKSCOPE_ENOMEM;
    reset(object);
    return 0;
  }

  T* get() const { return object_; }
  T* operator->() const { return object_; }
  T& operator*() const { return *object_; }
  explicit operator bool() const { return object_ != nullptr; }
  T* release() {
    T* object = object_;
    object_ = nullptr;
    return object;
  }
  void reset(T* object = nullptr) {
    T* old = object_;
    object_ = object;
    delete old;
  }

 private:
  T* object_ = nullptr;
};

template <typename T>
class Array {
 public:
  constexpr Array() = default;
  Array(const Array&) = delete;
  Array& operator=(const Array&) = delete;
  ~Array() { delete[] data_; }

  // Allocates n value-initialized elements, replacing any held before;
  // -FORKSCOPE_ENOMEM on failure (the array is then empty).
  [[nodiscard]] int init(size_t n) {
    delete[] data_;
    data_ = nullptr;
    size_ = 0;
    AllocChecker ac;
    T* data = new (ac) T[n]();
    if (!ac.check()) return -FORKSCOPE_ENOMEM;
    data_ = data;
    size_ = n;
    return 0;
  }

  T* data() { return data_; }
  const T* data() const { return data_; }
  size_t size() const { return size_; }
  T& operator[](size_t i) { return data_[i]; }
  const T& operator[](size_t i) const { return data_[i]; }
  T* begin() { return data_; }
  T* end() { return data_ + size_; }
  const T* begin() const { return data_; }
  const T* end() const { return data_ + size_; }

 private:
  T* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace ktl

#endif  // KTL_UNIQUE_PTR_H
