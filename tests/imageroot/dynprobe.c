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
	return 0;
}
