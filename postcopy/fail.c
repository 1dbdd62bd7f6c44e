/* postcopy/fail.c - first-failure record. */
#include <stdarg.h>
#include <stdio.h>
#include "postcopy/fail.h"

void pm_fail_init(struct pm_fail *f)
{
	pthread_mutex_init(&f->lock, NULL);
	f->err = 0;
	f->why[0] = 0;
	f->after_commit = false;
	f->session = 0;
	f->resume_err = 0;
}

int pm_fail_set(struct pm_fail *f, int err, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&f->lock);
	if (!f->err) {
		f->err = err;
		va_start(ap, fmt);
		vsnprintf(f->why, sizeof(f->why), fmt, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&f->lock);
	return err;
}

bool pm_failed(struct pm_fail *f)
{
	bool r;

	pthread_mutex_lock(&f->lock);
	r = f->err != 0;
	pthread_mutex_unlock(&f->lock);
	return r;
}
