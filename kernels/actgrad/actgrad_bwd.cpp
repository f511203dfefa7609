// Activation-gradient pruning backward path: the ISA-independent planning of the sparse-dO
// kernels (transposed views of dO, tap tables), compiled once. See actgrad_bwd.hpp.
#include "actgrad_bwd.hpp"

#include <omp.h>

#include <algorithm>
#include <cstdlib>

namespace sb::actgrad_plan {

void build_pixel_lists(const RowBitmap& d, const ConvGeometry& s, int64_t cb, int64_t nblk, PixelLists& L,
                       int threads) {
    const int64_t HoWo = s.Ho * s.Wo, P = s.N * HoWo, nnz = d.rowptr[d.rows];
    L.ptr.assign(size_t(P + 1), 0);
    L.co.resize(size_t(nnz));
    L.val.resize(size_t(nnz));
    L.bptr.resize(size_t(P * (nblk + 1)));
#pragma omp parallel num_threads(threads)
    {
        std::vector<int64_t> cur(static_cast<size_t>(HoWo));
#pragma omp for schedule(static)
        for (int64_t n = 0; n < s.N; ++n) {
            std::fill(cur.begin(), cur.end(), 0);
            for (int64_t co = 0; co < s.Cout; ++co) {
                const uint64_t* bw = d.bits + (n * s.Cout + co) * d.wpr;
                for (int64_t wi = 0; wi < d.wpr; ++wi)
                    for (uint64_t b = bw[wi]; b; b &= b - 1) ++cur[size_t(wi * 64 + __builtin_ctzll(b))];
            }
            int64_t off = d.rowptr[n * s.Cout];  // entries of image n keep their global range
            for (int64_t q = 0; q < HoWo; ++q) {
                L.ptr[size_t(n * HoWo + q)] = off;
                const int64_t c = cur[size_t(q)];
                cur[size_t(q)] = off;
                off += c;
            }
            for (int64_t co = 0; co < s.Cout; ++co) {
                const int64_t r = n * s.Cout + co;
                const uint64_t* bw = d.bits + r * d.wpr;
                const float* v = d.vals + d.rowptr[r];
                for (int64_t wi = 0; wi < d.wpr; ++wi)
                    for (uint64_t b = bw[wi]; b; b &= b - 1) {
                        const int64_t e = cur[size_t(wi * 64 + __builtin_ctzll(b))]++;
                        L.co[size_t(e)] = int32_t(co);
                        L.val[size_t(e)] = *v++;
                    }
            }
            for (int64_t q = 0; q < HoWo; ++q) {
                const int64_t p = n * HoWo + q;
                const int64_t e1 = cur[size_t(q)];  // end of pixel q's entries
                int64_t e = L.ptr[size_t(p)];
                int64_t* bp = L.bptr.data() + p * (nblk + 1);
                for (int64_t b = 0; b < nblk; ++b) {
                    bp[b] = e;
                    const int64_t lim = (b + 1) * cb;
                    while (e < e1 && L.co[size_t(e)] < lim) ++e;
                }
                bp[nblk] = e1;
            }
        }
    }
    L.ptr[size_t(P)] = nnz;
}

TapList tap_list(int64_t extent, int64_t k, int64_t stride, int64_t pad, int64_t out_extent) {
    TapList L;
    L.start.push_back(0);
    for (int64_t h = 0; h < extent; ++h) {
        for (int64_t i = 0; i < k; ++i) {
            const int64_t hh = h + pad - i;
            if (hh < 0 || hh % stride) continue;
            const int64_t ho = hh / stride;
            if (ho >= out_extent) continue;
            L.tap.push_back(int32_t(i));
            L.out.push_back(int32_t(ho));
        }
        L.start.push_back(int32_t(L.tap.size()));
    }
    return L;
}


ColumnLists column_lists(const RowBitmap& d) {
    const int64_t B = d.rows, Cout = d.cols, nnz = d.rowptr[B];
    ColumnLists C;
    C.ptr.assign(size_t(Cout + 1), 0);
    C.row.resize(static_cast<size_t>(nnz));
    C.val.resize(static_cast<size_t>(nnz));
    for (int64_t r = 0; r < B; ++r)
        for (int64_t wi = 0; wi < d.wpr; ++wi)
            for (uint64_t b = d.bits[r * d.wpr + wi]; b; b &= b - 1) ++C.ptr[size_t(wi * 64 + __builtin_ctzll(b) + 1)];
    for (int64_t c = 0; c < Cout; ++c) C.ptr[size_t(c + 1)] += C.ptr[size_t(c)];
    std::vector<int64_t> cur(C.ptr.begin(), C.ptr.end() - 1);
    for (int64_t r = 0; r < B; ++r) {
        const float* v = d.vals + d.rowptr[r];
        for (int64_t wi = 0; wi < d.wpr; ++wi)
            for (uint64_t b = d.bits[r * d.wpr + wi]; b; b &= b - 1) {
                const int64_t e = cur[size_t(wi * 64 + __builtin_ctzll(b))]++;
                C.row[size_t(e)] = int32_t(r);
                C.val[size_t(e)] = *v++;
            }
    }
    return C;
}

void nhwc_offsets(const ConvGeometry& s, int64_t Cp, std::vector<int64_t>& poff, std::vector<int64_t>& toff) {
    const int64_t Wp = s.W + 2 * s.pw, HoWo = s.Ho * s.Wo, KK = s.kh * s.kw;
    poff.assign(static_cast<size_t>((HoWo + 63) / 64 * 64), 0);
    toff.assign(static_cast<size_t>(KK), 0);
    for (int64_t ho = 0; ho < s.Ho; ++ho)
        for (int64_t wo = 0; wo < s.Wo; ++wo) poff[size_t(ho * s.Wo + wo)] = ((ho * s.sh) * Wp + wo * s.sw) * Cp;
    for (int64_t i = 0; i < s.kh; ++i)
        for (int64_t j = 0; j < s.kw; ++j) toff[size_t(i * s.kw + j)] = (i * Wp + j) * Cp;
}

int64_t dw_image_block(const RowBitmap& d, const ConvGeometry& s, int64_t img_floats) {
    const double nnz_per_co_img = double(d.rowptr[d.rows]) / double(std::max<int64_t>(1, s.N * s.Cout));
    int64_t nb = std::max<int64_t>(1, (int64_t(512) << 10) / (img_floats * int64_t(sizeof(float))));
    if (nnz_per_co_img * double(nb) < 64.0)
        nb = std::max<int64_t>(nb, int64_t(64.0 / std::max(nnz_per_co_img, 1e-3)) + 1);
    return std::min(nb, s.N);
}

int64_t dx_channel_block(const ConvGeometry& s, int64_t nv, int W) {
    const int64_t KK = s.kh * s.kw;
    const int64_t ctmax = std::min<int64_t>(nv, 8) * W;
    static const int64_t budget = [] {
        const char* e = std::getenv("SB_ACTGRAD_DX_BLOCK_KB");
        return e ? std::max<int64_t>(1, std::atoll(e)) : int64_t(256);
    }();
    return std::max<int64_t>(4, (budget << 10) / (KK * ctmax * int64_t(sizeof(float))));
}

}  // namespace sb::actgrad_plan
