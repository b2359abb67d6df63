#ifndef CVECTORMATH_H
#define CVECTORMATH_H

/// exp over the first (n rounded down to a multiple of 8) floats of src, eight at a time in
/// AVX2 registers, where the CPU has AVX2; returns how many it did (0 elsewhere). The
/// operations are those of FastMath.exp8 in Swift, in the same order and without fused
/// multiply-adds, so the results are the same bits on either path.
long gpusim_expf_avx2(const float *src, float *dst, long n);

#endif
