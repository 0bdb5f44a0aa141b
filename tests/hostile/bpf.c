/* bpf(2): maps and programs are kernel attack surface. */
#include <linux/bpf.h>

#include "hostile.h"

int main(int argc, char **argv)
{
	union bpf_attr map = {
		.map_type = BPF_MAP_TYPE_ARRAY, .key_size = 4,
		.value_size = 8, .max_entries = 1,
	};
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	union bpf_attr prog = {
		.prog_type = BPF_PROG_TYPE_SOCKET_FILTER,
		.insn_cnt = 2,
		.insns = (uint64_t)(uintptr_t)insns,
		.license = (uint64_t)(uintptr_t)"GPL",
	};

	hostile_init(argc, argv);
	MUST_FAIL_FD(syscall(SYS_bpf, BPF_MAP_CREATE, &map, sizeof(map)));
	MUST_FAIL_FD(syscall(SYS_bpf, BPF_PROG_LOAD, &prog, sizeof(prog)));
	union bpf_attr next = { 0 };
	MUST_FAIL(syscall(SYS_bpf, BPF_PROG_GET_NEXT_ID, &next, sizeof(next)));
	return hostile_done();
}
