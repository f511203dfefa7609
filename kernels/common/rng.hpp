// Counter-based RNG: a stateless hash of (seed, element index), so every ISA and any thread
// split draw the same number for the same element. Mirrored bit for bit by
// src/sparsebench/rng.py (vectorized numpy); change both together.
//   key  = splitmix64(seed ^ (hi32(i) * 0xD1B54A32D192ED03))    per 2^32-element chunk
//   x    = (lo32(i) ^ lo32(key)) * 0x9E3779B1
//   x    = fmix32(x ^ hi32(key))                                 (murmur3 finalizer)
//   u    = (x >> 8) * 2^-24                                      uniform in [0, 1), exact float
#pragma once

#include <cstdint>

#include "simd.hpp"

namespace sb::SB_ISA_NS::rng {

inline uint64_t splitmix64(uint64_t z) {
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

struct ChunkKey {
    uint32_t k0, k1;
};

inline ChunkKey chunk_key(uint64_t seed, uint64_t index) {
    uint64_t k = splitmix64(seed ^ ((index >> 32) * 0xD1B54A32D192ED03ull));
    return {uint32_t(k), uint32_t(k >> 32)};
}

inline uint32_t fmix32(uint32_t x) {
    x ^= x >> 16;
    x *= 0x85EBCA6Bu;
    x ^= x >> 13;
    x *= 0xC2B2AE35u;
    x ^= x >> 16;
    return x;
}

inline uint32_t hash32(ChunkKey key, uint32_t lo) { return fmix32(((lo ^ key.k0) * 0x9E3779B1u) ^ key.k1); }

inline float uniform(uint64_t seed, uint64_t index) {
    return float(hash32(chunk_key(seed, index), uint32_t(index)) >> 8) * 0x1.0p-24f;
}

// W uniforms for indices lo, lo+1, ..., lo+W-1 (all in the same 2^32 chunk).
inline simd::F uniform_vec(ChunkKey key, uint32_t lo) {
    using namespace simd;
    U x = uxor(umul(uxor(iota(lo), uset1(key.k0)), uset1(0x9E3779B1u)), uset1(key.k1));
    x = uxor(x, usrl<16>(x));
    x = umul(x, uset1(0x85EBCA6Bu));
    x = uxor(x, usrl<13>(x));
    x = umul(x, uset1(0xC2B2AE35u));
    x = uxor(x, usrl<16>(x));
    return unit_float(x);
}

}  // namespace sb::SB_ISA_NS::rng
