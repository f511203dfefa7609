#include "phases.hpp"

#include <mutex>

namespace sb::phases {

std::atomic<bool> enabled{false};

namespace {
std::mutex mu;
std::map<std::string, double>& totals() {
    static std::map<std::string, double> t;
    return t;
}
}  // namespace

void add(const char* name, double seconds) {
    std::lock_guard<std::mutex> lock(mu);
    totals()[name] += seconds;
}

std::map<std::string, double> take() {
    std::lock_guard<std::mutex> lock(mu);
    std::map<std::string, double> out;
    out.swap(totals());
    return out;
}

}  // namespace sb::phases
