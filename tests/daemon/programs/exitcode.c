/* exitcode N [TEXT]: print TEXT (default "exiting") and exit with N. */
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
	printf("%s\n", argc > 2 ? argv[2] : "exiting");
	return argc > 1 ? atoi(argv[1]) : 0;
}
