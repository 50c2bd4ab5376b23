/* Peak fp32 FMA throughput of this machine (session 31): 12 independent AVX-512 FMA chains per
   thread, 1 and 2 threads. gcc -O3 -march=native peak_fma_2026-12-04_s31.c -o peak -lpthread
   Zen 5 (2 vCPUs): 272 GFLOP/s on 1 thread, 538 on 2 (2 zmm FMAs per cycle). */
#include <immintrin.h>
#include <stdio.h>
#include <time.h>
#include <pthread.h>
static double now(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
#define N 200000000L
static void* run(void*a){
  __m512 acc[12]; for(int i=0;i<12;i++) acc[i]=_mm512_set1_ps(i*0.001f);
  __m512 x=_mm512_set1_ps(0.999f), y=_mm512_set1_ps(0.0001f);
  for(long n=0;n<N/12;n++){ for(int i=0;i<12;i++) acc[i]=_mm512_fmadd_ps(acc[i],x,y);}
  float s=0; for(int i=0;i<12;i++) s+=_mm512_reduce_add_ps(acc[i]); *(float*)a=s; return 0;}
int main(){ float r[2]; double t=now(); run(r); double t1=now()-t;
  pthread_t th; t=now(); pthread_create(&th,0,run,r+1); run(r); pthread_join(th,0); double t2=now()-t;
  double fl=(double)N/12*12*16*2;
  printf("1 thread %.1f GFLOP/s, 2 threads %.1f GFLOP/s (%g)\n", fl/t1/1e9, 2*fl/t2/1e9, r[0]+r[1]);}
