// The one scratch policy of every kernel family: per-thread, grow-only, heap.
//
// Each thread owns kNumSlots buffers (thread_local), reused across calls: a fresh multi-MB
// buffer costs a page fault per 4 KiB page (milliseconds per call), a reused one nothing.
//   - get<T>(slot, n) returns at least n Ts, 64-byte aligned, contents undefined (whatever an
//     earlier call left): kernels write everything they later read.
//   - a slot only grows (with 25% headroom, so slowly growing requests do not reallocate each
//     call); growing discards the old contents.
//   - a Scope opened at the top of a kernel call frees, when the outermost Scope of the thread
//     closes, every slot above kKeepBytes, so one huge layer does not pin its memory.
//   - slots are per thread, so two Python threads (the GIL is released around kernels) never
//     share one; inside an OpenMP region each worker gets its own, so use kThreadTile there
//     (the calling thread is worker 0 and holds the other slots of the call).
// Never a large stack array. Implemented once (workspace.cpp, baseline flags), not per ISA.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace sb::ws {

enum Slot : int {
    kInput = 0,    // re-laid input (prepared / packed planes)
    kOutput = 1,   // extended output or packed output gradient
    kAux = 2,      // a second re-laid operand
    kIndex = 3,    // per-nonzero offsets
    kValues = 4,   // per-nonzero values (gathered / transposed)
    kPointers = 5, // chunk pointers
    kThreadTile = 6,  // per OpenMP worker, inside parallel regions
    kNumSlots = 7
};

constexpr size_t kKeepBytes = size_t(256) << 20;

// At least `bytes` bytes of slot `slot` of the calling thread (see above). Throws std::bad_alloc.
void* acquire(int slot, size_t bytes);

// static: every translation unit keeps its own copy, so no per-ISA instance is shared.
template <class T>
static inline T* get(int slot, int64_t n) {
    return static_cast<T*>(acquire(slot, sizeof(T) * size_t(std::max<int64_t>(n, 1))));
}

class Scope {
  public:
    Scope();
    ~Scope();
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;
};

}  // namespace sb::ws
