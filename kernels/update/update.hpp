// The update stage, shared by every weight-sparsity scheme: each stores its kept weights as one
// contiguous values array, so the optimizer step is the same elementwise kernel for all of them.
#pragma once

#include <cstdint>

#include "../common/isa.hpp"

namespace sb {

struct UpdateKernels {
    // torch.optim.SGD (dampening 0, no Nesterov) on n stored values, in place:
    //   d = g + wd * w;  buf = momentum * buf + d;  w = w - lr * buf
    void (*sgd_momentum)(float* w, const float* g, float* buf, int64_t n, float lr, float momentum, float wd,
                         int threads);
};

SB_DECLARE_ISA_TABLE(UpdateKernels, update)

}  // namespace sb
