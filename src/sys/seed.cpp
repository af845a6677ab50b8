#include "sys/seed.hpp"

#include <bit>

namespace patchbay::sys {

std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  std::uint64_t z = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

std::uint64_t seed2(std::uint64_t a, std::uint64_t b) {
  return splitmix64(std::rotl(a, 7) ^ std::rotr(b, 3) ^ 0xC2B2AE3D27D4EB4FULL);
}

std::uint64_t seed3(std::uint64_t a, std::uint64_t b, std::uint64_t c) {
  return splitmix64(seed2(a, b) ^ std::rotl(c, 17));
}

}  // namespace patchbay::sys
