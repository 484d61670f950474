/* The native runner: a 32-bit Linux process that runs a difftest batch on
 * the host CPU at the same addresses the guest uses. It maps CTRL, DATA and
 * CODE (and LOW when the batch asks) at their fixed addresses, gives FS and
 * GS LDT descriptors with the guest's segment bases (and 16-bit code an
 * LDT code descriptor: a 32-bit process on an x86-64 kernel may far-jump
 * into one), and turns the faults a
 * sequence raises (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP) into the
 * exception vector, error code and registers the kernel saw (trapno, err
 * and the saved context), resuming in dt_run_seq_fault.
 *
 * Usage: dt-native BATCH [START]  (results on stdout, see runner.h) */
#define _GNU_SOURCE
#include <asm/ldt.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include "runner.h"

#define LDT_FS 0
#define LDT_GS 1
#define LDT_CODE16 2
#define SEL(entry) ((uint16_t)((entry) << 3 | 4 | 3))   /* LDT, RPL 3 */

void dt_sig_entry(int sig, siginfo_t *si, void *uc);
void dt_sig_handler(int sig, siginfo_t *si, void *ucv);

void dt_sig_handler(int sig, siginfo_t *si, void *ucv)
{
	(void)si;
	ucontext_t *uc = ucv;
	greg_t *g = uc->uc_mcontext.gregs;
	if (!dt_in_seq) {
		/* a fault in the runner itself: die the ordinary way */
		signal(sig, SIG_DFL);
		return;
	}
	volatile uint32_t *ctrl = (volatile uint32_t *)(uintptr_t)DT_CTRL_BASE;
	ctrl[0] = (uint32_t)g[REG_EAX];
	ctrl[1] = (uint32_t)g[REG_ECX];
	ctrl[2] = (uint32_t)g[REG_EDX];
	ctrl[3] = (uint32_t)g[REG_EBX];
	ctrl[4] = (uint32_t)g[REG_UESP];
	ctrl[5] = (uint32_t)g[REG_EBP];
	ctrl[6] = (uint32_t)g[REG_ESI];
	ctrl[7] = (uint32_t)g[REG_EDI];
	ctrl[DT_CTRL_EFLAGS / 4] = (uint32_t)g[REG_EFL];
	ctrl[DT_CTRL_VEC / 4] = (uint32_t)g[REG_TRAPNO];
	ctrl[DT_CTRL_ERR / 4] = (uint32_t)g[REG_ERR];
	ctrl[DT_CTRL_EIP / 4] = (uint32_t)g[REG_EIP];
	g[REG_EIP] = (greg_t)(uintptr_t)dt_run_seq_fault;
	g[REG_UESP] = (greg_t)DT_CTRL_STACK_TOP;
	g[REG_GS] = dt_saved_gs;
	g[REG_FS] = dt_saved_fs;
	g[REG_CS] = dt_saved_cs;        /* from 16-bit code back to the runner's */
	g[REG_DS] = g[REG_SS];          /* DS, ES: flat again (the SS of a sequence is) */
	g[REG_ES] = g[REG_SS];
	g[REG_EFL] &= ~(greg_t)(0x100 | 0x400 | 0x40000);   /* TF, DF, AC */
}

static void die(const char *what)
{
	fprintf(stderr, "dt-native: %s: %s\n", what, strerror(errno));
	exit(2);
}

static void map_fixed(uint32_t addr, uint32_t size, int prot, const char *what)
{
	void *p = mmap((void *)(uintptr_t)addr, size, prot,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (p == MAP_FAILED || p != (void *)(uintptr_t)addr)
		die(what);
}

static void set_ldt(unsigned entry, uint32_t base)
{
	struct user_desc d;
	memset(&d, 0, sizeof(d));
	d.entry_number = entry;
	d.base_addr = base;
	d.limit = 0xfffff;
	d.seg_32bit = 1;
	d.limit_in_pages = 1;
	d.useable = 1;
	if (syscall(SYS_modify_ldt, 1, &d, sizeof(d)) != 0)
		die("modify_ldt");
}

/* The 16-bit code segment: 64 KiB from base, D clear, as dosemu and
 * Wine make them. */
static int set_code16_base(uint32_t base)
{
	struct user_desc d;
	memset(&d, 0, sizeof(d));
	d.entry_number = LDT_CODE16;
	d.base_addr = base;
	d.limit = 0xffff;
	d.contents = MODIFY_LDT_CONTENTS_CODE;
	d.useable = 1;
	return syscall(SYS_modify_ldt, 1, &d, sizeof(d)) == 0 ? 0 : -1;
}

static void write_out(const char *s, uint32_t n)
{
	fwrite(s, 1, n, stdout);
}

int main(int argc, char **argv)
{
	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: dt-native BATCH [START]\n");
		return 2;
	}
	FILE *f = fopen(argv[1], "rb");
	if (!f)
		die(argv[1]);
	if (fseek(f, 0, SEEK_END) != 0)
		die(argv[1]);
	long len = ftell(f);
	if (len < 0 || fseek(f, 0, SEEK_SET) != 0)
		die(argv[1]);
	uint8_t *batch = malloc((size_t)len + 1);
	if (!batch || fread(batch, 1, (size_t)len, f) != (size_t)len)
		die(argv[1]);
	fclose(f);
	uint32_t start = argc > 2 ? (uint32_t)strtoul(argv[2], NULL, 0) : 0;

	map_fixed(DT_MAP_BASE, DT_MAP_SIZE, PROT_READ | PROT_WRITE | PROT_EXEC, "mapping the test areas");
	const struct dt_batch_hdr *h = (const struct dt_batch_hdr *)batch;
	if ((size_t)len >= sizeof(*h) && (h->flags & DT_BATCH_LOW))
		map_fixed(DT_LOW_BASE, DT_LOW_SIZE, PROT_READ | PROT_WRITE,
			  "mapping the low area (vm.mmap_min_addr must be <= 4096)");
	set_ldt(LDT_FS, DT_FS_BASE);
	set_ldt(LDT_GS, DT_GS_BASE);

	static uint8_t altstack[1 << 16];
	stack_t ss = { .ss_sp = altstack, .ss_size = sizeof(altstack), .ss_flags = 0 };
	if (sigaltstack(&ss, NULL) != 0)
		die("sigaltstack");
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = dt_sig_entry;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	const int sigs[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP };
	for (unsigned i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		if (sigaction(sigs[i], &sa, NULL) != 0)
			die("sigaction");

	static char obuf[1 << 20];
	setvbuf(stdout, obuf, _IOFBF, sizeof(obuf));
	struct dt_env env = { .write = write_out, .fs_sel = SEL(LDT_FS), .gs_sel = SEL(LDT_GS),
			      .code16_sel = SEL(LDT_CODE16), .set_code16_base = set_code16_base };
	int rc = dt_run_batch(&env, batch, (uint32_t)len, start);
	fflush(stdout);
	return rc == 0 ? 0 : 1;
}
