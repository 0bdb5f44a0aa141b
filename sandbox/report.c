/*
 * report.c — the end of a sandbox: kill, wait, report, free, and
 * sandbox_run() for callers without an event loop.
 *
 * Accounting: I/O on direct channels never reaches us, so it is read from
 * the zombie's /proc/<pid>/io (syscr/rchar/syscw/wchar; the program can
 * only read and write its channels) minus the snapshot taken when libc
 * started; mediated I/O was counted call by call in notify.c.
 */
#include <cpuid.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

int sb_proc_io(pid_t pid, uint64_t io[4])
{
	static const char *const keys[4] = {"syscr:", "rchar:", "syscw:", "wchar:"};
	char path[64], buf[512];
	ssize_t len;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/io", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (len <= 0)
		return -EIO;
	buf[len] = '\0';
	for (int i = 0; i < 4; i++) {
		const char *p = strstr(buf, keys[i]);

		if (!p)
			return -EIO;
		io[i] = strtoull(p + strlen(keys[i]), NULL, 10);
	}
	return 0;
}

int sandbox_pidfd(const struct sandbox *sb)
{
	return sb->pidfd;
}

int sandbox_notify_fd(const struct sandbox *sb)
{
	return sb->notify_fd;
}

void sandbox_kill(struct sandbox *sb, enum sandbox_end reason)
{
	if (sb->waited || sb->pidfd < 0)
		return;
	if (!sb->killed) {
		sb->killed = true;
		sb->kill_reason = reason;
	}
	syscall(SYS_pidfd_send_signal, sb->pidfd, SIGKILL, NULL, 0);
}

uint64_t sb_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ull + ts.tv_nsec / 1000000;
}

int sb_deadline_wait(struct sandbox *sb)
{
	uint64_t now;

	if (!sb->deadline)
		return -1;
	now = sb_now_ms();
	if (now < sb->deadline)
		return (int)(sb->deadline - now);
	sandbox_kill(sb, SANDBOX_END_TIMEOUT);
	sb->deadline = 0;
	return 0;
}

/* Serve mediated calls until the program exits (killing it at
 * sb->deadline). */
static int sb_drive(struct sandbox *sb)
{
	struct pollfd p[2] = {{.fd = sb->pidfd, .events = POLLIN},
			      {.fd = sb->notify_fd, .events = POLLIN}};

	for (;;) {
		int r = poll(p, 2, sb_deadline_wait(sb));
		if (r < 0 && errno != EINTR)
			return -errno;
		if (r > 0 && p[0].revents)
			return 0;
		if (r > 0 && (p[1].revents & POLLIN)) {
			r = sandbox_service(sb);
			if (r < 0)
				return r;
		} else if (r > 0 && p[1].revents) {
			/* POLLHUP: the program is exiting, and the listener would
			 * stay ready until the pidfd is: stop watching it, or we
			 * spin on the CPU the exit needs. */
			p[1].fd = -1;
		}
	}
}

static uint64_t sub(uint64_t a, uint64_t b)
{
	return a > b ? a - b : 0;
}

/* Does the CPU offer rdrand or rdseed? No sandbox can trap them (CPUID
 * faulting would only hide them from programs that ask first, and glibc
 * needs cpuid to start). */
static bool cpu_has_rdrand(void)
{
	unsigned a, b, c, d;

	if (__get_cpuid(1, &a, &b, &c, &d) && (c & bit_RDRND))
		return true;
	return __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & bit_RDSEED);
}

/* May the program run on more than one CPU? Then cpuid's initial APIC ID
 * tells which one it started on. */
static bool cpus_many(void)
{
	cpu_set_t all;

	return sched_getaffinity(0, sizeof(all), &all) < 0 || CPU_COUNT(&all) > 1;
}

/* What this deterministic run could not make deterministic, as words. */
static void nondeterminism(const struct sandbox *sb, char *out, size_t size)
{
	const char *words[3];
	size_t n = 0, len = 0;

	if (!sb->det)
		return;
	if (sb->tsc_readable)
		words[n++] = "tsc";
	if (!sb->cpu_pinned && cpus_many())
		words[n++] = "cpuid";
	if (cpu_has_rdrand())
		words[n++] = "rdrand";
	for (size_t i = 0; i < n && len < size; i++)
		len += (size_t)snprintf(out + len, size - len, "%s%s",
					i ? " " : "", words[i]);
}

