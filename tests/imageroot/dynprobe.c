/*
 * dynprobe — a dynamically linked program for an image root: it needs
 * the image's ld.so and libc, and prints what it sees of its world, one
 * line each (run_image.py checks them).
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* /tmp after creating files out of order; a telldir/seekdir round trip
 * must give the same rest of the listing. */
static int list_tmp(void)
{
	static const char *const names[] = {"/tmp/c", "/tmp/a", "/tmp/b"};
	char rest1[512] = "", rest2[512] = "";
	struct dirent *e;
	DIR *d;
	long pos;

	for (int i = 0; i < 3; i++)
		if (close(open(names[i], O_WRONLY | O_CREAT, 0600)) < 0)
			return 8;
	d = opendir("/tmp");
	if (!d)
		return 9;
	printf("tmp listing:");
	for (int i = 0; i < 2 && (e = readdir(d)); i++)
		printf(" %s", e->d_name);
	pos = telldir(d);
	while ((e = readdir(d)))
		snprintf(rest1 + strlen(rest1), sizeof(rest1) - strlen(rest1),
			 " %s", e->d_name);
	seekdir(d, pos);
	while ((e = readdir(d)))
		snprintf(rest2 + strlen(rest2), sizeof(rest2) - strlen(rest2),
			 " %s", e->d_name);
	printf("%s\n", rest1);
	closedir(d);
	return strcmp(rest1, rest2) == 0 ? 0 : 10;
}

int main(int argc, char **argv)
{
	char buf[256] = {0};
	FILE *f;
	int fd;

	printf("args:");
	for (int i = 1; i < argc; i++)
		printf(" %s", argv[i]);
	printf("\n");
	f = fopen("/tmp/scratch", "w");
	if (!f || fputs("scratch ok\n", f) < 0 || fclose(f) != 0)
		return 2;
	f = fopen("/tmp/scratch", "r");
	if (!f || !fgets(buf, sizeof(buf), f))
		return 3;
	fclose(f);
	printf("tmp: %s", buf);
	/* A channel by its alias, relative to the cwd. */
	if (chdir("/dev") < 0)
		return 4;
	fd = open("input", O_RDONLY);
	memset(buf, 0, sizeof(buf));
	if (fd < 0 || read(fd, buf, sizeof(buf) - 1) <= 0)
		return 5;
	printf("input: %s", buf);
	fd = open("/dev/zero", O_RDONLY);
	if (fd < 0 || read(fd, buf, 4) != 4 || buf[0] || buf[3])
		return 6;
	fd = open("/dev/null", O_WRONLY);
	if (fd < 0 || write(fd, "x", 1) != 1)
		return 7;
	printf("devices: ok\n");
	return list_tmp();
}
