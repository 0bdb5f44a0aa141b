/* log.c — zvmd's log: logfmt lines on stderr (the journal under systemd).
 *
 * One line per job and per error; log_level in zvmd.conf drops the lines
 * below it. Callers never pass request headers or the configuration's
 * secrets: a line holds ids, counts, statuses and our own messages. */
#include <stdio.h>
#include <time.h>

#include "internal.h"

static const char *const level_names[] = { "error", "warning", "info",
					    "debug" };
static enum zvmd_log_level current = ZVMD_LOG_INFO;

void zvmd_log_set_level(enum zvmd_log_level level)
{
	current = level;
}

void zvmd_log(enum zvmd_log_level level, const char *fmt, ...)
{
	char ts[32];
	time_t t = time(NULL);
	struct tm tm;
	va_list ap;

	if (level > current)
		return;
	gmtime_r(&t, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	/* One write per line (stderr is unbuffered): lines never interleave. */
	flockfile(stderr);
	fprintf(stderr, "ts=%s level=%s ", ts, level_names[level]);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	funlockfile(stderr);
}
