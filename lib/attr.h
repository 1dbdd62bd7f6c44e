/* lib/attr.h - compiler attributes the tree uses by name.
 *
 * PCM_MUST_CHECK marks a call whose failure changes what is true (a VM
 * that did not pause runs on; a message that was not sent was not sent).
 * A caller that means to ignore one writes (void)!call(...): gcc does not
 * take a plain (void) cast as using the result. */
#ifndef PCM_LIB_ATTR_H
#define PCM_LIB_ATTR_H

#define PCM_MUST_CHECK __attribute__((warn_unused_result))

/* pcm_leave_to_exit(p): p is not freed on purpose; the process's end
 * frees it (a VM whose vCPU may wait on a page that never comes cannot
 * be torn down safely). LeakSanitizer is told, so it reports only real
 * leaks. */
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
static inline void pcm_leave_to_exit(const void *p)
{
	if (p)
		__lsan_ignore_object(p);
}
#else
static inline void pcm_leave_to_exit(const void *p)
{
	(void)p;
}
#endif

#endif
