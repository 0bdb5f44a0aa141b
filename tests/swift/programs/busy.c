/* busy N: N million steps of a small LCG, then print the final state:
 * a job that takes a while and whose answer can be checked (overload). */
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
	unsigned long long n = argc > 1 ? strtoull(argv[1], NULL, 10) : 0;
	unsigned long long x = 1;

	for (unsigned long long i = 0; i < n * 1000000ULL; i++)
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
	printf("%llu\n", x);
	return 0;
}
