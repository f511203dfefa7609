// Opt-in phase times of the stage runs, for attributing a kernel's time (tools/rates/bounds.py):
// "layout:<pass>" (packing, padding, transposes, zero fills), "plan" (offsets, row groups, tile
// lists); whatever the caller measures around them is the core. Off by default: a Scope then costs
// one relaxed load. Scopes belong in the calling thread, around (never inside) OpenMP regions.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <string>

namespace sb::phases {

extern std::atomic<bool> enabled;

void add(const char* name, double seconds);
// The accumulated seconds per phase since the last take, then cleared.
std::map<std::string, double> take();

class Scope {
public:
    explicit Scope(const char* name) : name_(name), on_(enabled.load(std::memory_order_relaxed)) {
        if (on_) t0_ = std::chrono::steady_clock::now();
    }
    ~Scope() {
        if (on_) add(name_, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count());
    }
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

private:
    const char* name_;
    bool on_;
    std::chrono::steady_clock::time_point t0_;
};

}  // namespace sb::phases
