/*
 * fuzz_http.c — zvmd's HTTP request handling (libmicrohttpd + server.c's
 * routing, header checks, body collection and job planning) on raw bytes.
 *
 * One zvmd server runs in-process on a private libuv loop, without a
 * listen socket. Each input is one client connection: one end of a
 * socketpair is handed to MHD with MHD_add_connection(), the input is
 * written to the other end in pieces (so MHD parses partial reads), the
 * write side is shut down, and the loop is driven until MHD closes the
 * connection or nothing moves any more; the answer is read and discarded.
 * Then the client closes its end.
 *
 * The store is an empty directory: a job is parsed and planned, and stops
 * when its program is not found (404). No sandbox ever runs, so the target
 * needs neither root nor namespaces and one input costs microseconds.
 *
 * A connection that MHD still holds after the client has gone and the
 * loop has run for ROUNDS rounds is a hang: the target aborts. Leaks are
 * per input (libFuzzer's -detect_leaks): by then the connection and its
 * request are freed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

#define ROUNDS 2000      /* loop rounds per phase, ~1 ms each at most */

static uv_loop_t loop;
static struct zvmd_server *srv;
static char tmpdir[] = "/tmp/fuzz_http.XXXXXX";

static int rm_entry(const char *path, const struct stat *sb, int flag,
		    struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Jobs may leave aborted temp files in the store: remove the tree. */
static void cleanup(void)
{
	nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void die(const char *what, const char *why)
{
	fprintf(stderr, "fuzz_http: %s: %s\n", what, why);
	abort();
}

static void set(struct zvmd_config *cfg, const char *key, const char *value)
{
	struct zvmd_error err;

	if (zvmd_config_set(cfg, key, value, &err))
		die(key, err.msg);
}

static void server_start(void)
{
	struct zvmd_config cfg;
	struct zvmd_error err;
	char root[64], spool[64];

	signal(SIGPIPE, SIG_IGN);
	if (!mkdtemp(tmpdir))
		die("mkdtemp", strerror(errno));
	atexit(cleanup);
	snprintf(root, sizeof(root), "%s/root", tmpdir);
	snprintf(spool, sizeof(spool), "%s/spool", tmpdir);
	if (mkdir(root, 0755) || mkdir(spool, 0755))
		die("mkdir", strerror(errno));
	zvmd_config_default(&cfg);
	set(&cfg, "root", root);
	set(&cfg, "spool", spool);
	set(&cfg, "log_level", "error");
	/* Small enough that inputs reach the 413 paths. */
	set(&cfg, "max_job_size", "4096");
	if (zvmd_config_check(&cfg, &err))
		die("config", err.msg);
	zvmd_log_set_level(ZVMD_LOG_ERROR);
	if (uv_loop_init(&loop))
		die("uv_loop_init", "failed");
	if (zvmd_server_open(&cfg, &loop, false, &srv, &err))
		die("zvmd_server_open", err.msg);
}

static unsigned connections(void)
{
	const union MHD_DaemonInfo *i = MHD_get_daemon_info(
		srv->mhd, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);

	return i ? i->num_connections : 0;
}

/* One loop round: what is ready runs; then wait up to wait_ms for the
 * client end (fd; -1 = none) or the loop to have something. False when
 * nothing came in that time. */
static bool round_run(int fd, int wait_ms)
{
	struct pollfd p[2] = {
		{ .fd = fd, .events = POLLIN },
		{ .fd = uv_backend_fd(&loop), .events = POLLIN },
	};

	uv_run(&loop, UV_RUN_NOWAIT);
	return poll(p, 2, wait_ms) > 0;
}

/* Read and discard what zvmd answered; true once it closed. */
static bool answer_drain(int fd)
{
	char buf[4096];
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0)
		;
	return n == 0 || (errno != EAGAIN && errno != EINTR);
}

/* Piece sizes cycle, so headers and bodies are cut at many places. */
static const size_t pieces[] = { 1, 7, 64, 3, 512, 4096 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sockaddr_in peer = { .sin_family = AF_INET };
	size_t off = 0, k = 0;
	bool shut = false, closed = false, idle = false;
	int sv[2];

	if (!srv)
		server_start();
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
		       sv))
		die("socketpair", strerror(errno));
	peer.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	peer.sin_port = htons(40000);
	/* MHD owns sv[0] from here, even on failure. */
	if (MHD_add_connection(srv->mhd, sv[0], (struct sockaddr *)&peer,
			       sizeof(peer)) != MHD_YES)
		die("MHD_add_connection", strerror(errno));
	zvmd_server_kick(srv);
	for (int r = 0; r < ROUNDS && !closed && !idle; r++) {
		if (off < size) {
			size_t want = pieces[k++ % (sizeof(pieces) /
						    sizeof(pieces[0]))];
			ssize_t n = write(sv[1], data + off,
					  want < size - off ? want : size - off);

			if (n > 0)
				off += (size_t)n;
			else if (n < 0 && errno != EAGAIN)
				off = size; /* zvmd closed: the rest is moot */
		}
		if (off == size && !shut) {
			shutdown(sv[1], SHUT_WR);
			shut = true;
		}
		/* All sent and nothing moves: zvmd waits for the client
		 * (MHD keeps a half-closed keep-alive connection until
		 * client_timeout). */
		idle = !round_run(sv[1], off < size ? 0 : 1) && off == size;
		closed = answer_drain(sv[1]);
	}
	/* A client that stops reading or waiting: zvmd must let go. */
	close(sv[1]);
	for (int r = 0; r < ROUNDS && connections(); r++)
		round_run(-1, 1);
	if (connections())
		die("hang", "zvmd still holds the connection after the client "
		    "closed it");
	return 0;
}
