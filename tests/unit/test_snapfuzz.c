/* tests/unit/test_snapfuzz.c - the snapshot fuzz target's inputs replayed:
 * the seeds of tests/fuzz/corpus/snap/ and what the fuzzer once found
 * (tests/fuzz/regress/snap/) go through fuzz_snap_one, compiled in here,
 * so a broken promise fails make unit (and memory errors show under make
 * test-asan). The seeds must also still be valid snapshots of this
 * format version: a format change that forgets them (make fuzz-corpus)
 * fails here rather than quietly fuzzing only the refusal paths.
 *
 * Run from the project root (make unit does); PCM_FUZZ_DIR overrides
 * where tests/fuzz is.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FZ_CHECK(cond) assert_true(cond)
#define FUZZ_NO_MAIN
#include "tests/fuzz/fuzz_snap.c"

#include "tests/unit/fuzzfiles.h"

/* Every file of sub through fuzz_snap_one; -1 when the folder is missing. */
static int replay(const char *sub)
{
	char dir[4096];
	struct dirent **names;
	int n, done = 0;

	snprintf(dir, sizeof(dir), "%s/%s", fuzz_dir(), sub);
	n = scandir(dir, &names, fuzz_file_input, alphasort);
	if (n < 0)
		return -1;
	for (int i = 0; i < n; i++) {
		char path[8192];
		size_t len = 0;
		uint8_t *b;

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
		free(names[i]);
		b = fuzz_file_read(path, &len);
		if (!b)
			continue;
		assert_int_equal(fuzz_snap_one(b, len), 0);
		free(b);
		done++;
	}
	free(names);
	return done;
}

static void test_replay(void **state)
{
	int seeds, found;

	(void)state;
	seeds = replay("corpus/snap");
	if (seeds <= 0)
		fail_msg("no seeds in %s/corpus/snap (run from the project root)", fuzz_dir());
	found = replay("regress/snap");
	print_message("      snap: %d seeds, %d regression inputs\n", seeds, found < 0 ? 0 : found);
}

static struct snap_file *seed(const char *name)
{
	char path[4096];
	struct snap_file *f;
	int r;

	snprintf(path, sizeof(path), "%s/corpus/snap/%s", fuzz_dir(), name);
	r = snap_open(path, &f);
	if (r)
		fail_msg("%s: %s (regenerate with make fuzz-corpus)", path, strerror(-r));
	assert_int_equal(snap_verify(f, NULL), 0);
	return f;
}

static void test_seeds_valid(void **state)
{
	struct snap_file *full, *layer, *lx;

	(void)state;
	full = seed("full.bin");
	layer = seed("layer.bin");
	lx = seed("linux.bin");
	assert_true(snap_is_parent_of(full, layer));
	assert_int_equal(snap_commit_of(layer)->present, 2);
	assert_int_equal(snap_meta_of(lx)->guest, MACHINE_GUEST_LINUX);
	assert_int_equal(snap_meta_of(lx)->ndisks, 1);
	snap_close(full);
	snap_close(layer);
	snap_close(lx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_replay),
		cmocka_unit_test(test_seeds_valid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
