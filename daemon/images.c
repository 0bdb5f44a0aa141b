/* images.c — an instance's image: which archive becomes its root, and
 * (off the loop) its extracted tree and its program inside it.
 *
 * The root of an instance is, in this order: the image its program comes
 * from (exec.path file://<sysimage>:<path>, or file://<path> in the job's
 * `image` device), else its `image` device, else its first system-image
 * device. Every image is also an ordinary read-only channel
 * (/dev/image, /dev/<sysimage>): the program can read the archive. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "sandbox.h"

const struct zvmd_sysimage *zvmd_sysimage_find(const struct zvmd_config *cfg,
					       const char *name)
{
	for (size_t i = 0; i < cfg->nsysimages; i++)
		if (!strcmp(cfg->sysimages[i].name, name))
			return &cfg->sysimages[i];
	return NULL;
}

int zvmd_sysimage_open(const struct zvmd_config *cfg, const char *name,
		       int *fd, struct proto_error *err)
{
	const struct zvmd_sysimage *im = zvmd_sysimage_find(cfg, name);

	if (!im)
		return proto_error_set(err, PROTO_EBADJOB, "no system image "
				       "named \"%.64s\" in [sysimages]", name);
	*fd = open(im->path, O_RDONLY | O_CLOEXEC);
	if (*fd < 0)
		return proto_error_set(err, PROTO_EINTERNAL, "system image "
				       "%s: %s: %s", name, im->path,
				       strerror(errno));
	return 0;
}

/* The channel holding the archive named `want` (a system image name, or
 * "image" for the job's image device), or -1. */
static long image_channel(const struct proto_instance *pi, const char *want)
{
	for (size_t k = 0; k < pi->nchannels; k++) {
		const struct proto_channel *c = &pi->channels[k];

		if (c->kind == PROTO_CHAN_IMAGE && c->path &&
		    !strchr(c->path, ':') && (!want || !strcmp(c->path, want)))
			return (long)k;
		if (c->kind == PROTO_CHAN_OBJECT && !strcmp(c->device, "image") &&
		    want && !strcmp(want, "image"))
			return (long)k;
	}
	return -1;
}

static int source_set(struct zvmd_inst_image *im, int fd, const char *label,
		      const char *prog, struct proto_error *err)
{
	im->tar_fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (im->tar_fd < 0)
		return proto_error_set(err, PROTO_EINTERNAL, "dup: %s",
				       strerror(errno));
	snprintf(im->label, sizeof(im->label), "%s", label);
	im->prog = prog;
	return 0;
}

int zvmd_image_source(const struct zvmd_config *cfg,
		      const struct proto_instance *pi, const int *fds,
		      struct zvmd_inst_image *im, struct proto_error *err)
{
	char name[64];
	const char *colon;
	long k;

	im->tar_fd = -1;
	im->prog_fd = -1;
	switch (pi->exec_kind) {
	case PROTO_EXEC_IMAGE: /* "name:path" */
		colon = strchr(pi->exec_path, ':');
		if (!colon || (size_t)(colon - pi->exec_path) >= sizeof(name))
			return proto_error_set(err, PROTO_EBADJOB, "instance "
					       "%s: program %s: expected "
					       "image:path", pi->name,
					       pi->exec_path);
		snprintf(name, sizeof(name), "%.*s",
			 (int)(colon - pi->exec_path), pi->exec_path);
		k = image_channel(pi, name);
		if (k < 0) {
			/* file://<sysimage>:<path> without the device: the
			 * image is still the root, opened here. */
			int fd, rc;

			if (zvmd_sysimage_open(cfg, name, &fd, err))
				return -1;
			rc = source_set(im, fd, name, colon + 1, err);
			close(fd);
			return rc;
		}
		return source_set(im, fds[k], name, colon + 1, err);
	case PROTO_EXEC_JOB_IMAGE:
		k = image_channel(pi, "image");
		if (k < 0)
			return proto_error_set(err, PROTO_EBADJOB, "instance "
					       "%s: program file://%s is in "
					       "the job's image, but the group "
					       "has no \"image\" device",
					       pi->name, pi->exec_path);
		return source_set(im, fds[k], "/dev/image", pi->exec_path,
				  err);
	case PROTO_EXEC_OBJECT:
	default:
		k = image_channel(pi, "image");
		if (k >= 0)
			return source_set(im, fds[k], "/dev/image", NULL, err);
		k = image_channel(pi, NULL);
		if (k >= 0)
			return source_set(im, fds[k], pi->channels[k].path,
					  NULL, err);
		return 0;
	}
}

void zvmd_image_resolve(const char *cache, uint64_t max_bytes,
			struct zvmd_inst_image *im)
{
	struct sandbox_image_limits lim = { .max_bytes = max_bytes };
	struct sandbox_error e = { { 0 } };

	if (sandbox_image_open(cache, im->tar_fd, im->label, &lim,
			       &im->root_dir, &im->extracted, &e)) {
		/* A job's own image is the user's input: a bad one is a bad
		 * job. A system image is the operator's. */
		im->kind = strcmp(im->label, "/dev/image") ? PROTO_EINTERNAL :
			   PROTO_EBADJOB;
		snprintf(im->error, sizeof(im->error), "%s", e.msg);
		return;
	}
	if (im->prog &&
	    sandbox_image_open_program(im->root_dir, im->prog, &im->prog_fd,
				       &e)) {
		im->kind = PROTO_ENOTFOUND;
		snprintf(im->error, sizeof(im->error), "%s", e.msg);
	}
}

void zvmd_image_clear_root(struct zvmd_inst_image *im)
{
	if (im->prog_fd >= 0)
		close(im->prog_fd);
	im->prog_fd = -1;
	free(im->root_dir);
	im->root_dir = NULL;
	im->held = false;
}

void zvmd_image_clear(struct zvmd_inst_image *im)
{
	if (im->tar_fd >= 0)
		close(im->tar_fd);
	im->tar_fd = -1;
	zvmd_image_clear_root(im);
}
