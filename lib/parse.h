/* lib/parse.h - numbers, sizes and durations from text. */
#ifndef PCM_LIB_PARSE_H
#define PCM_LIB_PARSE_H

#include <stdint.h>

/* "1G", "256M", "4096", "1GiB", "512MiB", "64k": bytes (powers of 1024). */
int pcm_parse_size(const char *s, uint64_t *out);
/* A decimal integer, no sign, at most max. */
int pcm_parse_u64(const char *s, uint64_t max, uint64_t *out);
/* A finite number, not negative. */
int pcm_parse_double(const char *s, double *out);
/* Seconds, fractions allowed, above 0 and at most max_s: milliseconds
 * (at least 1). */
int pcm_parse_seconds_ms(const char *s, unsigned max_s, int *ms);

#endif
