/* tests/unit/fuzzfiles.h - finding and reading the fuzz targets' seed and
 * regression files, for the unit tests that replay them through the
 * targets (test_fuzzregress, test_snapfuzz). */
#ifndef TESTS_UNIT_FUZZFILES_H
#define TESTS_UNIT_FUZZFILES_H

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* tests/fuzz, or PCM_FUZZ_DIR (a test run from elsewhere). */
static inline const char *fuzz_dir(void)
{
	const char *d = getenv("PCM_FUZZ_DIR");

	return d && *d ? d : "tests/fuzz";
}

/* The whole file, malloc'ed (one byte spare), or NULL. */
static inline uint8_t *fuzz_file_read(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *b = NULL;
	long n;

	*len = 0;
	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
		b = malloc((size_t)n + 1);
		if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
			free(b);
			b = NULL;
		}
		*len = (size_t)n;
	}
	fclose(f);
	return b;
}

/* scandir filter: inputs only, not dot files or the README. */
static inline int fuzz_file_input(const struct dirent *e)
{
	return e->d_name[0] != '.' && strcmp(e->d_name, "README");
}

#endif
