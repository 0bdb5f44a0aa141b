/* job.c — one job: its instances, their channels, their lifecycle.
 *
 * A planned job is prepared at admission (inputs opened, outputs created
 * as temp files, spool files and pipes made), then runs when the pool has
 * slots for all its instances at once: a reducer must drain its mappers
 * while they run. Each instance's exit is watched on the loop through its
 * pidfd; its mediated calls are answered by a supervisor thread of its own
 * (they may block on a pipe to a peer, so no instance can wait for
 * another's turn), which ends with the program. When the last instance
 * has ended, outputs of the instances that succeeded are committed, the
 * others' removed. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "sandbox.h"

/* SETTLING: the instances have ended, outputs are being PUT (a part job
 * of a cluster worker); the job is DONE once the last PUT has settled. */
enum job_state { JOB_READY, JOB_QUEUED, JOB_RUNNING, JOB_SETTLING, JOB_DONE };

/* An output to an object: a store temp file (o), or, in a part job, a
 * spool file (fd) handed to the job's put hook after success. */
struct out_obj {
	struct zvmd_output *o;
	int fd;
	size_t chan;               /* index in the instance's channels */
};

struct inst {
	struct zvmd_job *job;
	const struct proto_instance *pi;
	bool here;                  /* runs on this node (else: elsewhere) */
	/* A remote instance's report, as its worker's report frame said
	 * (the response's values, ready to print). */
	bool remote_report;
	int r_retcode, r_validation;
	char *r_etag, *r_cdr;
	char *r_note;               /* its validation note, NULL = none */
	long rpart;                 /* its part for remote output, or -1 */
	int prog_fd;
	int *fds;                   /* per channel; -1 once handed over */
	bool *keep;                 /* spool fds stay open for the response */
	/* per channel: the edge to another node it is (part jobs), else
	 * NULL; held while the instance runs */
	struct zvmd_edge_watch **edges;
	struct out_obj *outs;
	size_t nouts;
	struct sandbox *sb;
	uv_poll_t exit_poll;
	/* The supervisor thread answers the mediated calls until the program
	 * is gone, then says so through supervisor_done. */
	pthread_t supervisor;
	uv_async_t supervisor_done;
	int supervisor_err;         /* pthread_create's error, 0 = started */
	bool supervising, exited, ended, polls_open;
	struct sandbox_report report;  /* .channels points at chstats */
	struct sandbox_channel_stats *chstats;
	bool have_report, spawned;
	bool ok;
	char status[600];
	uint64_t t_start, t_end;    /* ns */
	struct zvmd_inst_image img; /* its image root, if any */
};

/* One piece of the response body: an immediate output's spool file. */
struct part {
	int fd;
	size_t inst;
};

struct zvmd_job {
	struct zvmd_server *srv;
	uint64_t id;
	struct proto_plan *plan;
	struct inst *inst;
	size_t ninst, nended;
	size_t nslots;                  /* instances run here (pool slots) */
	bool remote;                    /* every instance runs elsewhere */
	bool part;                      /* some instances run elsewhere */
	/* A part job (cluster worker): outputs leave through put(). */
	zvmd_job_put_fn put;
	void *put_arg;
	size_t puts_pending;
	struct part *parts;
	size_t nparts;
	enum job_state state;
	struct zvmd_job *next;          /* queue or running list */
	zvmd_job_done_cb done;
	void *done_arg;
	uv_timer_t timer;
	uv_poll_t client_poll;
	bool timer_open, client_open, conn_released, cancelled;
	uv_work_t image_work;           /* images unpacked off the loop */
	char *image_cache;              /* copies of the config for it: a */
	uint64_t image_max;             /* reload may change srv->cfg meanwhile */
	uint64_t image_cache_size;
	int fail_status;                /* an image error's or a refusing
					 * worker's status, 0 = none */
	char cancel_why[512];
	/* A part job failed as a whole (an edge was cut): its frames end
	 * with an error frame saying this instead of `done`. */
	char part_error[600];
	int open_handles;
	uint64_t t_start, t_end;
	/* response reading */
	size_t cur_part;
	uint64_t cur_off, cur_base;
	/* streaming */
	struct MHD_Connection *stream_conn;
	struct MHD_Response *stream_resp;
	bool stream_suspended, stream_trailer_sent;
	uv_timer_t stream_timer;
	bool stream_timer_open;
	char *trailer;
	size_t trailer_len, trailer_off;
	char last_byte;
	/* frames (a part job's answer to its coordinator) */
	bool frames;
	char *pend;                     /* formatted, not yet handed to MHD */
	size_t pend_len, pend_off;
	bool frames_reported;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* ------------------------------------------------------------ prepare */

bool zvmd_errno_no_space(int err)
{
	return err == ENOSPC || err == EDQUOT;
}

const char *zvmd_no_space(const struct zvmd_server *srv, bool store,
			  char *buf, size_t cap)
{
	const char *what = store ? "the store" : "the spool";
	const char *dir = store ? srv->cfg.root : srv->cfg.spool;

	if (srv->cluster)
		snprintf(buf, cap, "no space left on %s of node %s (%s)", what,
			 srv->cluster->node_ip, dir);
	else
		snprintf(buf, cap, "no space left on %s (%s)", what, dir);
	return buf;
}

static int spool_file(struct zvmd_server *srv, struct proto_error *err)
{
	int fd = openat(srv->spoolfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC,
			0600);
	char where[PATH_MAX + 128];

	if (fd < 0 && zvmd_errno_no_space(errno))
		return proto_error_set(err, PROTO_EINTERNAL, "%s",
				       zvmd_no_space(srv, false, where,
						     sizeof(where)));
	if (fd < 0)
		return proto_error_set(err, PROTO_EINTERNAL,
				       "spool file in %s: %s", srv->cfg.spool,
				       strerror(errno));
	return fd;
}

/* A container channel reads the listing, one name a line. */
static int listing_file(struct zvmd_server *srv, const char *path,
			struct proto_error *err)
{
	char acct[256];
	const char *slash = strchr(path, '/');
	struct proto_names nm = { 0 };
	int fd;

	if (!slash || (size_t)(slash - path) >= sizeof(acct))
		return proto_error_set(err, PROTO_EBADJOB,
				       "container path '%s' is not acct/cont",
				       path);
	snprintf(acct, sizeof(acct), "%.*s", (int)(slash - path), path);
	if (srv->store->ops->list(srv->store, acct, slash + 1, "", &nm, err))
		return -1;
	fd = spool_file(srv, err);
	for (size_t i = 0; fd >= 0 && i < nm.n; i++)
		if (dprintf(fd, "%s\n", nm.v[i]) < 0) {
			close(fd);
			fd = proto_error_set(err, PROTO_EINTERNAL,
					     "writing listing: %s",
					     strerror(errno));
		}
	proto_strv_free(nm.v, nm.n);
	if (fd >= 0)
		lseek(fd, 0, SEEK_SET);
	return fd;
}

static int add_part(struct zvmd_job *job, int fd, size_t inst)
{
	struct part *p = realloc(job->parts, (job->nparts + 1) * sizeof(*p));

	if (!p)
		return -1;
	job->parts = p;
	p[job->nparts].fd = fd;
	p[job->nparts].inst = inst;
	job->nparts++;
	return 0;
}

static int add_out(struct inst *in, struct zvmd_output *o, int fd,
		   size_t chan)
{
	struct out_obj *v = realloc(in->outs, (in->nouts + 1) * sizeof(*v));

	if (!v)
		return -1;
	in->outs = v;
	v[in->nouts].o = o;
	v[in->nouts].fd = fd;
	v[in->nouts].chan = chan;
	in->nouts++;
	return 0;
}

/* A part job's output: a spool file, which the sandbox writes through a
 * dup and put() reads after the instance succeeded. */
static int spool_output(struct zvmd_job *job, struct inst *in, size_t k,
			struct proto_error *err)
{
	int fd = spool_file(job->srv, err);

	if (fd < 0)
		return -1;
	in->fds[k] = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (in->fds[k] < 0 || add_out(in, NULL, fd, k)) {
		close(fd);
		return proto_error_set(err, PROTO_EINTERNAL, "spool output "
				       "of %s: %s", in->pi->name,
				       strerror(errno));
	}
	return 0;
}

/* A part job's worker opens inputs itself (local .data, proxy GET). */
static int no_source(const struct inst *in, const struct proto_channel *c,
		     struct proto_error *err)
{
	return proto_error_set(err, PROTO_EINTERNAL, "instance %s, device %s: "
			       "the worker gave no source for %s",
			       in->pi->name, c->device, c->path);
}

static int channel_open(struct zvmd_job *job, size_t i, size_t k,
			struct proto_error *err)
{
	struct zvmd_server *srv = job->srv;
	struct inst *in = &job->inst[i];
	const struct proto_channel *c = &in->pi->channels[k];
	struct zvmd_output *o;
	int fd;

