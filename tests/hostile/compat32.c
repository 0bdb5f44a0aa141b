/* Switching the CPU into 32-bit compatibility mode (far jump to the
 * 32-bit user code segment, selector 0x23) and making i386 system calls
 * from there: getpid, then exit(99). A filter that ignores the
 * architecture lets both through and the run ends with exit 99; a
 * correct one kills the process (SIGSYS) at the first call. */
#include <sys/mman.h>

#include "hostile.h"

int main(int argc, char **argv)
{
	static const unsigned char code32[] = {
		0xb8, 20, 0, 0, 0,       /* mov eax, 20 (getpid) */
		0xcd, 0x80,              /* int 0x80 */
		0xbb, 99, 0, 0, 0,       /* mov ebx, 99 */
		0xb8, 1, 0, 0, 0,        /* mov eax, 1 (exit) */
		0xcd, 0x80,              /* int 0x80 */
		0xf4,                    /* hlt: faults if exit returned */
	};
	struct __attribute__((packed)) {
		uint32_t offset;
		uint16_t selector;
	} far;

	hostile_init(argc, argv);
	unsigned char *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
				   MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
	if (page == MAP_FAILED) {
		say("mmap MAP_32BIT -> %s: cannot try\n", errname(errno));
		escaped("test could not run");
		return hostile_done();
	}
	memcpy(page, code32, sizeof(code32));
	far.offset = (uint32_t)(uintptr_t)page;
	far.selector = 0x23;
	say("far jump to 32-bit code at %p\n", (void *)page);
	__asm__ volatile("ljmpl *%0" : : "m"(far) : "memory");
	escaped("returned from 32-bit mode");
	return hostile_done();
}
