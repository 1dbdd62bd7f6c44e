/* guest/rng.h - tiny mixers and a PRNG for workloads (freestanding).
 *
 * mix64 is the splitmix64 finalizer (a bijection on 64-bit words); the
 * PRNG is xoroshiro128+ whose state lives in struct wl_regs.rng, so a
 * vCPU's random stream continues exactly across save/load.
 */
#ifndef GUEST_RNG_H
#define GUEST_RNG_H

#include <stdint.h>

#define GUEST_GOLDEN 0x9e3779b97f4a7c15ull

static inline uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static inline uint64_t splitmix64(uint64_t *x)
{
	*x += GUEST_GOLDEN;
	return mix64(*x);
}

static inline uint64_t rotl64(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

/* xoroshiro128+; use the high bits (the low bits are weak). */
static inline uint64_t rng_next(uint64_t s[2])
{
	uint64_t s0 = s[0], s1 = s[1];
	uint64_t r = s0 + s1;

	s1 ^= s0;
	s[0] = rotl64(s0, 24) ^ s1 ^ (s1 << 16);
	s[1] = rotl64(s1, 37);
	return r;
}

static inline void rng_seed(uint64_t s[2], uint64_t seed, uint64_t stream)
{
	uint64_t x = seed ^ mix64(stream + 1);

	s[0] = splitmix64(&x);
	s[1] = splitmix64(&x);
	if (!s[0] && !s[1])
		s[1] = GUEST_GOLDEN;
}

/* Uniform in [0, n) (n small; modulo bias negligible for permille). */
static inline uint64_t rng_below(uint64_t s[2], uint64_t n)
{
	return (rng_next(s) >> 11) % n;
}

#endif
