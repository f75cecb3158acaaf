/* Force-included (-include) by scripts/fuzz.sh when it compiles the library
 * with clang for libFuzzer. src/kmeans/kmeans.c uses GCC's two-source
 * __builtin_shuffle(a, b, mask), which clang does not have (clang's
 * __builtin_shufflevector takes constant indices instead). This defines it
 * with GCC's semantics (lane i of the result is lane mask[i] mod 2n of the
 * concatenation a:b), lane by lane: slower, but the same values, which is all
 * a fuzzing build needs. No effect with GCC. */
#ifndef CSEG_FUZZ_CLANG_COMPAT_H
#define CSEG_FUZZ_CLANG_COMPAT_H
#if defined(__clang__) && defined(__has_builtin)
#if !__has_builtin(__builtin_shuffle)
#define __builtin_shuffle(a, b, mask)                                                          \
    __extension__({                                                                            \
        __typeof__(+(a)) cseg_sh_a_ = (a), cseg_sh_b_ = (b), cseg_sh_r_; /* unqualified */      \
        __typeof__(mask) cseg_sh_m_ = (mask);                                                  \
        const long cseg_sh_n_ = (long)(sizeof cseg_sh_a_ / sizeof cseg_sh_a_[0]);              \
        for (long cseg_sh_i_ = 0; cseg_sh_i_ < cseg_sh_n_; cseg_sh_i_++) {                     \
            long cseg_sh_j_ = (long)cseg_sh_m_[cseg_sh_i_] & (2 * cseg_sh_n_ - 1);             \
            cseg_sh_r_[cseg_sh_i_] = cseg_sh_j_ < cseg_sh_n_ ? cseg_sh_a_[cseg_sh_j_]           \
                                                             : cseg_sh_b_[cseg_sh_j_ - cseg_sh_n_]; \
        }                                                                                      \
        cseg_sh_r_;                                                                            \
    })
#endif
#endif
#endif
