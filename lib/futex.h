/* lib/futex.h - private futex wait and wake on a 32-bit atomic word, the
 * gates the engines park and release their vCPU threads with. Both return
 * the raw syscall result (-1 with errno set: EAGAIN when the word no
 * longer holds val, ETIMEDOUT, EINTR), as futex(2) does. */
#ifndef PCM_LIB_FUTEX_H
#define PCM_LIB_FUTEX_H

#include <limits.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* Sleep while *addr == val, at most *rel (relative; NULL: no bound). */
static inline long pcm_futex_wait(_Atomic uint32_t *addr, uint32_t val,
				  const struct timespec *rel)
{
	return syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAIT_PRIVATE, val, rel, NULL, 0);
}

/* Wake up to n sleepers on addr (INT_MAX: all). */
static inline long pcm_futex_wake(_Atomic uint32_t *addr, int n)
{
	return syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
}

#endif
