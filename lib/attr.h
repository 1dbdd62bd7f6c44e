/* lib/attr.h - compiler attributes the tree uses by name.
 *
 * PCM_MUST_CHECK marks a call whose failure changes what is true (a VM
 * that did not pause runs on; a message that was not sent was not sent).
 * A caller that means to ignore one writes (void)!call(...): gcc does not
 * take a plain (void) cast as using the result. */
#ifndef PCM_LIB_ATTR_H
#define PCM_LIB_ATTR_H

#define PCM_MUST_CHECK __attribute__((warn_unused_result))

#endif
