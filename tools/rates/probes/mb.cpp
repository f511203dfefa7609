// Machine-ceiling probe behind issue 19's closing note (x86 AVX-512 only; not built by the package):
//   g++ -O2 -march=native tools/rates/probes/mb.cpp -o /tmp/mb && /tmp/mb
#include <algorithm>
#include <cstdlib>
#include <immintrin.h>
#include <chrono>
#include <cstdio>
#include <vector>
#include <random>
#include <cstdint>
// acc[7] += w * x[off + v*16] over nnz; like spmm_tile<1,7>
__attribute__((noinline)) void tile(const float* in, const int32_t* offs, const float* vals, int64_t k0, int64_t k1, float* o) {
  __m512 a[7]; for (int i=0;i<7;++i) a[i]=_mm512_setzero_ps();
  for (int64_t k=k0;k<k1;++k){ __m512 w=_mm512_set1_ps(vals[k]); const float* p=in+offs[k];
    for (int v=0;v<7;++v) a[v]=_mm512_fmadd_ps(w,_mm512_loadu_ps(p+v*16),a[v]); }
  for (int i=0;i<7;++i) _mm512_storeu_ps(o+i*16,a[i]);
}
int main(int argc,char**argv){
  int C=atoi(argv[1]), R=atoi(argv[2]), L=atoi(argv[3]), nnzr=atoi(argv[4]);
  float* x=(float*)aligned_alloc(64,(size_t(C)*L+64)*4); for(size_t i=0;i<size_t(C)*L+64;++i) x[i]=1.0f; float* y=(float*)aligned_alloc(64,(size_t(R)*L+64)*4); int mis=argc>5?atoi(argv[5]):0; x+=mis;
  std::vector<int32_t> offs(size_t(R)*nnzr); std::vector<float> vals(offs.size(),0.5f);
  std::mt19937 g(1);
  for (auto& o: offs) o = int32_t((g()%C)*L);
  for (int r=0;r<R;++r) std::sort(offs.begin()+r*nnzr, offs.begin()+(r+1)*nnzr);
  auto run=[&]{ for (int p0=0;p0+112<=L;p0+=112) for(int r=0;r<R;++r) tile(x+p0,offs.data(),vals.data(),int64_t(r)*nnzr,int64_t(r+1)*nnzr,y+size_t(r)*L+p0);};
  run(); auto t0=std::chrono::steady_clock::now(); int reps=50; for(int i=0;i<reps;++i) run();
  double t=std::chrono::duration<double>(std::chrono::steady_clock::now()-t0).count()/reps;
  double fl=2.0*R*nnzr*(L/112)*112;
  printf("C=%d R=%d L=%d nnz/row=%d: %.3f ms %.1f GFLOP/s\n",C,R,L,nnzr,t*1e3,fl/t/1e9);
}
