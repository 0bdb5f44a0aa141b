/* What the program inherits besides its channels: its environment, the
 * auxiliary vector and the rest of the initial stack must hold nothing of
 * the supervisor's environment (the runner sets ZVM_HOSTILE_ENV_SECRET
 * for the CLI; finding it anywhere here is an escape). */
#include <sys/auxv.h>

#include "hostile.h"

extern char **environ;

int main(int argc, char **argv)
{
	static const char needle[] = "ZVM_HOSTILE_ENV_SECRET";
	const char *execfn = (const char *)getauxval(AT_EXECFN);

	hostile_init(argc, argv);
	for (char **e = environ; *e; e++) {
		say("env: %s\n", *e);
		if (strstr(*e, needle))
			escaped("the supervisor's environment leaked: %s", *e);
	}
	say("AT_EXECFN: %s\n", execfn ? execfn : "(none)");
	/* The initial stack: from argv[0] to the end of the strings area. */
	const char *p = argv[0];
	const char *end = execfn ? execfn + strlen(execfn) : p;
	for (const char *q = p; q + sizeof(needle) - 1 <= end; q++)
		if (memcmp(q, needle, sizeof(needle) - 1) == 0) {
			escaped("the initial stack holds %.80s", q);
			break;
		}
	return hostile_done();
}
