// The two floats at row[off], row[off + 1] repeated across a zmm (lanes 2i and 2i + 1), for the
// AVX-512 kernels that hold 8 channels at two neighbouring pixels per vector (conv2d_fwd_c1.cpp,
// the Pairs path of conv2d_c1.cpp). AVX-512 builds only.
//
// Why asm: written plainly (a memcpy into a double and a set1), GCC carries the pairs across
// taps in general registers and broadcasts from there, on the shuffle port the FMAs need, and a
// memory operand of a may-alias type makes it store every accumulator before each broadcast.
// The row goes in as a register and off as the displacement, so no address is computed per
// broadcast; off must then be a constant, which it is once GCC's optimiser has unrolled the
// caller's loop. Clang and unoptimised builds take the address as a register instead.
#pragma once
#include <cstdint>

#if defined(__AVX512F__)
namespace batchscope::kernels::cpu {

typedef float Pair16 __attribute__((vector_size(64)));

__attribute__((always_inline)) inline Pair16 broadcast_pair(const float* row, int64_t off) {
  Pair16 v;
#if defined(__OPTIMIZE__) && !defined(__clang__)
  asm("vbroadcastsd %c2(%1), %0" : "=v"(v) : "r"(row), "i"(off * sizeof(float)));
#else
  asm("vbroadcastsd (%1), %0" : "=v"(v) : "r"(row + off));
#endif
  return v;
}

}  // namespace batchscope::kernels::cpu
#endif