	switch (c->kind) {
	case PROTO_CHAN_OBJECT:
		if (job->part && (c->dir & PROTO_WRITE))
			return spool_output(job, in, k, err);
		if (job->part)
			return no_source(in, c, err);
		if (!(c->dir & PROTO_WRITE))
			return srv->store->ops->open_read(srv->store, c->path,
							  &in->fds[k], err);
		if (srv->store->ops->create(srv->store, c->path, &o, err))
			return -1;
		if (add_out(in, o, -1, k)) {
			srv->store->ops->abort(srv->store, o);
			return proto_error_set(err, PROTO_EINTERNAL,
					       "out of memory");
		}
		in->fds[k] = o->fd;
		o->fd = -1; /* the channel fd list owns it now */
		return 0;
	case PROTO_CHAN_CONTAINER:
		if (job->part)
			return no_source(in, c, err);
		fd = listing_file(srv, c->path, err);
		break;
	case PROTO_CHAN_IMMEDIATE:
		fd = spool_file(srv, err);
		if (fd >= 0 && add_part(job, fd, i)) {
			close(fd);
			return proto_error_set(err, PROTO_EINTERNAL,
					       "out of memory");
		}
		in->keep[k] = true;
		break;
	case PROTO_CHAN_EMPTY:
		/* Reads see an empty input; writes (an undeclared stdout or
		 * stderr) are discarded. */
		fd = open("/dev/null", (c->dir & PROTO_WRITE ?
					(c->dir & PROTO_READ ? O_RDWR : O_WRONLY) :
					O_RDONLY) | O_CLOEXEC);
		if (fd < 0)
			return proto_error_set(err, PROTO_EINTERNAL,
					       "/dev/null: %s", strerror(errno));
		break;
	case PROTO_CHAN_PIPE_IN:
	case PROTO_CHAN_PIPE_OUT:
		return 0; /* made by pipes_make() */
	case PROTO_CHAN_IMAGE:
		/* A system image device reads as its archive. */
		if (strchr(c->path, ':'))
			return proto_error_set(err, PROTO_EBADJOB,
					       "instance %s, device %s: a file "
					       "inside a system image (%s) as "
					       "the image is not supported",
					       in->pi->name, c->device, c->path);
		return zvmd_sysimage_open(&srv->cfg, c->path, &in->fds[k], err);
	case PROTO_CHAN_NODE:
	default:
		return proto_error_set(err, PROTO_EBADJOB,
				       "instance %s, device %s: zvm:// node "
				       "channels need a cluster", in->pi->name,
				       c->device);
	}
	if (fd < 0)
		return -1;
	in->fds[k] = fd;
	return 0;
}

/* A part job: every pipe end of an instance run here has its fd. */
static int edges_given(const struct zvmd_job *job, struct proto_error *err)
{
	for (size_t i = 0; job->part && i < job->ninst; i++) {
		const struct inst *in = &job->inst[i];

		for (size_t k = 0; in->here && k < in->pi->nchannels; k++) {
			const struct proto_channel *c = &in->pi->channels[k];

			if ((c->kind == PROTO_CHAN_PIPE_IN ||
			     c->kind == PROTO_CHAN_PIPE_OUT) && in->fds[k] < 0)
				return proto_error_set(err, PROTO_EINTERNAL,
						       "%s: %s is on another "
						       "node and the worker "
						       "gave no edge",
						       in->pi->name,
						       c->alias);
		}
	}
	return 0;
}

/* A pipe per edge of the plan (proto_plan_edges: the pairing cluster
 * workers use too, so a job pairs its pipes the same way everywhere).
 * In a part job only edges within this node are pipes: the worker gives
 * the others as sockets (their fds are set already). */
static int pipes_make(struct zvmd_job *job, struct proto_error *err)
{
	struct proto_edge *e;
	size_t n;

	if (proto_plan_edges(job->plan, &e, &n, err))
		return -1;
	for (size_t i = 0; i < n; i++) {
		struct inst *w = &job->inst[e[i].writer];
		struct inst *r = &job->inst[e[i].reader];
		int p[2];

		if (!w->here || !r->here)
			continue;
		if (pipe2(p, O_CLOEXEC)) {
			free(e);
			return proto_error_set(err, PROTO_EINTERNAL, "pipe: %s",
					       strerror(errno));
		}
		w->fds[e[i].wchan] = p[1];
		r->fds[e[i].rchan] = p[0];
	}
	free(e);
	return edges_given(job, err);
}

/*
 * The sandbox runs programs as nobody, who needs the execute bit. Objects
 * carry no mode (a Swift .data file, a file copied in with 0644): such a
 * program is copied into a sealed memfd, which is executable by anyone.
 */
static int program_executable(int *fd, const char *path,
			      struct proto_error *err)
{
	struct stat sb;
	int mfd;
	off_t off = 0;

	if (fstat(*fd, &sb))
		return proto_error_set(err, PROTO_EINTERNAL, "program %s: %s",
				       path, strerror(errno));
	if (sb.st_mode & S_IXOTH)
		return 0;
	mfd = memfd_create("program", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (mfd < 0)
		return proto_error_set(err, PROTO_EINTERNAL, "memfd: %s",
				       strerror(errno));
	while (off < sb.st_size) {
		ssize_t n = sendfile(mfd, *fd, &off, (size_t)(sb.st_size - off));

		if (n <= 0) {
			close(mfd);
			return proto_error_set(err, PROTO_EINTERNAL,
					       "copying program %s: %s", path,
					       n < 0 ? strerror(errno) :
					       "file shrank");
		}
	}
	fcntl(mfd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK |
	      F_SEAL_SEAL);
	close(*fd);
	*fd = mfd;
	return 0;
}

static int program_open(struct zvmd_job *job, struct inst *in,
			struct proto_error *err)
{
	struct zvmd_store *st = job->srv->store;

	if (in->pi->exec_kind != PROTO_EXEC_OBJECT)
		return 0; /* opened in its image by images_work() */
	if (st->ops->open_read(st, in->pi->exec_path, &in->prog_fd, err)) {
		if (err->kind == PROTO_ENOTFOUND)
			proto_error_set(err, PROTO_ENOTFOUND,
					"program swift://%s (instance %s) not "
					"found", in->pi->exec_path,
					in->pi->name);
		return -1;
	}
	return program_executable(&in->prog_fd, in->pi->exec_path, err);
}

static void inst_close_fds(struct inst *in, bool keep_spool)
{
	for (size_t k = 0; in->fds && k < in->pi->nchannels; k++) {
		if (in->fds[k] >= 0 && !(keep_spool && in->keep[k])) {
			close(in->fds[k]);
			in->fds[k] = -1;
		}
	}
	if (in->prog_fd >= 0)
		close(in->prog_fd);
	in->prog_fd = -1;
}

static void out_drop(struct zvmd_store *st, struct out_obj *out)
{
	if (out->o)
		st->ops->abort(st, out->o);
	if (out->fd >= 0)
		close(out->fd);
}

static void inst_edges_end(struct inst *in);

struct trim_work {
	uv_work_t work;
	struct zvmd_server *srv;
	uint64_t max_bytes;
};

static void on_trim(uv_work_t *w)
{
	struct trim_work *t = w->data;

	zvmd_image_cache_trim(&t->srv->images, t->max_bytes);
}

static void on_trim_done(uv_work_t *w, int status)
{
	(void)status;
	free(w->data);
}

/* Trees a job released may be what keeps the cache over its bound:
 * trim it now (off the loop) rather than at the next image job. */
static void images_released(struct zvmd_server *srv)
{
	uint64_t max = srv->cfg.image_cache_size, bytes, evictions;
	struct trim_work *t;

	zvmd_image_cache_stats(&srv->images, &bytes, &evictions);
	if (!max || bytes <= max || !(t = calloc(1, sizeof(*t))))
		return;
	t->srv = srv;
	t->max_bytes = max;
	t->work.data = t;
	if (uv_queue_work(srv->loop, &t->work, on_trim, on_trim_done))
		free(t);
}

static void job_free(struct zvmd_job *job)
{
	struct zvmd_server *srv = job->srv;
	bool released = false;

	for (size_t i = 0; i < job->ninst; i++) {
		struct inst *in = &job->inst[i];

		inst_close_fds(in, false);
		inst_edges_end(in);
		for (size_t o = 0; o < in->nouts; o++)
			out_drop(srv->store, &in->outs[o]);
		if (in->sb)
			sandbox_free(in->sb);
		if (in->rpart >= 0)
			close(job->parts[in->rpart].fd);
		if (in->img.held) { /* its sandbox is gone */
			zvmd_image_cache_release(&srv->images,
						 in->img.root_dir);
			released = true;
		}
		zvmd_image_clear(&in->img);
		free(in->fds);
		free(in->keep);
		free(in->edges);
		free(in->chstats);
		free(in->outs);
		free(in->r_etag);
		free(in->r_cdr);
		free(in->r_note);
	}
	free(job->inst);
	free(job->parts); /* the fds are the instances' (spool or rpart) */
	free(job->trailer);
	free(job->pend);
	proto_plan_free(job->plan);
	free(job);
	srv->live_jobs--;
	if (released)
		images_released(srv);
	zvmd_server_job_gone(srv);
}

/* The job and its instances, nothing opened yet. The plan becomes the
 * job's only on success. */
static struct zvmd_job *job_alloc(struct zvmd_server *srv,
				  struct proto_plan *plan, uint64_t id,
				  zvmd_job_done_cb done, void *arg,
				  struct proto_error *err)
{
	struct zvmd_job *job = calloc(1, sizeof(*job));

