/* memfd_create(2) + execveat(2): write an executable into memory (or into
 * a writable channel) and exec it. The payload is a 128-byte static ELF
 * that exits 99, so a successful exec reads as ESCAPED. */
#include <elf.h>
#include <sys/mman.h>

#include "hostile.h"

static size_t build_payload(unsigned char *out)
{
	static const unsigned char code[] = {
		0xbf, 99, 0, 0, 0,       /* mov edi, 99 */
		0xb8, 60, 0, 0, 0,       /* mov eax, 60 (exit) */
		0x0f, 0x05,              /* syscall */
	};
	const uint64_t base = 0x400000;
	Elf64_Ehdr eh = {
		.e_ident = { ELFMAG0, ELFMAG1, ELFMAG2, ELFMAG3, ELFCLASS64,
			     ELFDATA2LSB, EV_CURRENT },
		.e_type = ET_EXEC, .e_machine = EM_X86_64,
		.e_version = EV_CURRENT,
		.e_entry = base + sizeof(Elf64_Ehdr) + sizeof(Elf64_Phdr),
		.e_phoff = sizeof(Elf64_Ehdr), .e_ehsize = sizeof(Elf64_Ehdr),
		.e_phentsize = sizeof(Elf64_Phdr), .e_phnum = 1,
	};
	size_t size = sizeof(eh) + sizeof(Elf64_Phdr) + sizeof(code);
	Elf64_Phdr ph = {
		.p_type = PT_LOAD, .p_flags = PF_R | PF_X, .p_vaddr = base,
		.p_paddr = base, .p_filesz = size, .p_memsz = size,
		.p_align = 0x1000,
	};

	memcpy(out, &eh, sizeof(eh));
	memcpy(out + sizeof(eh), &ph, sizeof(ph));
	memcpy(out + sizeof(eh) + sizeof(ph), code, sizeof(code));
	return size;
}

static void try_exec_fd(const char *what, int fd)
{
	char *args[] = { "payload", NULL };
	char *envp[] = { NULL };

	say("exec via %s\n", what);
	MUST_FAIL(syscall(SYS_execveat, fd, "", args, envp, AT_EMPTY_PATH));
}

int main(int argc, char **argv)
{
	unsigned char elf[256];
	size_t len;

	hostile_init(argc, argv);
	len = build_payload(elf);
	long fd = MUST_FAIL(syscall(SYS_memfd_create, "payload", 0));
	if (fd >= 0) {
		if (write((int)fd, elf, len) != (ssize_t)len)
			say("  write payload -> %s\n", errname(errno));
		try_exec_fd("memfd", (int)fd);
	}
	/* The writable channel at fd 3 (/dev/output): write, then exec it. */
	if (write(3, elf, len) == (ssize_t)len)
		try_exec_fd("writable channel fd 3", 3);
	else
		say("  write payload to fd 3 -> %s\n", errname(errno));
	/* Its alias reopened for reading (allowed or not, exec must fail). */
	long path = syscall(SYS_open, "/dev/output", O_RDONLY);
	if (path >= 0)
		try_exec_fd("/dev/output reopened", (int)path);
	return hostile_done();
}
