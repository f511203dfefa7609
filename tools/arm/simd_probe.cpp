// Lane-wise semantics of kernels/common/simd.hpp, ISA variant vs scalar, bit for bit, on
// adversarial values (NaN, +-0, +-inf, subnormals, ties). Covers the simd ops no registered
// kernel uses yet (fmadd, max, hmax, ...), which the replayed test vectors cannot reach.
// Built twice into one program by tools/arm/run_tier.sh, with the flags of the ISA list:
//   -DSB_ISA_<VARIANT>   -DSB_ISA_NS=<variant>                                (the variant under test)
//   -DSB_ISA_<REFERENCE> -DSB_ISA_NS=<reference> -DSB_PROBE_MAIN=1 -DSB_PROBE_ISA=<variant>
//                                                  (the list's reference variant; also holds main)
// Add a line to probe() when a new simd op lands.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "../../kernels/common/simd.hpp"

struct ProbeOut {
    std::vector<std::string> names;
    std::vector<std::vector<uint32_t>> bits;  // per op, the output bits
};

namespace sb::SB_ISA_NS {
using namespace simd;

static uint32_t fbits(float x) { uint32_t u; std::memcpy(&u, &x, 4); return u; }

void probe(const std::vector<float>& a, const std::vector<float>& b, const std::vector<float>& c, ProbeOut& out) {
    const int n = int(a.size());  // a multiple of 16
    auto run = [&](const char* name, auto body) {
        std::vector<uint32_t> r;
        for (int i = 0; i < n; i += W) body(i, r);
        out.names.push_back(name);
        out.bits.push_back(r);
    };
    auto lanes = [](F v, std::vector<uint32_t>& r) {
        float buf[W];
        store(buf, v);
        // NaN payload and sign are unspecified (compilers may swap commutative operands): any
        // NaN is the same NaN here, as under the registry's exact rule (equal_nan).
        for (int l = 0; l < W; ++l) r.push_back(std::isnan(buf[l]) ? 0x7fc00000u : fbits(buf[l]));
    };
    auto mlanes = [](M m, std::vector<uint32_t>& r) {
        unsigned bits = mbits(m);
        for (int l = 0; l < W; ++l) r.push_back((bits >> l) & 1u);
    };
    const float* pa = a.data(); const float* pb = b.data(); const float* pc = c.data();
    run("load/store", [&](int i, auto& r) { lanes(load(pa + i), r); });
    run("set1", [&](int i, auto& r) { lanes(set1(pa[i & ~15]), r); });  // one value per 16 lanes
    run("zero", [&](int, auto& r) { lanes(zero(), r); });
    run("add", [&](int i, auto& r) { lanes(add(load(pa + i), load(pb + i)), r); });
    run("sub", [&](int i, auto& r) { lanes(sub(load(pa + i), load(pb + i)), r); });
    run("mul", [&](int i, auto& r) { lanes(mul(load(pa + i), load(pb + i)), r); });
    run("fmadd", [&](int i, auto& r) { lanes(fmadd(load(pa + i), load(pb + i), load(pc + i)), r); });
    run("abs", [&](int i, auto& r) { lanes(abs(load(pa + i)), r); });
    run("max", [&](int i, auto& r) { lanes(max(load(pa + i), load(pb + i)), r); });
    run("cmp_ge", [&](int i, auto& r) { mlanes(cmp_ge(load(pa + i), load(pb + i)), r); });
    run("cmp_gt", [&](int i, auto& r) { mlanes(cmp_gt(load(pa + i), load(pb + i)), r); });
    run("cmp_ne", [&](int i, auto& r) { mlanes(cmp_ne(load(pa + i), load(pb + i)), r); });
    run("mor", [&](int i, auto& r) { mlanes(mor(cmp_gt(load(pa + i), load(pb + i)), cmp_gt(load(pc + i), zero())), r); });
    run("mand", [&](int i, auto& r) { mlanes(mand(cmp_gt(load(pa + i), load(pb + i)), cmp_gt(load(pc + i), zero())), r); });
    run("select", [&](int i, auto& r) { lanes(select(cmp_gt(load(pa + i), load(pb + i)), load(pa + i), load(pc + i)), r); });
    run("copysign", [&](int i, auto& r) { lanes(copysign(load(pa + i), load(pb + i)), r); });
    run("iota/uadd/uxor/umul/usrl/unit_float", [&](int i, auto& r) {
        U x = umul(uxor(iota(uint32_t(i)), uset1(fbits(pa[i & ~15]))), uset1(0x9E3779B1u));
        x = uadd(x, usrl<13>(x));
        lanes(unit_float(x), r);
    });
    {   // Tails as kernels write them: full vectors while they fit, then one partial vector.
        std::vector<uint32_t> r;
        for (int i = 0; i < n; i += 16) {
            const int len = (i / 16) % 17;  // 0 .. 16 valid elements in this group
            float buf[16] = {};
            int j = 0;
            for (; j + W <= len; j += W) store(buf + j, add(load(pa + i + j), set1(1.0f)));
            if (j < len) store_partial(buf + j, add(load_partial(pa + i + j, len - j), set1(1.0f)), len - j);
            for (float v : buf) r.push_back(fbits(v));
        }
        out.names.push_back("load_partial/store_partial");
        out.bits.push_back(r);
    }
    // Horizontal ops: reduce over 16 elements (a multiple of every W), per 16-element group.
    // hmax is order-independent except for NaN and +-0: compare on NaN-free groups only.
    {
        std::vector<uint32_t> r;
        for (int i = 0; i < n; i += 16) {
            bool nan = false;
            for (int j = 0; j < 16; ++j) nan |= std::isnan(pb[i + j]);
            if (nan) continue;
            F m = load(pb + i);
            for (int j = W; j < 16; j += W) m = max(m, load(pb + i + j));
            float h = hmax(m);
            if (h == 0.0f) h = 0.0f;  // sign of a zero max depends on the fold order
            r.push_back(fbits(h));
        }
        out.names.push_back("hmax (NaN-free groups)");
        out.bits.push_back(r);
    }
    {
        std::vector<uint32_t> r;
        for (int i = 0; i < n; i += 16) {
            Acc8d acc;
            for (int j = 0; j < 16; j += W) acc.add_abs(pa + i + j);
            double l8[8];
            acc.lanes(l8);
            for (double d : l8) { uint64_t u; std::memcpy(&u, &d, 8); r.push_back(uint32_t(u)); r.push_back(uint32_t(u >> 32)); }
        }
        out.names.push_back("Acc8d");
        out.bits.push_back(r);
    }
}
}  // namespace sb::SB_ISA_NS