	if (!job) {
		proto_error_set(err, PROTO_EINTERNAL, "out of memory");
		return NULL;
	}
	job->srv = srv;
	job->id = id;
	job->plan = plan;
	job->done = done;
	job->done_arg = arg;
	job->ninst = plan->ninst;
	job->nslots = plan->ninst;
	job->t_start = now_ns();
	srv->live_jobs++;
	job->inst = calloc(plan->ninst, sizeof(*job->inst));
	if (!job->inst)
		goto oom;
	/* Every fd field before any allocation can fail: job_free closes
	 * what is >= 0 in all instances. */
	for (size_t i = 0; i < plan->ninst; i++) {
		job->inst[i].prog_fd = -1;
		job->inst[i].rpart = -1;
		job->inst[i].img.tar_fd = job->inst[i].img.prog_fd = -1;
	}
	for (size_t i = 0; i < plan->ninst; i++) {
		struct inst *in = &job->inst[i];

		in->job = job;
		in->pi = &plan->inst[i];
		in->here = true;
		in->fds = malloc((in->pi->nchannels + 1) * sizeof(int));
		in->keep = calloc(in->pi->nchannels + 1, sizeof(bool));
		if (!in->fds || !in->keep)
			goto oom;
		for (size_t k = 0; k < in->pi->nchannels; k++)
			in->fds[k] = -1;
	}
	return job;
oom:
	proto_error_set(err, PROTO_EINTERNAL, "out of memory");
	job->plan = NULL;
	job_free(job);
	return NULL;
}

/* Open what the instances run here need (their program and channels
 * unless already given) and make the pipes between them. */
static int job_open(struct zvmd_job *job, struct proto_error *err)
{
	for (size_t i = 0; i < job->ninst; i++) {
		struct inst *in = &job->inst[i];

		if (!in->here)
			continue;
		if (in->prog_fd >= 0 ?
		    program_executable(&in->prog_fd, in->pi->exec_path, err) :
		    program_open(job, in, err))
			return -1;
		for (size_t k = 0; k < in->pi->nchannels; k++)
			if (in->fds[k] < 0 && channel_open(job, i, k, err))
				return -1;
		if (zvmd_image_source(&job->srv->cfg, in->pi, in->fds,
				      &in->img, err))
			return -1;
	}
	return pipes_make(job, err);
}

int zvmd_job_create(struct zvmd_server *srv, struct proto_plan *plan,
		    uint64_t id, zvmd_job_done_cb done, void *arg,
		    struct zvmd_job **out, struct proto_error *err)
{
	struct zvmd_job *job = job_alloc(srv, plan, id, done, arg, err);

	if (!job) {
		proto_plan_free(plan);
		return -1;
	}
	if (job_open(job, err)) {
		job_free(job);
		return -1;
	}
	*out = job;
	return 0;
}

static void part_close_fds(const struct proto_plan *plan,
			   const struct zvmd_job_part *part)
{
	for (size_t i = 0; i < plan->ninst; i++) {
		if (part->prog_fds && part->prog_fds[i] >= 0) {
			close(part->prog_fds[i]);
			part->prog_fds[i] = -1;
		}
		for (size_t k = 0; part->fds && part->fds[i] &&
		     k < plan->inst[i].nchannels; k++)
			if (part->fds[i][k] >= 0) {
				close(part->fds[i][k]);
				part->fds[i][k] = -1;
			}
	}
}

/* Take the worker's fds into the job (every one, also on failure). */
static void part_take_fds(struct zvmd_job *job,
			  const struct zvmd_job_part *part)
{
	for (size_t i = 0; i < job->ninst; i++) {
		struct inst *in = &job->inst[i];

		if (part->prog_fds) {
			in->prog_fd = part->prog_fds[i];
			part->prog_fds[i] = -1;
		}
		for (size_t k = 0; part->fds && part->fds[i] &&
		     k < in->pi->nchannels; k++) {
			in->fds[k] = part->fds[i][k];
			part->fds[i][k] = -1;
		}
	}
}

int zvmd_job_create_part(struct zvmd_server *srv, struct proto_plan *plan,
			 uint64_t id, const struct zvmd_job_part *part,
			 zvmd_job_done_cb done, void *arg,
			 struct zvmd_job **out, struct proto_error *err)
{
	struct zvmd_job *job = job_alloc(srv, plan, id, done, arg, err);

	if (!job) {
		part_close_fds(plan, part);
		proto_plan_free(plan);
		return -1;
	}
	part_take_fds(job, part);
	job->part = true;
	job->frames = true;
	job->put = part->put;
	job->put_arg = part->put_arg;
	job->nslots = 0;
	for (size_t i = 0; i < job->ninst; i++) {
		struct inst *in = &job->inst[i];

		in->here = part->here[i];
		if (in->here) {
			job->nslots++;
			continue;
		}
		in->ended = true;
		job->nended++;
		in->ok = true; /* its worker judges it */
	}
	if (job_open(job, err)) {
		job_free(job);
		return -1;
	}
	*out = job;
	return 0;
}

/* A remote job's response part for instance i (its immediate output). */
static int remote_part(struct zvmd_job *job, size_t i, struct proto_error *err)
{
	const struct proto_instance *pi = &job->plan->inst[i];
	int fd;

	for (size_t k = 0; k < pi->nchannels; k++) {
		if (pi->channels[k].kind != PROTO_CHAN_IMMEDIATE)
			continue;
		fd = spool_file(job->srv, err);
		if (fd < 0)
			return -1;
		if (add_part(job, fd, i)) {
			close(fd);
			return proto_error_set(err, PROTO_EINTERNAL,
					       "out of memory");
		}
		job->inst[i].rpart = (long)job->nparts - 1;
		return 0;
	}
	return 0;
}

int zvmd_job_create_remote(struct zvmd_server *srv, struct proto_plan *plan,
			   uint64_t id, zvmd_job_done_cb done, void *arg,
			   struct zvmd_job **out, struct proto_error *err)
{
	struct zvmd_job *job = job_alloc(srv, plan, id, done, arg, err);

	if (!job) {
		proto_plan_free(plan);
		return -1;
	}
	job->remote = true;
	job->nslots = 0;
	for (size_t i = 0; i < job->ninst; i++) {
		job->inst[i].here = false;
		if (remote_part(job, i, err)) {
			job_free(job);
			return -1;
		}
	}
	*out = job;
	return 0;
}

/* -------------------------------------------------------------- run */

static void handle_closed(uv_handle_t *h)
{
	struct zvmd_job *job = h->data;

	if (--job->open_handles == 0 && job->state == JOB_DONE &&
	    job->conn_released)
		job_free(job);
}

static void job_close_handle(struct zvmd_job *job, uv_handle_t *h)
{
	h->data = job;
	job->open_handles++;
	uv_close(h, handle_closed);
}

static void stream_wake(struct zvmd_job *job);

static const char *end_text(enum sandbox_end end)
{
	switch (end) {
	case SANDBOX_END_EXIT: return "exit";
	case SANDBOX_END_SIGNAL: return "signal";
	case SANDBOX_END_TIMEOUT: return "timeout";
	case SANDBOX_END_KILLED: return "killed";
	case SANDBOX_END_ERROR: return "error";
	}
	return "error";
}

/* A write to one of the instance's files failed for want of space:
 * its output is cut short, whatever the program made of the error. */
static bool inst_no_space(struct inst *in)
{
	const struct sandbox_report *r = &in->report;
	char where[PATH_MAX + 128];

	for (size_t k = 0; k < r->nchannels && k < in->pi->nchannels; k++) {
		const struct proto_channel *c = &in->pi->channels[k];
		/* One machine writes output objects into the store; a
		 * worker and immediate outputs, into the spool. */
		bool store = c->kind == PROTO_CHAN_OBJECT && !in->job->part;

		if (!zvmd_errno_no_space(r->channels[k].write_errno))
			continue;
		snprintf(in->status, sizeof(in->status), "%s: writing %s "
			 "failed after %llu bytes",
			 zvmd_no_space(in->job->srv, store, where,
				       sizeof(where)), c->alias,
			 (unsigned long long)r->channels[k].wbytes);
		in->ok = false;
		return true;
	}
	return false;
}

/* Decide ok/status from the report. */
static void inst_judge(struct inst *in)
{
	const struct sandbox_report *r = &in->report;

	in->ok = r->end == SANDBOX_END_EXIT && r->exit_code == 0;
	snprintf(in->status, sizeof(in->status), "%s",
		 r->message[0] ? r->message : end_text(r->end));
	if (r->end == SANDBOX_END_KILLED && in->job->cancel_why[0])
		snprintf(in->status, sizeof(in->status), "killed: %s",
			 in->job->cancel_why);
	if (inst_no_space(in))
		return;
	for (size_t k = 0; k < r->nchannels && k < in->pi->nchannels; k++) {
		if (!r->channels[k].limit_hit)
			continue;
		in->ok = false;
		snprintf(in->status, sizeof(in->status),
			 "limit reached on %s (max_output %llu bytes)",
			 in->pi->channels[k].alias,
			 (unsigned long long)in->job->srv->cfg.max_output);
		break;
	}
}

static void job_finish(struct zvmd_job *job);

/* Reap, judge, and free the sandbox at once: it holds the pipe ends,
 * and a reader sees the end of its input only when they close. */
static void inst_reap(struct inst *in)
{
	size_t n;

	if (sandbox_wait(in->sb, &in->report)) {
		snprintf(in->status, sizeof(in->status),
			 "the sandbox could not report");
		return;
	}
	n = in->report.nchannels;
	in->chstats = calloc(n ? n : 1, sizeof(*in->chstats));
	if (in->chstats && n)
		memcpy(in->chstats, in->report.channels, n * sizeof(*in->chstats));
	in->report.channels = in->chstats;
	in->report.nchannels = in->chstats ? n : 0;
	in->have_report = true;
	inst_judge(in);
}

static void inst_end(struct inst *in)
{
	struct zvmd_job *job = in->job;

	if (in->ended)
		return;
	in->ended = true;
	in->t_end = now_ns();
	if (in->sb)
		inst_reap(in);
	if (in->supervisor_err) {
		in->ok = false;
		snprintf(in->status, sizeof(in->status),
			 "ZeroVM did not run: no thread for its supervisor: %s",
			 strerror(in->supervisor_err));
	}
	if (in->polls_open) {
		/* uv_close unregisters the fd now, before sandbox_free
		 * closes it. */
		job_close_handle(job, (uv_handle_t *)&in->exit_poll);
		if (sandbox_notify_fd(in->sb) >= 0 && !in->supervisor_err)
			job_close_handle(job,
					 (uv_handle_t *)&in->supervisor_done);
		in->polls_open = false;
	}
	if (in->sb) {
		sandbox_free(in->sb);
		in->sb = NULL;
	}
	/* After the sandbox's copies are closed: ours is the last, and it
	 * ends the writer's stream (or resets it when the writer failed). */
	inst_edges_end(in);
	if (!in->ok)
		job->srv->metrics.instance_failures++;
	if (in->have_report) {
		job->srv->metrics.bytes_in += in->report.rbytes;
		job->srv->metrics.bytes_out += in->report.wbytes;
	}
	stream_wake(job);
	if (++job->nended == job->ninst)
		job_finish(job);
}

/* The supervisor thread: answer the program's mediated calls until it is
 * gone (a call waiting on a pipe returns when it is killed), then tell the
 * loop. A thread per running instance, not a shared pool: a call may wait
 * on a peer that needs its own call answered, and the thread's stack, its
 * small-block malloc cache and OpenSSL's per-thread state go back with it
 * (a pool of max_instances threads took turns and kept them all). */
static void *supervise(void *arg)
{
	struct inst *in = arg;
	struct pollfd pf[2] = {{.fd = sandbox_pidfd(in->sb), .events = POLLIN},
			       {.fd = sandbox_notify_fd(in->sb),
				.events = POLLIN}};

	for (;;) {
		int r = poll(pf, 2, -1);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 || pf[0].revents)
			break;
		if ((pf[1].revents & POLLIN) && sandbox_service(in->sb) < 0) {
			/* Unanswered, its calls would wait forever. */
			sandbox_kill(in->sb, SANDBOX_END_ERROR);
			pf[1].fd = -1;
		} else if (pf[1].revents & (POLLHUP | POLLERR)) {
			pf[1].fd = -1; /* exiting: the pidfd comes next */
		}
	}
	uv_async_send(&in->supervisor_done);
	return NULL;
}

static void on_supervisor_done(uv_async_t *h)
{
	struct inst *in = h->data;

	pthread_join(in->supervisor, NULL);
	in->supervising = false;
	if (in->exited)
		inst_end(in);
}

/* Supervisors need little stack (the deepest call is under 100 KiB, more
 * under ASan); glibc keeps 40 MiB of stacks for reuse: 40 of these. */
#define SUPERVISOR_STACK (1u << 20)

static void inst_supervise(struct inst *in)
{
	pthread_attr_t attr;

	uv_async_init(in->job->srv->loop, &in->supervisor_done,
		      on_supervisor_done);
	in->supervisor_done.data = in;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, SUPERVISOR_STACK);
	in->supervisor_err = pthread_create(&in->supervisor, &attr,
					    supervise, in);
	pthread_attr_destroy(&attr);
	if (!in->supervisor_err) {
		in->supervising = true;
		return;
	}
	/* The program would wait for answers forever. */
	job_close_handle(in->job, (uv_handle_t *)&in->supervisor_done);
	sandbox_kill(in->sb, SANDBOX_END_ERROR);
}

