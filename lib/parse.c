/* lib/parse.c - numbers, sizes and durations from text, as the command
 * line and the control socket take them. 0 or -EINVAL (-ERANGE for a
 * size that overflows); never prints. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "lib/parse.h"

int pcm_parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!s || !*s || *s == '-' || *s == '+')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

int pcm_parse_double(const char *s, double *out)
{
	char *end;

	if (!s || !*s)
		return -EINVAL;
	errno = 0;
	*out = strtod(s, &end);
	return errno || *end || !isfinite(*out) || *out < 0 ? -EINVAL : 0;
}

int pcm_parse_seconds_ms(const char *s, unsigned max_s, int *ms)
{
	double d;

	if (pcm_parse_double(s, &d) || d <= 0 || d > max_s)
		return -EINVAL;
	*ms = (int)(d * 1000 + 0.5) ? (int)(d * 1000 + 0.5) : 1;
	return 0;
}

int pcm_parse_size(const char *s, uint64_t *out)
{
	static const char units[] = "kmgt";
	char num[32], *end;
	unsigned long long v;
	const char *u;
	size_t n = strspn(s, "0123456789");

	if (n == 0 || n >= sizeof(num))
		return -EINVAL;
	memcpy(num, s, n);
	num[n] = 0;
	errno = 0;
	v = strtoull(num, &end, 10);
	if (errno)
		return -EINVAL;
	s += n;
	if (*s && (u = strchr(units, *s | 0x20))) {
		for (long k = 0; k <= u - units; k++) {
			if (v > (~0ull >> 10))
				return -ERANGE;
			v <<= 10;
		}
		s++;
		if (!strcmp(s, "iB") || !strcmp(s, "B") || !strcmp(s, "ib") || !strcmp(s, "b"))
			s += strlen(s);
	} else if (!strcmp(s, "B") || !strcmp(s, "b")) {
		s++;
	}
	if (*s)
		return -EINVAL;
	*out = v;
	return 0;
}
