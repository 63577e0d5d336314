// Overflow-checked unsigned arithmetic for validating sizes and offsets read from files.
//
// Every size computed from untrusted input goes through these helpers:
//   uint64_t end;
//   if (!CheckedAdd(offset, size, &end) || end > file_size) return Error(...);
#ifndef JETSERVE_ENGINE_UTIL_CHECKED_MATH_H_
#define JETSERVE_ENGINE_UTIL_CHECKED_MATH_H_

#include <cstdint>

namespace jetserve {

// Sets *out = a + b; returns false (leaving *out unspecified) on overflow.
inline bool CheckedAdd(uint64_t a, uint64_t b, uint64_t* out) {
  return !__builtin_add_overflow(a, b, out);
}

// Sets *out = a * b; returns false on overflow.
inline bool CheckedMul(uint64_t a, uint64_t b, uint64_t* out) {
  return !__builtin_mul_overflow(a, b, out);
}

// Sets *out = a * b for signed 64-bit values; returns false on overflow.
inline bool CheckedMulSigned(int64_t a, int64_t b, int64_t* out) {
  return !__builtin_mul_overflow(a, b, out);
}

// Rounds value up to a multiple of alignment (a power of two); false on overflow.
inline bool CheckedAlignUp(uint64_t value, uint64_t alignment, uint64_t* out) {
  uint64_t bumped;
  if (!CheckedAdd(value, alignment - 1, &bumped)) return false;
  *out = bumped & ~(alignment - 1);
  return true;
}

inline bool IsPowerOfTwo(uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }

}  // namespace jetserve

#endif  // JETSERVE_ENGINE_UTIL_CHECKED_MATH_H_