static void on_inst_exit(uv_poll_t *h, int status, int events)
{
	struct inst *in = h->data;

	(void)status;
	(void)events;
	uv_poll_stop(h);
	in->exited = true;
	if (!in->supervising)
		inst_end(in);
}

static void job_kill_all(struct zvmd_job *job, enum sandbox_end why)
{
	for (size_t i = 0; i < job->ninst; i++)
		if (job->inst[i].sb && !job->inst[i].ended)
			sandbox_kill(job->inst[i].sb, why);
}

static void on_timeout(uv_timer_t *t)
{
	struct zvmd_job *job = t->data;

	job_kill_all(job, SANDBOX_END_TIMEOUT);
}

/* ------------------------------------------------------------ remote */

static void clean(char *s);
static void clean_controls(char *s);

/* How long past job_timeout a coordinator waits for a silent worker. */
#define REMOTE_GRACE_MS 10000

static void remote_end(struct inst *in, const char *why)
{
	struct zvmd_job *job = in->job;

	in->ended = true;
	in->ok = false;
	snprintf(in->status, sizeof(in->status), "%s", why);
	job->nended++;
}

void zvmd_job_remote_fail(struct zvmd_job *job, const char *why)
{
	if (job->state == JOB_SETTLING || job->state == JOB_DONE)
		return;
	for (size_t i = 0; i < job->ninst; i++)
		if (!job->inst[i].ended)
			remote_end(&job->inst[i], why);
	stream_wake(job);
	if (job->state == JOB_RUNNING)
		job_finish(job);
}

void zvmd_job_remote_refuse(struct zvmd_job *job, int status,
			    const char *why)
{
	if (job->state == JOB_SETTLING || job->state == JOB_DONE)
		return;
	job->fail_status = status;
	zvmd_job_remote_fail(job, why);
}

static void on_remote_timeout(uv_timer_t *t)
{
	struct zvmd_job *job = t->data;
	char why[sizeof(job->cancel_why) + 16];

	if (job->cancel_why[0])
		snprintf(why, sizeof(why), "killed: %s", job->cancel_why);
	else
		snprintf(why, sizeof(why), "no report from its worker within "
			 "job_timeout (%u s)", job->srv->cfg.job_timeout);
	zvmd_job_remote_fail(job, why);
}

int zvmd_job_remote_output(struct zvmd_job *job, size_t inst,
			   const void *buf, size_t len,
			   struct proto_error *err)
{
	const char *p = buf;
	struct inst *in;
	char where[PATH_MAX + 128];
	int fd;

	if (inst >= job->ninst)
		return proto_error_set(err, PROTO_EINTERNAL, "output of "
				       "instance %zu: the job has %zu", inst,
				       job->ninst);
	in = &job->inst[inst];
	if (in->rpart < 0 || in->ended)
		return proto_error_set(err, PROTO_EINTERNAL, "output of %s: %s",
				       in->pi->name, in->ended ?
				       "it has ended already" :
				       "it has no immediate output");
	fd = job->parts[in->rpart].fd;
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && zvmd_errno_no_space(errno))
			return proto_error_set(err, PROTO_EINTERNAL, "%s: "
					       "spooling the output of %s",
					       zvmd_no_space(job->srv, false,
							     where,
							     sizeof(where)),
					       in->pi->name);
		if (n < 0)
			return proto_error_set(err, PROTO_EINTERNAL, "spooling "
					       "output of %s: %s", in->pi->name,
					       strerror(errno));
		p += n;
		len -= (size_t)n;
	}
	stream_wake(job);
	return 0;
}

void zvmd_job_remote_report(struct zvmd_job *job, const struct proto_frame *f)
{
	struct inst *in;

	if (f->inst >= job->ninst || job->inst[f->inst].ended ||
	    job->state == JOB_SETTLING || job->state == JOB_DONE)
		return;
	in = &job->inst[f->inst];
	in->ended = true;
	in->remote_report = true;
	in->r_retcode = f->retcode;
	in->r_validation = f->validation;
	if (f->validation_note && *f->validation_note &&
	    (in->r_note = strdup(f->validation_note)))
		clean(in->r_note);
	in->r_etag = strdup(f->etag ? f->etag : "disabled");
	in->r_cdr = strdup(f->cdr ? f->cdr : "0.000, 0 0 0 0 0 0 0 0 0 0");
	snprintf(in->status, sizeof(in->status), "%s",
		 f->status ? f->status : "error");
	if (in->r_etag)
		clean(in->r_etag);
	if (in->r_cdr)
		clean_controls(in->r_cdr);
	/* The worker's judgement, as inst_judge() made it there: "ok" is
	 * said only of a clean exit 0 whose outputs were committed. */
	in->ok = !strcmp(in->status, "ok") && f->retcode == 0 &&
		 in->r_etag && in->r_cdr;
	if (!in->ok)
		job->srv->metrics.instance_failures++;
	stream_wake(job);
	if (++job->nended == job->ninst && job->state == JOB_RUNNING)
		job_finish(job);
}

/* ------------------------------------------------------------- edges */

/* An edge of a part job was cut: the task fails as a whole (its
 * coordinator then fails the job and stops the other nodes' tasks). */
static void on_edge_cut(void *arg, const char *why)
{
	struct inst *in = arg;
	struct zvmd_job *job = in->job;

	zvmd_log(ZVMD_LOG_WARNING, "msg=\"edge cut\" job=%llu inst=%s "
		 "error=\"%s\"", (unsigned long long)job->id, in->pi->name,
		 why);
	if (!job->part_error[0])
		snprintf(job->part_error, sizeof(job->part_error), "%s", why);
	zvmd_job_cancel(job, why);
}

/* Hold the instance's edges to other nodes (see edge.c, "a running
 * edge") while it runs. */