#if SB_PROBE_MAIN
namespace sb::SB_ISA_NS { void probe(const std::vector<float>&, const std::vector<float>&, const std::vector<float>&, ProbeOut&); }
namespace sb::SB_PROBE_ISA { void probe(const std::vector<float>&, const std::vector<float>&, const std::vector<float>&, ProbeOut&); }
#define SB_STR2(x) #x
#define SB_STR(x) SB_STR2(x)

int main() {
    const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
    const float den = std::numeric_limits<float>::denorm_min(), tiny = std::numeric_limits<float>::min();
    const std::vector<float> special = {0.0f, -0.0f, 1.0f, -1.0f, 0.5f, -2.5f, inf, -inf, nan, -nan,
                                        den, -den, tiny, 3.4e38f, -3.4e38f, 1e-20f, 0.1f, 7.0f};
    std::vector<float> a, b, c;
    // Every ordered pair of specials (so ties, NaN on either side, +0 vs -0 in both orders),
    // then pseudo-random values, padded to a multiple of 16.
    for (float x : special)
        for (float y : special) { a.push_back(x); b.push_back(y); c.push_back(special[(a.size() * 7) % special.size()]); }
    uint32_t s = 12345;
    while (a.size() % 16 || a.size() < 1024) {
        auto rnd = [&] { s = s * 1664525u + 1013904223u; return (float(s >> 8) * 0x1.0p-24f - 0.5f) * 8.0f; };
        a.push_back(rnd()); b.push_back(rnd()); c.push_back(rnd());
    }
    ProbeOut ref, got;
    sb::SB_ISA_NS::probe(a, b, c, ref);
    sb::SB_PROBE_ISA::probe(a, b, c, got);
    int failed = 0;
    for (size_t k = 0; k < ref.names.size(); ++k) {
        size_t bad = 0, first = 0;
        const auto &r = ref.bits[k], &g = got.bits[k];
        if (r.size() != g.size()) { bad = 1; }
        for (size_t i = 0; i < r.size() && i < g.size(); ++i)
            if (r[i] != g[i] && !bad++) first = i;
        std::printf("simd %-7s %-28s %s", SB_STR(SB_PROBE_ISA), ref.names[k].c_str(), bad ? "FAILED" : "ok");
        if (bad) std::printf(" (%zu of %zu lanes differ; first %zu: got 0x%08x, reference 0x%08x)", bad, r.size(), first,
                             first < g.size() ? g[first] : 0u, first < r.size() ? r[first] : 0u);
        std::printf("\n");
        failed += bad != 0;
    }
    std::printf("simd probe (%s vs %s): %zu passed, %d failed\n", SB_STR(SB_PROBE_ISA), SB_STR(SB_ISA_NS), ref.names.size() - failed, failed);
    return failed ? 1 : 0;
}
#endif
