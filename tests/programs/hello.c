/* hello: the smallest useful program; start-up benchmark and smoke test. */
#include <stdio.h>

int main(void)
{
	printf("hello, world\n");
	return 0;
}
