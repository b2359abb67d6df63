#include "CVectorMath.h"

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>

// Only "avx2" (no "fma"): the compiler must not fuse a multiply and an add, which would
// round differently from the portable Swift path.
__attribute__((target("avx2")))
static long expf_avx2(const float *src, float *dst, long n) {
    const __m256 lo = _mm256_set1_ps(-87.33654f), hi = _mm256_set1_ps(88.72283f);
    const __m256 magic = _mm256_set1_ps(12582912.0f);
    const __m256 log2e = _mm256_set1_ps(1.44269504088896341f);
    const __m256 ln2hi = _mm256_set1_ps(0.693359375f), ln2lo = _mm256_set1_ps(2.12194440e-4f);
    const __m256 c0 = _mm256_set1_ps(1.9875691500e-4f), c1 = _mm256_set1_ps(1.3981999507e-3f);
    const __m256 c2 = _mm256_set1_ps(8.3334519073e-3f), c3 = _mm256_set1_ps(4.1665795894e-2f);
    const __m256 c4 = _mm256_set1_ps(1.6666665459e-1f), c5 = _mm256_set1_ps(5.0000001201e-1f);
    const __m256 one = _mm256_set1_ps(1.0f), zero = _mm256_setzero_ps();
    const __m256 inf = _mm256_castsi256_ps(_mm256_set1_epi32(0x7F800000));
    const __m256 nan = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FC00000));
    const __m256i bias = _mm256_set1_epi32(127), magicBits = _mm256_set1_epi32(0x4B400000);
    long i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 input = _mm256_loadu_ps(src + i);
        const __m256 under = _mm256_cmp_ps(input, lo, _CMP_LT_OQ), over = _mm256_cmp_ps(input, hi, _CMP_GT_OQ);
        __m256 x = _mm256_blendv_ps(input, lo, under);
        x = _mm256_blendv_ps(x, hi, over);
        const __m256 t = _mm256_add_ps(_mm256_mul_ps(x, log2e), magic);
        const __m256 k = _mm256_sub_ps(t, magic);
        const __m256 r = _mm256_add_ps(_mm256_sub_ps(x, _mm256_mul_ps(k, ln2hi)), _mm256_mul_ps(k, ln2lo));
        __m256 p = c0;
        p = _mm256_add_ps(_mm256_mul_ps(p, r), c1);
        p = _mm256_add_ps(_mm256_mul_ps(p, r), c2);
        p = _mm256_add_ps(_mm256_mul_ps(p, r), c3);
        p = _mm256_add_ps(_mm256_mul_ps(p, r), c4);
        p = _mm256_add_ps(_mm256_mul_ps(p, r), c5);
        __m256 y = _mm256_add_ps(_mm256_add_ps(_mm256_mul_ps(_mm256_mul_ps(p, r), r), r), one);
        const __m256i ni = _mm256_sub_epi32(_mm256_castps_si256(t), magicBits);
        const __m256i n1 = _mm256_srai_epi32(ni, 1), n2 = _mm256_sub_epi32(ni, n1);
        y = _mm256_mul_ps(y, _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, bias), 23)));
        y = _mm256_mul_ps(y, _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, bias), 23)));
        y = _mm256_blendv_ps(y, zero, under);
        y = _mm256_blendv_ps(y, inf, over);
        y = _mm256_blendv_ps(y, nan, _mm256_cmp_ps(input, input, _CMP_NEQ_UQ));
        _mm256_storeu_ps(dst + i, y);
    }
    return i;
}

long gpusim_expf_avx2(const float *src, float *dst, long n) {
    static int avx2 = -1;
    if (avx2 < 0) { __builtin_cpu_init(); avx2 = __builtin_cpu_supports("avx2") ? 1 : 0; }
    return avx2 ? expf_avx2(src, dst, n) : 0;
}

#else

long gpusim_expf_avx2(const float *src, float *dst, long n) { (void)src; (void)dst; (void)n; return 0; }

#endif
