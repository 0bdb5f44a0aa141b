/* spin: never ends (after saying so): the timeout and drain tests. */
#include <stdio.h>

int main(void)
{
	volatile unsigned long n = 0;

	printf("spinning\n");
	fflush(stdout);
	for (;;)
		n++;
}