static int inst_edges_watch(struct zvmd_job *job, struct inst *in)
{
	const struct proto_instance *pi = in->pi;
	struct proto_error err;

	if (!job->part)
		return 0;
	for (size_t k = 0; k < pi->nchannels; k++) {
		const struct proto_channel *c = &pi->channels[k];
		bool reader = c->kind == PROTO_CHAN_PIPE_IN;
		const struct inst *peer;
		const struct proto_instance *w, *r;  /* writer, reader */
		char name[ZVMD_EDGE_WHAT_MAX];

		if ((!reader && c->kind != PROTO_CHAN_PIPE_OUT) ||
		    in->fds[k] < 0 || c->peer >= job->ninst ||
		    (peer = &job->inst[c->peer])->here)
			continue;
		if (!in->edges &&
		    !(in->edges = calloc(pi->nchannels, sizeof(*in->edges)))) {
			snprintf(in->status, sizeof(in->status), "out of memory");
			return -1;
		}
		w = reader ? peer->pi : pi;
		r = reader ? pi : peer->pi;
		snprintf(name, sizeof(name), "%s %s -> %s %s", w->name,
			 w->channels[reader ? c->peer_chan : k].alias, r->name,
			 r->channels[reader ? k : c->peer_chan].alias);
		if (zvmd_edge_watch_start(job->srv->loop, in->fds[k], reader,
					  name, on_edge_cut, in, &in->edges[k],
					  &err)) {
			snprintf(in->status, sizeof(in->status),
				 "ZeroVM did not run: %s", err.msg);
			return -1;
		}
	}
	return 0;
}

static void inst_edges_end(struct inst *in)
{
	for (size_t k = 0; in->edges && k < in->pi->nchannels; k++) {
		zvmd_edge_watch_end(in->edges[k], in->ok);
		in->edges[k] = NULL;
	}
}

/* ------------------------------------------------------------- spawn */

static int inst_spawn(struct zvmd_job *job, struct inst *in)
{
	const struct proto_instance *pi = in->pi;
	const struct zvmd_config *cfg = &job->srv->cfg;
	struct sandbox_channel *ch = calloc(pi->nchannels + 1, sizeof(*ch));
	const char **argv = calloc(pi->argc + 1, sizeof(char *));
	const char **envp = calloc(pi->nenv + 1, sizeof(char *));
	struct sandbox_spec spec = { 0 };
	struct sandbox_error e = { { 0 } };
	int rc = -1;

	if (!ch || !argv || !envp) {
		snprintf(in->status, sizeof(in->status), "out of memory");
		goto out;
	}
	for (size_t a = 0; a < pi->argc; a++)
		argv[a] = pi->argv[a];
	for (size_t a = 0; a < pi->nenv; a++)
		envp[a] = pi->env[a];
	for (size_t k = 0; k < pi->nchannels; k++) {
		const struct proto_channel *c = &pi->channels[k];
		int64_t U = SANDBOX_UNBOUNDED;
		bool out = c->kind == PROTO_CHAN_IMMEDIATE ||
			   c->kind == PROTO_CHAN_OBJECT;

		ch[k].alias = c->alias;
		ch[k].fd = in->fds[k];
		ch[k].type = (enum sandbox_access)c->type;
		ch[k].network = c->kind == PROTO_CHAN_PIPE_IN ||
				c->kind == PROTO_CHAN_PIPE_OUT;
		if (c->dir & PROTO_READ) {
			ch[k].gets = c->gets > 0 && c->gets < U ? c->gets : U;
			ch[k].get_size = c->get_size > 0 && c->get_size < U ?
					 c->get_size : U;
		}
		if (c->dir & PROTO_WRITE) {
			int64_t lim = c->put_size > 0 && c->put_size < U ?
				      c->put_size : U;

			if (out && cfg->max_output < (uint64_t)lim)
				lim = (int64_t)cfg->max_output;
			ch[k].puts = c->puts > 0 && c->puts < U ? c->puts : U;
			ch[k].put_size = lim;
			ch[k].etag = c->kind == PROTO_CHAN_OBJECT;
		}
	}
	spec.prog_fd = in->prog_fd;
	spec.root_dir = in->img.root_dir;
	spec.tmp_size = in->img.root_dir ? cfg->tmp_size : 0;
	spec.argv = argv;
	spec.envp = envp;
	spec.channels = ch;
	spec.nchannels = pi->nchannels;
	spec.memory = cfg->instance_memory;
	spec.timeout_ms = (uint64_t)cfg->instance_timeout * 1000;
	/* Seeded by the instance's name: reruns of a job repeat, while
	 * map-1 and map-2 still draw different random streams. */
	spec.deterministic = pi->deterministic;
	/* The sandbox keeps such a run on one CPU: cpuid's APIC ID would
	 * otherwise land in glibc's memory (sandbox/README.md). */
	spec.memory_etag = pi->memory_etag;
	spec.seed = (const unsigned char *)pi->name;
	spec.seed_len = strlen(pi->name);
	/* Spawns happen on the loop thread only, so at most one child is
	 * parked; a draining daemon spawns no more and parks nothing. */
	spec.prewarm = cfg->prewarm && !job->srv->draining;
	in->t_start = now_ns();
	if (sandbox_spawn(&spec, &in->sb, &e)) {
		in->sb = NULL;
		snprintf(in->status, sizeof(in->status),
			 "ZeroVM did not run: %s", e.msg);
		goto out;
	}
	zvmd_metrics_spawn(&job->srv->metrics,
			   (double)(now_ns() - in->t_start) / 1e9);
	in->spawned = true;
	rc = 0;
out:
	free(ch);
	free(argv);
	free(envp);
	return rc;
}

static void inst_watch(struct zvmd_job *job, struct inst *in)
{
	uv_loop_t *loop = job->srv->loop;

	uv_poll_init(loop, &in->exit_poll, sandbox_pidfd(in->sb));
	in->exit_poll.data = in;
	uv_poll_start(&in->exit_poll, UV_READABLE, on_inst_exit);
	if (sandbox_notify_fd(in->sb) >= 0)
		inst_supervise(in);
	in->polls_open = true;
}

static void job_run(struct zvmd_job *job)
{
	struct zvmd_server *srv = job->srv;
	const struct zvmd_config *cfg = &srv->cfg;
	unsigned secs = cfg->instance_timeout < cfg->job_timeout ?
			cfg->instance_timeout : cfg->job_timeout;
	bool failed = false;

	job->state = JOB_RUNNING;
	srv->slots_used += (unsigned)job->nslots;
	srv->running_jobs++;
	job->next = srv->running;
	srv->running = job;
	uv_timer_init(srv->loop, &job->timer);
	job->timer.data = job;
	job->timer_open = true;
	if (job->remote) {
		/* Workers time their instances out themselves: this only
		 * catches a worker that never answers. */
		uv_timer_start(&job->timer, on_remote_timeout,
			       (uint64_t)cfg->job_timeout * 1000 +
			       REMOTE_GRACE_MS, 0);
		if (job->nended == job->ninst)
			job_finish(job);
		return;
	}
	uv_timer_start(&job->timer, on_timeout, (uint64_t)secs * 1000, 0);
	for (size_t i = 0; i < job->ninst && !failed; i++) {
		if (!job->inst[i].here)
			continue;
		if (inst_edges_watch(job, &job->inst[i]) ||
		    inst_spawn(job, &job->inst[i]))
			failed = true;
		else
			srv->metrics.instances++;
	}
	/* The sandboxes hold their own copies: close ours, or a reader
	 * would never see the end of a pipe. */
	for (size_t i = 0; i < job->ninst; i++)
		inst_close_fds(&job->inst[i], true);
	if (failed)
		job_kill_all(job, SANDBOX_END_KILLED);
	for (size_t i = 0; i < job->ninst; i++) {
		struct inst *in = &job->inst[i];

		if (in->sb)
			inst_watch(job, in);
	}
	for (size_t i = 0; i < job->ninst; i++)
		if (!job->inst[i].sb)
			inst_end(&job->inst[i]);
	if (job->nended == job->ninst && job->state == JOB_RUNNING)
		job_finish(job);
}

static bool slots_free(const struct zvmd_server *srv, size_t n)
{
	return srv->slots_used == 0 ||
	       srv->slots_used + n <= srv->cfg.pool_size;
}

bool zvmd_jobs_can_start(const struct zvmd_server *srv, size_t n)
{
	return !srv->queue_head && slots_free(srv, n);
}

enum zvmd_admit zvmd_jobs_admit(const struct zvmd_server *srv, size_t n)
{
	unsigned used = srv->slots_used + srv->reserved_slots;

	if (!srv->queue_head && !srv->reserved_queue &&
	    (used == 0 || used + n <= srv->cfg.pool_size))
		return ZVMD_ADMIT_RUN;
	if (srv->queue_depth + srv->reserved_queue < srv->cfg.queue_length)
		return ZVMD_ADMIT_QUEUE;
	return ZVMD_ADMIT_FULL;
}

void zvmd_jobs_schedule(struct zvmd_server *srv)
{
	/* Draining: queued jobs are being answered 503, not started. */
	if (srv->draining)
		return;
	while (srv->queue_head && slots_free(srv, srv->queue_head->nslots)) {
		struct zvmd_job *job = srv->queue_head;

		srv->queue_head = job->next;
		if (!srv->queue_head)
			srv->queue_tail = NULL;
		srv->queue_depth--;
		job->next = NULL;
		job_run(job);
	}
}

/* Run now if slots are free, else queue (images are ready). */
static void job_submit_ready(struct zvmd_job *job)
{
	struct zvmd_server *srv = job->srv;

	if (zvmd_jobs_can_start(srv, job->nslots)) {
		job_run(job);
		return;
	}
	job->state = JOB_QUEUED;
	if (srv->queue_tail)
		srv->queue_tail->next = job;
	else
		srv->queue_head = job;
	srv->queue_tail = job;
	srv->queue_depth++;
}

/* ------------------------------------------------------------ images */

/* An instance's tree, resolved and held in the server's cache until the
 * job is freed. A tree evicted between its open and the hold is opened
 * (extracted) again; three times in a row means the cache is far too
 * small for the images in use. */
