// Machine-ceiling probe behind issue 19's closing note (x86 AVX-512 only; not built by the package):
//   g++ -O2 -march=native tools/rates/probes/peak2.cpp -o /tmp/peak2 && /tmp/peak2
#include <immintrin.h>
#include <chrono>
#include <cstdio>
#include <cstdlib>
int main(int argc,char**argv){
  float q=argc>5?1.0f:0.999f;
  __m512 a0=_mm512_set1_ps(0.1f),a1=_mm512_set1_ps(0.2f),a2=_mm512_set1_ps(0.3f),a3=_mm512_set1_ps(0.4f),a4=_mm512_set1_ps(0.5f),a5=_mm512_set1_ps(0.6f),a6=_mm512_set1_ps(0.7f),a7=_mm512_set1_ps(0.8f),a8=_mm512_set1_ps(0.9f),a9=_mm512_set1_ps(1.0f);
  __m512 w=_mm512_set1_ps(q), b=_mm512_set1_ps(0.0001f);
  long n=100000000;
  auto t0=std::chrono::steady_clock::now();
  for(long i=0;i<n;++i){ a0=_mm512_fmadd_ps(a0,w,b);a1=_mm512_fmadd_ps(a1,w,b);a2=_mm512_fmadd_ps(a2,w,b);a3=_mm512_fmadd_ps(a3,w,b);a4=_mm512_fmadd_ps(a4,w,b);a5=_mm512_fmadd_ps(a5,w,b);a6=_mm512_fmadd_ps(a6,w,b);a7=_mm512_fmadd_ps(a7,w,b);a8=_mm512_fmadd_ps(a8,w,b);a9=_mm512_fmadd_ps(a9,w,b);}
  double t=std::chrono::duration<double>(std::chrono::steady_clock::now()-t0).count();
  __m512 s=_mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0,a1),_mm512_add_ps(a2,a3)),_mm512_add_ps(_mm512_add_ps(a4,a5),_mm512_add_ps(_mm512_add_ps(a6,a7),_mm512_add_ps(a8,a9))));
  printf("512-bit FMA peak: %.1f GFLOP/s (%g)\n", n*10*32.0/t/1e9, _mm512_reduce_add_ps(s));
}