static void report_fill(struct sandbox *sb, struct sandbox_report *r,
			const siginfo_t *si, const struct rusage *ru,
			const uint64_t io[4])
{
	memset(r, 0, sizeof(*r));
	r->sys = ru->ru_stime.tv_sec + ru->ru_stime.tv_usec / 1e6;
	r->user = ru->ru_utime.tv_sec + ru->ru_utime.tv_usec / 1e6;
	r->reads = sub(io[0], sb->base[0]);
	r->rbytes = sub(io[1], sb->base[1]);
	r->writes = sub(io[2], sb->base[2]);
	r->wbytes = sub(io[3], sb->base[3]);
	for (size_t i = 0; i < sb->nch; i++) {
		const struct sandbox_channel_stats *s = &sb->stats[i];
		bool net = sb->ch[i].network;

		*(net ? &r->nreads : &r->reads) += s->reads;
		*(net ? &r->nrbytes : &r->rbytes) += s->rbytes;
		*(net ? &r->nwrites : &r->writes) += s->writes;
		*(net ? &r->nwbytes : &r->wbytes) += s->wbytes;
		if (sb->ch[i].md) {
			unsigned char d[EVP_MAX_MD_SIZE];
			unsigned len = 0;

			EVP_DigestFinal_ex(sb->ch[i].md, d, &len);
			for (unsigned k = 0; k < len && k < 16; k++)
				snprintf(sb->stats[i].etag + 2 * k, 3, "%02x", d[k]);
		}
	}
	r->channels = sb->stats;
	r->nchannels = sb->nch;
	nondeterminism(sb, r->nondeterminism, sizeof(r->nondeterminism));
	if (si->si_code == CLD_EXITED) {
		memcpy(r->memory_etag, sb->mem_etag, sizeof(r->memory_etag));
		r->end = SANDBOX_END_EXIT;
		r->exit_code = si->si_status;
		snprintf(r->message, sizeof(r->message), "ok");
	} else if (sb->killed && si->si_status == SIGKILL) {
		r->end = sb->kill_reason;
		r->signal = SIGKILL;
		snprintf(r->message, sizeof(r->message), "%s",
			 sb->kill_reason == SANDBOX_END_TIMEOUT ? "session timeout"
								: "killed");
	} else {
		r->end = SANDBOX_END_SIGNAL;
		r->signal = si->si_status;
		/* Deterministic: as pid 1 of its pid namespace the program
		 * ignores the signals a plain process dies of when they come
		 * from itself (notify.c on_kill kills it instead) or from
		 * RLIMIT_CPU's soft limit (the hard one, a second later, is
		 * SIGKILL): name the signal a plain process would have died
		 * of. */
		if (r->signal == SIGKILL && sb->self_signal)
			r->signal = sb->self_signal;
		else if (r->signal == SIGKILL && sb->det && sb->cpu_seconds &&
			 r->sys + r->user >= (double)sb->cpu_seconds)
			r->signal = SIGXCPU;
		snprintf(r->message, sizeof(r->message), "Signal %d (%s)",
			 r->signal, strsignal(r->signal));
	}
}

int sandbox_wait(struct sandbox *sb, struct sandbox_report *report)
{
	uint64_t io[4] = {0};
	struct rusage ru;
	siginfo_t si;
	int status;

	if (sb->waited)
		return -EINVAL;
	int rc = sb_drive(sb);
	if (rc < 0)
		return rc;
	memset(&si, 0, sizeof(si));
	if (waitid(P_PIDFD, sb->pidfd, &si, WEXITED | WNOWAIT) < 0)
		return -errno;
	/* Still a zombie: its counters are readable until it is reaped. */
	if (sb_proc_io(sb->pid, io) < 0)
		memcpy(io, sb->base, sizeof(io));
	if (wait4(sb->pid, &status, 0, &ru) < 0)
		return -errno;
	sb->waited = true;
	report_fill(sb, report, &si, &ru, io);
	return 0;
}

void sandbox_free(struct sandbox *sb)
{
	if (!sb)
		return;
	if (sb->pidfd >= 0 && !sb->waited) {
		siginfo_t si;

		syscall(SYS_pidfd_send_signal, sb->pidfd, SIGKILL, NULL, 0);
		waitid(P_PIDFD, sb->pidfd, &si, WEXITED);
	}
	if (sb->pidfd >= 0)
		close(sb->pidfd);
	if (sb->notify_fd >= 0)
		close(sb->notify_fd);
	if (sb->channels_memfd >= 0)
		close(sb->channels_memfd);
	sb_chans_free(sb);
	sb_image_dircache_free(sb);
	sb_iobuf_free(sb);
	free(sb);
}

int sandbox_run(const struct sandbox_spec *spec, struct sandbox **out,
		struct sandbox_report *report, struct sandbox_error *err)
{
	struct sandbox *sb;
	int rc;

	if (sandbox_spawn(spec, &sb, err) < 0)
		return -1;
	if (spec->timeout_ms)
		sb->deadline = sb_now_ms() + spec->timeout_ms;
	rc = sandbox_wait(sb, report);
	if (rc < 0) {
		sb_error(err, "supervising the program: %s", strerror(-rc));
		sandbox_free(sb);
		return -1;
	}
	*out = sb;
	return 0;
}