static void image_take(struct zvmd_job *job, struct zvmd_inst_image *im)
{
	struct proto_error err = { 0 };
	bool extracted = false;
	int rc = 1;

	for (int tries = 0; rc == 1 && tries < 3; tries++) {
		zvmd_image_clear_root(im);
		zvmd_image_resolve(job->image_cache, job->image_max, im);
		extracted |= im->extracted;
		if (im->error[0])
			return;
		rc = zvmd_image_cache_hold(&job->srv->images, im->root_dir,
					   &err);
	}
	im->extracted = extracted;
	im->held = rc == 0;
	if (rc == 0)
		return;
	im->kind = PROTO_EINTERNAL;
	snprintf(im->error, sizeof(im->error), "image %s: %.160s", im->label,
		 rc < 0 ? err.msg : "evicted from the image cache again and "
		 "again while opened (image_cache_size is too small)");
}

/* On a pool thread: the loop touches no instance until images_done. */
static void images_work(uv_work_t *w)
{
	struct zvmd_job *job = w->data;

	for (size_t i = 0; i < job->ninst; i++) {
		struct zvmd_inst_image *im = &job->inst[i].img;

		if (im->tar_fd < 0)
			continue;
		image_take(job, im);
		if (im->error[0])
			return;
	}
	zvmd_image_cache_trim(&job->srv->images, job->image_cache_size);
}

static void images_settle(struct zvmd_job *job);

static void images_done(uv_work_t *w, int status)
{
	struct zvmd_job *job = w->data;

	(void)status;
	job->open_handles--;
	free(job->image_cache);
	job->image_cache = NULL;
	/* Counted even for a job cancelled meanwhile: the tree stays. */
	for (size_t i = 0; i < job->ninst; i++) {
		const struct zvmd_inst_image *im = &job->inst[i].img;

		if (!im->extracted)
			continue;
		job->srv->metrics.image_extractions++;
		zvmd_log(ZVMD_LOG_INFO, "msg=\"image extracted\" job=%llu "
			 "image=%s root=%s", (unsigned long long)job->id,
			 im->label, im->root_dir);
	}
	if (job->state == JOB_DONE) { /* cancelled meanwhile */
		if (job->conn_released && job->open_handles == 0)
			job_free(job);
		return;
	}
	images_settle(job);
}

/* Take the resolved images' programs; run, or fail every instance with
 * the first image error. */
static void images_settle(struct zvmd_job *job)
{
	const struct zvmd_inst_image *bad = NULL;

	for (size_t i = 0; i < job->ninst; i++) {
		struct inst *in = &job->inst[i];

		if (in->img.error[0] && !bad)
			bad = &in->img;
		if (in->img.prog_fd >= 0) {
			in->prog_fd = in->img.prog_fd;
			in->img.prog_fd = -1;
		}
	}
	if (!bad) {
		job_submit_ready(job);
		return;
	}
	job->fail_status = proto_error_status(bad->kind);
	for (size_t i = 0; i < job->ninst; i++) {
		job->inst[i].ended = true;
		snprintf(job->inst[i].status, sizeof(job->inst[i].status),
			 "ZeroVM did not run: %s", bad->error);
	}
	job->nended = job->ninst;
	job_finish(job);
}

/* Instances in images run once their trees are unpacked (or found in the
 * cache): that reads and writes disk, so it happens on the work queue. */
void zvmd_job_submit(struct zvmd_job *job)
{
	const struct zvmd_config *cfg = &job->srv->cfg;

	for (size_t i = 0; i < job->ninst; i++) {
		if (job->inst[i].img.tar_fd < 0)
			continue;
		if (cfg->image_cache[0])
			job->image_cache = strdup(cfg->image_cache);
		else if (asprintf(&job->image_cache, "%s/images", cfg->spool) < 0)
			job->image_cache = NULL;
		job->image_max = cfg->image_max_size;
		job->image_cache_size = cfg->image_cache_size;
		if (!job->image_cache) {
			struct zvmd_inst_image *im = &job->inst[i].img;

			im->kind = PROTO_EINTERNAL;
			snprintf(im->error, sizeof(im->error), "out of memory");
			images_settle(job);
			return;
		}
		job->image_work.data = job;
		job->open_handles++;
		uv_queue_work(job->srv->loop, &job->image_work, images_work,
			      images_done);
		return;
	}
	job_submit_ready(job);
}

static void running_remove(struct zvmd_server *srv, struct zvmd_job *job)
{
	for (struct zvmd_job **p = &srv->running; *p; p = &(*p)->next)
		if (*p == job) {
			*p = job->next;
			return;
		}
}

static void queue_remove(struct zvmd_server *srv, struct zvmd_job *job)
{
	struct zvmd_job *prev = NULL;

	for (struct zvmd_job *j = srv->queue_head; j; prev = j, j = j->next) {
		if (j != job)
			continue;
		if (prev)
			prev->next = j->next;
		else
			srv->queue_head = j->next;
		if (srv->queue_tail == j)
			srv->queue_tail = prev;
		srv->queue_depth--;
		return;
	}
}

static void job_complete(struct zvmd_job *job);

/* Commit the outputs of an instance that succeeded, drop the others'.
 * A part job's outputs go to put(), which settles each later. */
static void outputs_settle(struct zvmd_job *job, struct inst *in)
{
	struct zvmd_store *st = job->srv->store;

	for (size_t o = 0; o < in->nouts; o++) {
		struct out_obj *out = &in->outs[o];
		const struct proto_channel *c = &in->pi->channels[out->chan];
		const char *etag = in->have_report &&
				   out->chan < in->report.nchannels ?
				   in->report.channels[out->chan].etag : NULL;
		struct proto_error err;
		int fd = out->fd;

		if (!in->ok || job->cancelled) {
			out_drop(st, out);
			continue;
		}
		if (fd >= 0) {
			out->fd = -1;
			job->puts_pending++;
			job->put(job, (size_t)(in - job->inst), c, fd, etag,
				 job->put_arg);
			continue;
		}
		if (st->ops->commit(st, out->o, c->content_type, c->meta,
				    c->nmeta, etag, &err)) {
			in->ok = false;
			snprintf(in->status, sizeof(in->status), "%s",
				 err.msg);
		}
	}
	in->nouts = 0;
}

static void puts_settled_one(struct zvmd_job *job)
{
	if (--job->puts_pending == 0 && job->state == JOB_SETTLING)
		job_complete(job);
}

void zvmd_job_put_done(struct zvmd_job *job, size_t inst, const char *error)
{
	struct inst *in = &job->inst[inst];

	if (error && in->ok) {
		in->ok = false;
		snprintf(in->status, sizeof(in->status), "%s", error);
	}
	puts_settled_one(job);
}

/* Every instance has ended: free the slots, settle the outputs. */
static void job_finish(struct zvmd_job *job)
{
	struct zvmd_server *srv = job->srv;

	if (job->state == JOB_RUNNING) {
		srv->slots_used -= (unsigned)job->nslots;
		srv->running_jobs--;
		running_remove(srv, job);
	}
	job->state = JOB_SETTLING;
	/* A put may settle at once: hold one count until all have left. */
	job->puts_pending++;
	for (size_t i = 0; i < job->ninst; i++)
		outputs_settle(job, &job->inst[i]);
	stream_wake(job);
	puts_settled_one(job);
}

static void job_complete(struct zvmd_job *job)
{
	struct zvmd_server *srv = job->srv;

	job->state = JOB_DONE;
	job->t_end = now_ns();
	if (job->timer_open) {
		job_close_handle(job, (uv_handle_t *)&job->timer);
		job->timer_open = false;
	}
	if (job->client_open) {
		job_close_handle(job, (uv_handle_t *)&job->client_poll);
		job->client_open = false;
	}
	stream_wake(job);
	if (job->done)
		job->done(job, job->done_arg);
	zvmd_jobs_schedule(srv);
	if (job->conn_released && job->open_handles == 0)
		job_free(job);
}

void zvmd_job_cancel(struct zvmd_job *job, const char *why)
{
	/* Settling: the instances ended and their outputs are on their way
	 * (the PUTs end on their own). */
	if (job->state == JOB_DONE || job->state == JOB_SETTLING)
		return;
	job->cancelled = true;
	snprintf(job->cancel_why, sizeof(job->cancel_why), "%s", why);
	if (job->state == JOB_RUNNING && job->remote) {
		/* From the loop, as for a local job: the caller may be
		 * walking the running list. */
		uv_timer_start(&job->timer, on_remote_timeout, 0, 0);
		return;
	}
	if (job->state == JOB_RUNNING) {
		job_kill_all(job, SANDBOX_END_KILLED);
		return;
	}
	if (job->state == JOB_QUEUED)
		queue_remove(job->srv, job);
	for (size_t i = 0; i < job->ninst; i++) {
		if (job->inst[i].ended)
			continue;
		job->inst[i].ended = true;
		snprintf(job->inst[i].status, sizeof(job->inst[i].status),
			 "ZeroVM did not run: %s", why);
	}
	job->nended = job->ninst;
	job_finish(job);
}

static void on_client(uv_poll_t *h, int status, int events)
{
	struct zvmd_job *job = h->data;
	uv_os_fd_t fd;
	char c;
	ssize_t n;

	if (uv_fileno((uv_handle_t *)h, &fd))
		return;
	n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
	if (status < 0 || (events & UV_DISCONNECT) || n == 0 ||
	    (n < 0 && errno != EAGAIN && errno != EINTR)) {
		uv_poll_stop(h);
		zvmd_job_cancel(job, "client disconnected");
		return;
	}
	/* Bytes of a pipelined request: not ours to read; stop looking. */
	if (n > 0)
		uv_poll_stop(h);
}

