// Random numbers that are identical on every platform and compiler: splitmix64 for
// seeding and counter-based draws, xoshiro256** for streams. (std::uniform_*_distribution
// differs between standard libraries, so it is never used.)
// Streams are derived from (run seed, purpose, index): the shuffle of epoch e and the dropout
// masks of step s depend on nothing else, which makes resuming a run exact by construction.
#pragma once
#include <cstdint>

namespace batchscope {

// splitmix64 finaliser: a good 64-bit mix, used to derive seeds and counter-based values.
inline uint64_t mix64(uint64_t z) {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// A seed for one purpose: derive_seed(run_seed, kShuffleStream, epoch).
inline uint64_t derive_seed(uint64_t seed, uint64_t stream, uint64_t index) {
  return mix64(mix64(seed ^ mix64(stream)) + index);
}

inline constexpr uint64_t kInitStream = 1, kShuffleStream = 2, kDropoutStream = 3;

// Uniform float in [0,1) from 64 random bits (top 24 bits: every value exactly representable).
inline float bits_to_unit_float(uint64_t bits) {
  return static_cast<float>(bits >> 40) * (1.0f / 16777216.0f);
}

// xoshiro256** (Blackman & Vigna, 2018), seeded through splitmix64.
class Rng {
 public:
  explicit Rng(uint64_t seed) {
    for (auto& s : s_) {
      seed += 0x9e3779b97f4a7c15ULL;
      s = mix64(seed);
    }
  }
  uint64_t next_u64() {
    const uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }
  float uniform(float lo, float hi) { return lo + (hi - lo) * bits_to_unit_float(next_u64()); }
  // Uniform integer in [0, n) by Lemire's multiply-shift (bias < 2^-32 for n < 2^32).
  uint64_t below(uint64_t n) {
    return static_cast<uint64_t>((static_cast<unsigned __int128>(next_u64()) * n) >> 64);
  }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

}  // namespace batchscope
