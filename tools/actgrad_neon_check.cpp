// Build + run (aarch64 cross, qemu), from the repo root:
//   K=kernels; F="-std=c++17 -O2 -fopenmp -ffp-contract=off -I$K"
//   aarch64-linux-gnu-g++ $F -DSB_ISA_SCALAR -DSB_ISA_NS=scalar -fno-tree-vectorize -c $K/actgrad/actgrad_bwd_impl.cpp -o s.o
//   aarch64-linux-gnu-g++ $F -DSB_ISA_NEON -DSB_ISA_NS=neon -c $K/actgrad/actgrad_bwd_impl.cpp -o n.o
//   aarch64-linux-gnu-g++ $F -c tools/actgrad_neon_check.cpp -o m.o && aarch64-linux-gnu-g++ -fopenmp m.o s.o n.o -o t
//   QEMU_CPU=neoverse-n1 qemu-aarch64-static -L /usr/aarch64-linux-gnu ./t
// NEON vs scalar: prune_compress bit-identical, conv/linear backward within tolerance.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>
#include "actgrad/actgrad_bwd.hpp"
namespace sb { namespace scalar { extern const ActGradBwdKernels actgrad_bwd; } namespace neon { extern const ActGradBwdKernels actgrad_bwd; } }
using namespace sb;
static uint64_t st = 88172645463325252ull;
static float rnd() { st ^= st << 13; st ^= st >> 7; st ^= st << 17; double u1 = ((st >> 11) + 1) * 0x1.0p-53; st ^= st << 13; st ^= st >> 7; st ^= st << 17; double u2 = (st >> 11) * 0x1.0p-53; return float(std::sqrt(-2 * std::log(u1)) * std::cos(6.283185307179586 * u2)); }
int main() {
    int fails = 0;
    const int64_t shapes[][8] = {{2, 5, 7, 6, 9, 3, 1, 1}, {2, 5, 7, 6, 9, 3, 2, 1}, {3, 17, 5, 5, 6, 1, 1, 0}, {2, 40, 6, 6, 70, 3, 1, 1}};
    for (auto& sh : shapes) {
        ConvShape s{sh[0], sh[1], sh[2], sh[3], sh[4], sh[5], sh[5], sh[6], sh[6], sh[7], sh[7], 0, 0};
        s.ho = (s.h + 2 * s.ph - s.kh) / s.sh + 1; s.wo = (s.w + 2 * s.pw - s.kw) / s.sw + 1;
        int64_t R = s.n * s.cout, C = s.ho * s.wo, wpr = (C + 63) / 64;
        std::vector<float> g(R * C), x(s.n * s.cin * s.h * s.w), w(s.cout * s.cin * s.kh * s.kw);
        for (auto& v : g) v = rnd(); for (auto& v : x) v = rnd(); for (auto& v : w) v = rnd();
        for (int threads : {1, 3}) {
            std::vector<uint64_t> b0(R * wpr), b1(R * wpr);
            std::vector<float> v0(R * C + 64 * 5), v1(R * C + 64 * 5);
            std::vector<int64_t> r0(R + 1), r1(R + 1);
            int64_t n0 = scalar::actgrad_bwd.prune_compress(g.data(), R, C, 1.2f, 42, b0.data(), v0.data(), r0.data(), 1);
            int64_t n1 = neon::actgrad_bwd.prune_compress(g.data(), R, C, 1.2f, 42, b1.data(), v1.data(), r1.data(), threads);
            bool same = n0 == n1 && b0 == b1 && r0 == r1 && std::memcmp(v0.data(), v1.data(), n0 * 4) == 0;
            if (!same) { std::printf("prune_compress mismatch\n"); ++fails; }
            RowBitmap d{b0.data(), v0.data(), r0.data(), R, C, wpr};
            std::vector<float> dx0(x.size()), dx1(x.size()), dw0(w.size()), dw1(w.size());
            scalar::actgrad_bwd.conv_dx(w.data(), d, s, dx0.data(), 1); neon::actgrad_bwd.conv_dx(w.data(), d, s, dx1.data(), threads);
            scalar::actgrad_bwd.conv_dw(x.data(), d, s, dw0.data(), 1); neon::actgrad_bwd.conv_dw(x.data(), d, s, dw1.data(), threads);
            double ex = 0, ew = 0;
            for (size_t i = 0; i < dx0.size(); ++i) ex = std::fmax(ex, std::fabs(dx0[i] - dx1[i]));
            for (size_t i = 0; i < dw0.size(); ++i) ew = std::fmax(ew, std::fabs(dw0[i] - dw1[i]));
            std::printf("shape cin=%ld cout=%ld k=%ld s=%ld t=%d nnz=%ld prune %s  max|dx diff| %.2e  max|dw diff| %.2e\n", (long)s.cin, (long)s.cout, (long)s.kh, (long)s.sh, threads, (long)n0, same ? "identical" : "DIFF", ex, ew);
            if (ex > 1e-3 || ew > 1e-3) ++fails;
        }
    }
    std::printf("%s\n", fails ? "FAIL" : "PASS");
    return fails != 0;
}
