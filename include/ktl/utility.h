// SPDX-License-Identifier: GPL-2.0
// The few <utility>/<type_traits>/<algorithm> pieces the core needs, written
// freestanding because the module build has no C++ standard library.
#ifndef KTL_UTILITY_H
#define KTL_UTILITY_H

#include <ktl/types.h>

namespace ktl {

template <typename T>
struct remove_reference {
  using type = T;
};
template <typename T>
struct remove_reference<T&> {
  using type = T;
};
template <typename T>
struct remove_reference<T&&> {
  using type = T;
};
template <typename T>
using remove_reference_t = typename remove_reference<T>::type;

template <typename T>
constexpr remove_reference_t<T>&& move(T&& value) noexcept {
  return static_cast<remove_reference_t<T>&&>(value);
}

template <typename T>
constexpr T&& forward(remove_reference_t<T>& value) noexcept {
  return static_cast<T&&>(value);
}

template <typename T>
constexpr const T& min(const T& a, const T& b) {
  return b < a ? b : a;
}

template <typename T>
constexpr const T& max(const T& a, const T& b) {
  return a < b ? b : a;
}

template <typename T, size_t N>
constexpr size_t size(const T (&)[N]) noexcept {
  return N;
}

// Bytes are compared and copied with compiler builtins; in the module they
// become the kernel's exported memcpy/memset/memcmp.
inline void copy_bytes(void* dst, const void* src, size_t n) { __builtin_memcpy(dst, src, n); }
inline void fill_bytes(void* dst, int value, size_t n) { __builtin_memset(dst, value, n); }

constexpr size_t string_length(const char* s) {
  size_t n = 0;
  while (s[n] != '\0') ++n;
  return n;
}

constexpr bool strings_equal(const char* a, const char* b) {
  while (*a != '\0' && *a == *b) {
    ++a;
    ++b;
  }
  return *a == *b;
}

}  // namespace ktl

#endif  // KTL_UTILITY_H
