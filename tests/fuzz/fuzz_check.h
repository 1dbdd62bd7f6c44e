/* tests/fuzz/fuzz_check.h - FZ_CHECK, the fuzz targets' promise check: a
 * broken one says which and aborts, so libFuzzer keeps the input. A file
 * that includes a target to replay its inputs (tests/unit) may define
 * FZ_CHECK first, as a cmocka assertion. */
#ifndef FUZZ_CHECK_H
#define FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#ifndef FZ_CHECK
#define FZ_CHECK(cond)							\
	do {								\
		if (!(cond)) {						\
			fprintf(stderr, "%s:%d: broken promise: %s\n",	\
				__FILE__, __LINE__, #cond);		\
			abort();					\
		}							\
	} while (0)
#endif

#endif
