/* upcase: copy stdin to stdout in upper case (output-object tests). */
#include <ctype.h>
#include <stdio.h>

int main(void)
{
	int c;

	while ((c = getchar()) != EOF)
		putchar(toupper(c));
	return ferror(stdout) ? 1 : 0;
}