void zvmd_job_watch_client(struct zvmd_job *job, int fd)
{
	if (job->state == JOB_DONE || job->client_open)
		return;
	if (uv_poll_init_socket(job->srv->loop, &job->client_poll, fd))
		return;
	job->client_poll.data = job;
	job->client_open = true;
	uv_poll_start(&job->client_poll, UV_READABLE | UV_DISCONNECT,
		      on_client);
}

struct zvmd_job *zvmd_job_next(const struct zvmd_job *job)
{
	return job->next;
}

bool zvmd_job_done(const struct zvmd_job *job)
{
	return job->state == JOB_DONE;
}

int zvmd_job_status(const struct zvmd_job *job)
{
	bool ran = false;

	if (job->cancelled && job->srv->draining)
		for (size_t i = 0; i < job->ninst; i++)
			ran |= job->inst[i].spawned;
	if (job->cancelled && job->srv->draining && !ran)
		return 503;
	if (job->fail_status)
		return job->fail_status;
	for (size_t i = 0; i < job->ninst; i++)
		if (!job->inst[i].ok)
			return 500;
	return 200;
}

void zvmd_job_release(struct zvmd_job *job)
{
	job->conn_released = true;
	job->done = NULL; /* its argument, the request, goes away now */
	/* MHD closes the socket after this: stop watching it now, or a
	 * later uv_close could unregister whatever reuses the fd number. */
	if (job->client_open) {
		job_close_handle(job, (uv_handle_t *)&job->client_poll);
		job->client_open = false;
	}
	if (job->stream_timer_open) {
		job_close_handle(job, (uv_handle_t *)&job->stream_timer);
		job->stream_timer_open = false;
	}
	job->stream_conn = NULL;
	if (job->state != JOB_DONE) {
		zvmd_job_cancel(job, "client disconnected");
		return;
	}
	if (job->open_handles == 0)
		job_free(job);
}

void zvmd_job_totals(const struct zvmd_job *job, size_t *ninst,
		     uint64_t *bytes_in, uint64_t *bytes_out,
		     uint64_t *body_bytes)
{
	struct stat sb;

	*ninst = job->ninst;
	*bytes_in = *bytes_out = *body_bytes = 0;
	for (size_t i = 0; i < job->ninst; i++)
		if (job->inst[i].have_report) {
			*bytes_in += job->inst[i].report.rbytes;
			*bytes_out += job->inst[i].report.wbytes;
		}
	for (size_t p = 0; p < job->nparts; p++)
		if (!fstat(job->parts[p].fd, &sb))
			*body_bytes += (uint64_t)sb.st_size;
}

/* --------------------------------------------------------- response */

/* Header values must stay one comma-separated list on one line. */
static void clean(char *s)
{
	for (; *s; s++)
		if (*s == ',' || (unsigned char)*s < 0x20 || *s == 0x7f)
			*s = ';';
}

/* A CDR value has commas of its own ("elapsed, accounting"). */
static void clean_controls(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = ';';
}

enum { H_SYSTEM, H_STATUS, H_RETCODE, H_ETAG, H_VALIDATION, H_CDR, H_N };

static const char *const header_names[H_N] = {
	"X-Nexe-System", "X-Nexe-Status", "X-Nexe-Retcode", "X-Nexe-Etag",
	"X-Nexe-Validation", "X-Nexe-Cdr-Line",
};

static void inst_etag(const struct inst *in, FILE *f)
{
	bool any = false;

	if (in->remote_report) {
		fputs(in->r_etag, f);
		return;
	}
	/* First, as zerovm's etag line has it (empty when the program did
	 * not exit by itself). */
	if (in->have_report && in->report.memory_etag[0]) {
		fprintf(f, "/dev/memory %s", in->report.memory_etag);
		any = true;
	}
	for (size_t k = 0; in->have_report && k < in->report.nchannels; k++) {
		if (!in->report.channels[k].etag[0])
			continue;
		fprintf(f, "%s%s %s", any ? " " : "", in->pi->channels[k].alias,
			in->report.channels[k].etag);
		any = true;
	}
	if (!any)
		fputs("disabled", f);
}

/* What the instance's deterministic run could not make deterministic,
 * as the zerovm CLI says it after the validation state
 * ("nondeterministic: cpuid rdrand"), or "" (sandbox/README.md, "The
 * report"). */
static void inst_note(const struct inst *in, char *out, size_t size)
{
	out[0] = '\0';
	if (in->remote_report) {
		if (in->r_note)
			snprintf(out, size, "%s", in->r_note);
		return;
	}
	if (in->have_report && in->report.nondeterminism[0])
		snprintf(out, size, "nondeterministic: %s",
			 in->report.nondeterminism);
}

/* X-Nexe-Validation of one instance: the state first (ZeroCloud's value,
 * what clients parse), then the note after a space, if any. */
static void inst_validation(const struct inst *in, FILE *f)
{
	char note[128];

	inst_note(in, note, sizeof(note));
	fprintf(f, "%d%s%s", in->r_validation, note[0] ? " " : "", note);
}

static int inst_retcode(const struct inst *in)
{
	if (in->remote_report)
		return in->r_retcode;
	if (!in->have_report)
		return -1;
	if (in->report.end == SANDBOX_END_EXIT)
		return in->report.exit_code;
	if (in->report.end == SANDBOX_END_SIGNAL)
		return 128 + in->report.signal;
	return -1;
}

static void inst_cdr(const struct inst *in, FILE *f)
{
	struct proto_accounting a = { 0 };
	char *line;

	if (in->remote_report) {
		fputs(in->r_cdr, f);
		return;
	}
	if (in->have_report) {
		a.sys = in->report.sys;
		a.user = in->report.user;
		a.reads = in->report.reads;
		a.rbytes = in->report.rbytes;
		a.writes = in->report.writes;
		a.wbytes = in->report.wbytes;
		a.nreads = in->report.nreads;
		a.nrbytes = in->report.nrbytes;
		a.nwrites = in->report.nwrites;
		a.nwbytes = in->report.nwbytes;
	}
	line = proto_accounting_format(&a);
	fprintf(f, "%.3f, %s",
		in->t_end > in->t_start ? (double)(in->t_end - in->t_start) / 1e9
					: 0.0,
		line ? line : "0 0 0 0 0 0 0 0 0 0");
	free(line);
}

/* The six X-Nexe-* values, comma-joined per instance (malloc'd each). */
static int header_values(const struct zvmd_job *job, char *v[H_N])
{
	size_t len[H_N];
	FILE *f[H_N];

	for (int h = 0; h < H_N; h++) {
		v[h] = NULL;
		f[h] = open_memstream(&v[h], &len[h]);
		if (!f[h])
			return -1;
	}
	fprintf(f[H_CDR], "%.3f", (double)(job->t_end - job->t_start) / 1e9);
	for (size_t i = 0; i < job->ninst; i++) {
		const struct inst *in = &job->inst[i];
		const char *sep = i ? "," : "";
		char status[600];

		snprintf(status, sizeof(status), "%s",
			 in->status[0] ? in->status : "ok");
		clean(status);
		fprintf(f[H_SYSTEM], "%s%s", sep, in->pi->name);
		fprintf(f[H_STATUS], "%s%s", sep, status);
		fprintf(f[H_RETCODE], "%s%d", sep, inst_retcode(in));
		fputs(sep, f[H_ETAG]);
		inst_etag(in, f[H_ETAG]);
		fputs(sep, f[H_VALIDATION]);
		inst_validation(in, f[H_VALIDATION]);
		fputs(", ", f[H_CDR]);
		inst_cdr(in, f[H_CDR]);
	}
	for (int h = 0; h < H_N; h++)
		fclose(f[h]);
	for (int h = 0; h < H_N; h++)
		if (!v[h])
			return -1;
	return 0;
}

static void header_values_free(char *v[H_N])
{
	for (int h = 0; h < H_N; h++)
		free(v[h]);
}

static const char *body_content_type(const struct zvmd_job *job)
{
	for (size_t i = 0; i < job->ninst; i++)
		for (size_t k = 0; k < job->inst[i].pi->nchannels; k++) {
			const struct proto_channel *c =
				&job->inst[i].pi->channels[k];

			if (c->kind == PROTO_CHAN_IMMEDIATE && c->content_type)
				return c->content_type;
		}
	return "text/plain";
}

static uint64_t part_size(const struct part *p)
{
	struct stat sb;

	return fstat(p->fd, &sb) ? 0 : (uint64_t)sb.st_size;
}

/* Read the concatenated spool files from `pos` (sequential in practice). */
static ssize_t body_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct zvmd_job *job = cls;

	if (pos < job->cur_base) {
		job->cur_part = 0;
		job->cur_base = 0;
	}
	while (job->cur_part < job->nparts) {
		const struct part *p = &job->parts[job->cur_part];
		uint64_t size = part_size(p);
		ssize_t n;

		if (pos >= job->cur_base + size) {
			job->cur_base += size;
			job->cur_part++;
			continue;
		}
		n = pread(p->fd, buf, max, (off_t)(pos - job->cur_base));
		if (n > 0)
			return n;
		return MHD_CONTENT_READER_END_WITH_ERROR;
	}
	return MHD_CONTENT_READER_END_OF_STREAM;
}

struct MHD_Response *zvmd_job_response(struct zvmd_job *job)
{
	uint64_t total = 0;
	struct MHD_Response *r;
	char *v[H_N];

