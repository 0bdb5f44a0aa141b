/* Unit tests of a running edge (daemon/edge.c, zvmd_edge_watch_*): real
 * TCP sockets on 127.0.0.1 and a real uv loop. The reader's end is
 * watched for a cut; the writer's end tells its reader how its writer
 * ended (a clean end only when it succeeded). */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal.h"

static uv_loop_t loop;

static void setup(void)
{
	cr_assert(uv_loop_init(&loop) == 0);
}

static void teardown(void)
{
	uv_run(&loop, UV_RUN_DEFAULT);
	cr_assert(uv_loop_close(&loop) == 0, "every handle was closed");
}

TestSuite(edge_watch, .init = setup, .fini = teardown, .timeout = 30);

/* A connected pair: *w connected to *r (blocking sockets). */
static void tcp_pair(int *w, int *r)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert(l >= 0);
	cr_assert(bind(l, (struct sockaddr *)&sa, len) == 0);
	cr_assert(listen(l, 1) == 0);
	cr_assert(getsockname(l, (struct sockaddr *)&sa, &len) == 0);
	*w = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert(*w >= 0);
	cr_assert(connect(*w, (struct sockaddr *)&sa, len) == 0);
	*r = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	cr_assert(*r >= 0);
	close(l);
}

/* Close fd with a reset, as a cut connection or a killed writer. */
static void reset(int fd)
{
	struct linger abortive = { .l_onoff = 1, .l_linger = 0 };

	cr_assert(setsockopt(fd, SOL_SOCKET, SO_LINGER, &abortive,
			     sizeof(abortive)) == 0);
	close(fd);
}

struct cut {
	int calls;
	char why[1024];
};

static void on_cut(void *arg, const char *why)
{
	struct cut *c = arg;

	c->calls++;
	snprintf(c->why, sizeof(c->why), "%s", why);
}

#define NAME "map-1 /dev/out/reduce-1 -> reduce-1 /dev/in/map-1"

static struct zvmd_edge_watch *watch(int fd, bool reader, struct cut *c)
{
	struct zvmd_edge_watch *w;
	struct proto_error err;

	cr_assert(zvmd_edge_watch_start(&loop, fd, reader, NAME, on_cut, c,
					&w, &err) == 0, "%s", err.msg);
	return w;
}

Test(edge_watch, a_reset_under_the_reader_is_a_cut_naming_the_edge)
{
	struct cut c = { 0 };
	struct zvmd_edge_watch *w;
	int wfd, rfd;

	tcp_pair(&wfd, &rfd);
	w = watch(rfd, true, &c);
	/* libuv made the socket non-blocking to poll it; the sandbox
	 * reading it must block. */
	cr_assert_eq(fcntl(rfd, F_GETFL) & O_NONBLOCK, 0);
	cr_assert(write(wfd, "some", 4) == 4);
	reset(wfd);
	/* The watch stops once it has told the cut: the loop then ends. */
	while (uv_run(&loop, UV_RUN_ONCE))
		;
	cr_assert_eq(c.calls, 1);
	cr_assert(strstr(c.why, "edge " NAME " (127.0.0.1:"), "%s", c.why);
	cr_assert(strstr(c.why, "was cut: Connection reset by peer"), "%s",
		  c.why);
	zvmd_edge_watch_end(w, true);
	close(rfd);
}

Test(edge_watch, the_writers_clean_end_is_no_cut)
{
	struct cut c = { 0 };
	struct zvmd_edge_watch *w;
	char buf[8];
	int wfd, rfd;

	tcp_pair(&wfd, &rfd);
	w = watch(rfd, true, &c);
	cr_assert(write(wfd, "all", 3) == 3);
	close(wfd);
	/* The FIN wakes the watch once; it stops watching, and the loop
	 * has nothing left to wait for. */
	while (uv_run(&loop, UV_RUN_ONCE))
		;
	cr_assert_eq(c.calls, 0, "%s", c.why);
	cr_assert_eq(read(rfd, buf, sizeof(buf)), 3);
	cr_assert_eq(read(rfd, buf, sizeof(buf)), 0);
	zvmd_edge_watch_end(w, true);
	close(rfd);
}

/* What the reader of an edge sees once its writer's worker let go. */
static int reader_end(int rfd)
{
	char buf[8];
	ssize_t n = recv(rfd, buf, sizeof(buf), 0);

	return n < 0 ? errno : (int)n;
}

Test(edge_watch, a_failed_writer_resets_its_edge)
{
	struct zvmd_edge_watch *w;
	int wfd, rfd;

	tcp_pair(&wfd, &rfd);
	w = watch(wfd, false, NULL);
	close(wfd); /* the sandbox's copy: ours keeps the edge open */
	zvmd_edge_watch_end(w, false);
	cr_assert_eq(reader_end(rfd), ECONNRESET);
	close(rfd);
}

Test(edge_watch, a_writer_that_succeeded_ends_its_edge_cleanly)
{
	struct zvmd_edge_watch *w;
	int wfd, rfd;

	tcp_pair(&wfd, &rfd);
	w = watch(wfd, false, NULL);
	close(wfd);
	zvmd_edge_watch_end(w, true);
	cr_assert_eq(reader_end(rfd), 0);
	close(rfd);
}
