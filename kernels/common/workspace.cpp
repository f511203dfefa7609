// The per-thread, grow-only heap workspace (see workspace.hpp). Compiled once, baseline flags.
#include "workspace.hpp"

#include <cstdlib>
#include <new>

namespace sb::ws {
namespace {

struct Buffer {
    void* p = nullptr;
    size_t cap = 0;
    Buffer() = default;
    Buffer(const Buffer&) = delete;
    Buffer& operator=(const Buffer&) = delete;
    ~Buffer() { std::free(p); }
    void release() {
        std::free(p);
        p = nullptr;
        cap = 0;
    }
};

struct ThreadSlots {
    Buffer slot[kNumSlots];
    int depth = 0;
};

ThreadSlots& slots() {
    thread_local ThreadSlots s;
    return s;
}

}  // namespace

void* acquire(int slot, size_t bytes) {
    Buffer& b = slots().slot[slot];
    if (bytes > b.cap) {
        b.release();
        const size_t want = (bytes + bytes / 4 + 4095) / 4096 * 4096;
        b.p = std::aligned_alloc(64, want);
        if (!b.p) throw std::bad_alloc();
        b.cap = want;
    }
    return b.p;
}

Scope::Scope() { ++slots().depth; }

Scope::~Scope() {
    ThreadSlots& s = slots();
    if (--s.depth == 0)
        for (Buffer& b : s.slot)
            if (b.cap > kKeepBytes) b.release();
}

}  // namespace sb::ws