	for (size_t p = 0; p < job->nparts; p++)
		total += part_size(&job->parts[p]);
	job->cur_part = 0;
	job->cur_base = 0;
	r = MHD_create_response_from_callback(total, 64 * 1024, body_read, job,
					      NULL);
	if (!r)
		return NULL;
	if (header_values(job, v)) {
		header_values_free(v);
		MHD_destroy_response(r);
		return NULL;
	}
	for (int h = 0; h < H_N; h++)
		MHD_add_response_header(r, header_names[h], v[h]);
	header_values_free(v);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
				body_content_type(job));
	return r;
}

/* ---------------------------------------------------------- streaming */

static void stream_resume(struct zvmd_job *job)
{
	if (!job->stream_suspended || !job->stream_conn)
		return;
	job->stream_suspended = false;
	uv_timer_stop(&job->stream_timer);
	MHD_resume_connection(job->stream_conn);
	zvmd_server_kick(job->srv);
}

static void stream_wake(struct zvmd_job *job)
{
	stream_resume(job);
}

static void on_stream_timer(uv_timer_t *t)
{
	stream_resume(t->data);
}

/* The report block that ends a streamed body (README: streaming). */
static int stream_trailer(struct zvmd_job *job)
{
	char *v[H_N];
	size_t len = 0;
	FILE *f = open_memstream(&job->trailer, &len);

	if (!f)
		return -1;
	if (header_values(job, v)) {
		fclose(f);
		header_values_free(v);
		return -1;
	}
	fprintf(f, "%s--- zerovm report ---\n", job->last_byte == '\n' ||
		job->last_byte == 0 ? "" : "\n");
	for (int h = 0; h < H_N; h++) {
		fprintf(f, "%s: %s\n", header_names[h], v[h]);
		MHD_add_response_footer(job->stream_resp, header_names[h],
					v[h]);
	}
	fprintf(f, "X-Zerovm-Status: %d\n", zvmd_job_status(job));
	header_values_free(v);
	if (fclose(f))
		return -1;
	job->trailer_len = len;
	return 0;
}

/* Nothing new yet: sleep until an instance ends or 10 ms pass. */
static void stream_sleep(struct zvmd_job *job)
{
	if (job->stream_conn && !job->stream_suspended) {
		job->stream_suspended = true;
		MHD_suspend_connection(job->stream_conn);
		uv_timer_start(&job->stream_timer, on_stream_timer, 10, 0);
	}
}

/* A chunked response whose body `reader` produces as the job runs. */
static struct MHD_Response *stream_response_new(
	struct zvmd_job *job, struct MHD_Connection *conn,
	MHD_ContentReaderCallback reader)
{
	struct MHD_Response *r = MHD_create_response_from_callback(
		MHD_SIZE_UNKNOWN, 64 * 1024, reader, job, NULL);

	if (!r)
		return NULL;
	uv_timer_init(job->srv->loop, &job->stream_timer);
	job->stream_timer.data = job;
	job->stream_timer_open = true;
	job->stream_conn = conn;
	job->stream_resp = r;
	job->cur_part = 0;
	job->cur_off = 0;
	return r;
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct zvmd_job *job = cls;

	(void)pos;
	while (job->cur_part < job->nparts) {
		const struct part *p = &job->parts[job->cur_part];
		bool producer_done = job->inst[p->inst].ended;
		ssize_t n = pread(p->fd, buf, max, (off_t)job->cur_off);

		if (n < 0)
			return MHD_CONTENT_READER_END_WITH_ERROR;
		if (n > 0) {
			job->cur_off += (uint64_t)n;
			job->last_byte = buf[n - 1];
			return n;
		}
		if (!producer_done)
			goto wait;
		job->cur_part++;
		job->cur_off = 0;
	}
	if (job->state != JOB_DONE)
		goto wait;
	if (!job->trailer && stream_trailer(job))
		return MHD_CONTENT_READER_END_WITH_ERROR;
	if (job->trailer_off < job->trailer_len) {
		size_t n = job->trailer_len - job->trailer_off;

		n = n < max ? n : max;
		memcpy(buf, job->trailer + job->trailer_off, n);
		job->trailer_off += n;
		return (ssize_t)n;
	}
	return MHD_CONTENT_READER_END_OF_STREAM;
wait:
	stream_sleep(job);
	return 0;
}

struct MHD_Response *zvmd_job_stream_response(struct zvmd_job *job,
					       struct MHD_Connection *conn)
{
	struct MHD_Response *r = stream_response_new(job, conn, stream_read);

	if (!r)
		return NULL;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
				body_content_type(job));
	MHD_add_response_header(r, MHD_HTTP_HEADER_TRAILER,
				"X-Nexe-System, X-Nexe-Status, X-Nexe-Retcode, "
				"X-Nexe-Etag, X-Nexe-Validation, "
				"X-Nexe-Cdr-Line");
	return r;
}

/* ------------------------------------------------------------- frames */

/* Queue text (not NUL-terminated, owned by us now) for frames_read. */
static void pend_set(struct zvmd_job *job, char *text, size_t len)
{
	free(job->pend);
	job->pend = text;
	job->pend_len = len;
	job->pend_off = 0;
}

/* An output frame carrying the next bytes of part p, or 0 if none. */
static int frame_output(struct zvmd_job *job, const struct part *p)
{
	enum { CHUNK = 64 * 1024 };
	struct proto_frame f = { .type = PROTO_FRAME_OUTPUT, .inst = p->inst };
	char *line, *buf;
	size_t hl;
	ssize_t n;

	buf = malloc(CHUNK + 128);
	if (!buf)
		return -1;
	n = pread(p->fd, buf + 128, CHUNK, (off_t)job->cur_off);
	if (n <= 0) {
		free(buf);
		return n < 0 ? -1 : 0;
	}
	f.len = (uint64_t)n;
	line = proto_frame_format(&f);
	if (!line || (hl = strlen(line)) > 128) {
		free(line);
		free(buf);
		return -1;
	}
	memcpy(buf + 128 - hl, line, hl);
	free(line);
	memmove(buf, buf + 128 - hl, hl + (size_t)n);
	pend_set(job, buf, hl + (size_t)n);
	job->cur_off += (uint64_t)n;
	return 1;
}

/* An instance's values as in the X-Nexe-* headers. */
static char *inst_value(const struct inst *in,
			void (*print)(const struct inst *, FILE *))
{
	char *v = NULL;
	size_t len;
	FILE *f = open_memstream(&v, &len);

	if (!f)
		return NULL;
	print(in, f);
	if (fclose(f)) {
		free(v);
		return NULL;
	}
	return v;
}

static void inst_etag(const struct inst *in, FILE *f);
static void inst_note(const struct inst *in, char *out, size_t size);
static void inst_cdr(const struct inst *in, FILE *f);
static int inst_retcode(const struct inst *in);

/* The report frames of the instances run here, then `done`. */
static int frames_reports(struct zvmd_job *job)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	bool bad = !out;

	for (size_t i = 0; !bad && i < job->ninst; i++) {
		const struct inst *in = &job->inst[i];
		struct proto_frame f = { .type = PROTO_FRAME_REPORT, .inst = i };
		char *etag, *cdr, *line, note[128];

		if (!in->here)
			continue;
		inst_note(in, note, sizeof(note));
		f.validation_note = note;
		etag = inst_value(in, inst_etag);
		cdr = inst_value(in, inst_cdr);
		f.system = in->pi->name;
		f.status = in->status[0] ? in->status : "ok";
		f.retcode = inst_retcode(in);
		f.etag = etag;
		f.cdr = cdr;
		line = etag && cdr ? proto_frame_format(&f) : NULL;
		bad = !line || fputs(line, out) < 0;
		free(line);
		free(etag);
		free(cdr);
	}
	if (!bad) {
		struct proto_frame f = { .type = PROTO_FRAME_DONE };
		char *line;

		if (job->part_error[0]) {
			f.type = PROTO_FRAME_ERROR;
			f.message = job->part_error;
		}
		line = proto_frame_format(&f);

		bad = !line || fputs(line, out) < 0;
		free(line);
	}
	if (out && fclose(out))
		bad = true;
	if (bad) {
		free(text);
		return -1;
	}
	pend_set(job, text, len);
	return 1;
}

/* Fill job->pend: 1 done so, 0 nothing yet, 2 the stream is over, -1. */
static int frames_next(struct zvmd_job *job)
{
	while (job->cur_part < job->nparts) {
		const struct part *p = &job->parts[job->cur_part];
		bool producer_done = job->inst[p->inst].ended;
		int rc = frame_output(job, p);

		if (rc)
			return rc;
		if (!producer_done)
			return 0;
		job->cur_part++;
		job->cur_off = 0;
	}
	if (job->state != JOB_DONE)
		return 0;
	if (job->frames_reported)
		return 2;
	job->frames_reported = true;
	return frames_reports(job);
}

static ssize_t frames_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct zvmd_job *job = cls;

	(void)pos;
	for (;;) {
		int rc;

		if (job->pend_off < job->pend_len) {
			size_t n = job->pend_len - job->pend_off;

			n = n < max ? n : max;
			memcpy(buf, job->pend + job->pend_off, n);
			job->pend_off += n;
			return (ssize_t)n;
		}
		rc = frames_next(job);
		if (rc < 0)
			return MHD_CONTENT_READER_END_WITH_ERROR;
		if (rc == 2)
			return MHD_CONTENT_READER_END_OF_STREAM;
		if (rc == 0)
			break;
	}
	stream_sleep(job);
	return 0;
}

struct MHD_Response *zvmd_job_frames_response(struct zvmd_job *job,
					       struct MHD_Connection *conn)
{
	struct MHD_Response *r = stream_response_new(job, conn, frames_read);

	if (!r)
		return NULL;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
				"application/x-zerovm-frames");
	return r;
}
