/* custseg — the vector rule of the numerical kernels (k-means, silhouette,
 * GMM E-step, Ward scan, PCA products). Private; never installed.
 *
 * Eight doubles as one value (v8d, GCC vector extensions): GCC lowers each
 * operation to one AVX-512, two AVX2 or four SSE2 instructions, whichever the
 * function is compiled for. A function marked CSEG_HOT is compiled three
 * times, for x86-64-v4 (AVX-512 F/BW/CD/DQ/VL), x86-64-v3 (AVX2, FMA, BMI)
 * and baseline x86-64, and the best one the CPU runs is chosen at load time
 * (GCC target_clones, an ifunc).
 *
 * Why the levels and not single features ("avx512f", "avx2"): the distance
 * kernels ask for a fused multiply-add explicitly (__builtin_fma, one
 * rounding, so scalar and vector paths agree), which is one instruction where
 * FMA is enabled and a call to fma() where it is not; "avx2" alone leaves FMA
 * off, x86-64-v3 includes it. The build disables FP contraction
 * (-ffp-contract=off), so no clone fuses a * b + c on its own: every clone
 * performs the same correctly rounded operations and gives the same bits.
 *
 * Only with GCC on x86-64: with other compilers or targets, and under
 * AddressSanitizer, CSEG_HOT is empty and the one version of each function is
 * compiled for the target's baseline.
 */
#ifndef CUSTSEG_CORE_SIMD_H
#define CUSTSEG_CORE_SIMD_H

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) &&                             \
    !defined(__SANITIZE_ADDRESS__)
#define CSEG_HOT __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define CSEG_HOT
#endif

/* The helpers of a CSEG_HOT function: always inlined, so that each clone
 * gets them compiled for its level. A copy left out of line is compiled for
 * baseline x86-64 alone, whatever its caller's level: GCC made one of the
 * k-means tile transpose when the Lloyd loop grew, and the loop took 40%
 * longer. */
#if defined(__GNUC__)
#define CSEG_INLINE static inline __attribute__((always_inline))
#else
#define CSEG_INLINE static inline
#endif

typedef double v8d __attribute__((vector_size(64)));
typedef long long v8l __attribute__((vector_size(64)));

/* clang-format off */
/* All lanes zero, as an initialiser: v8d z = CSEG_V8Z; */
#define CSEG_V8Z {0, 0, 0, 0, 0, 0, 0, 0}
/* clang-format on */

/* Lanewise select without a branch: a where the mask m (a comparison's
 * result, all ones or all zeros per lane) is set, else b. */
#define CSEG_SEL(m, a, b) ((v8d)(((v8l)(a) & (m)) | ((v8l)(b) & ~(m))))

/* acc += t * t lane by lane with one rounding (fused multiply-add), the one
 * step of every squared distance in the kernels that use it, so their scalar
 * paths (__builtin_fma) round alike. The loop over a plain array is what GCC
 * turns into one vfmadd on zmm (x86-64-v4) or two on ymm (v3); the baseline
 * clone calls fma(). */
static inline void vsq_acc(v8d *acc, const v8d *t)
{
    double *a = (double *)acc;
    const double *x = (const double *)t;
#ifdef _OPENMP
#pragma omp simd /* without it the v3 clone does eight scalar FMAs */
#endif
    for (int l = 0; l < 8; l++)
        a[l] = __builtin_fma(x[l], x[l], a[l]);
}

/* The sum of the eight lanes, pairwise in a fixed order. */
static inline double lanes_sum(const v8d *v)
{
    return (((*v)[0] + (*v)[1]) + ((*v)[2] + (*v)[3])) +
           (((*v)[4] + (*v)[5]) + ((*v)[6] + (*v)[7]));
}

#endif
