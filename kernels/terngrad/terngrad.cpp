// TernGrad planning, compiled once without ISA flags: the chunk partition and range checks.
#include "terngrad.hpp"

#include <stdexcept>
#include <string>

namespace sb {

int64_t tern_chunks(int64_t n) { return (n + kTernChunk - 1) / kTernChunk; }

void check_decode_range(int64_t row_bytes, int64_t offset, int64_t n) {
    if (n < 0) throw std::invalid_argument("n must be >= 0, got " + std::to_string(n));
    if (offset < 0) throw std::invalid_argument("offset must be >= 0, got " + std::to_string(offset));
    if (offset + packed_bytes(n) > row_bytes)
        throw std::invalid_argument("packed: " + std::to_string(n) + " values need " + std::to_string(packed_bytes(n)) +
                                    " bytes from offset " + std::to_string(offset) + ", but a row holds " +
                                    std::to_string(row_bytes));
}

}  // namespace sb
