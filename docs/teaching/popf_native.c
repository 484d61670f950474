/* The lesson's first experiment (docs/TEACHING.md): POPF run by an
 * ordinary 32-bit Linux process, at CPL 3 on the real CPU. It tries to
 * clear IF, the interrupt flag, with POPF and reads the flags back with
 * PUSHF: the CPU neither obeys nor traps, it silently keeps IF set. CLI,
 * which is privileged, does trap (SIGSEGV from its #GP). */
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define EFLAGS_IF 0x200u
#define EFLAGS_IOPL 0x3000u

static sigjmp_buf trapped;

static void on_trap(int sig)
{
	siglongjmp(trapped, sig);
}

static uint32_t read_flags(void)
{
	uint32_t f;
	__asm__ volatile("pushfl; popl %0" : "=r"(f));
	return f;
}

/* POPF with IF and IOPL cleared, then the flags as PUSHF sees them. */
static uint32_t popf_clearing_if(void)
{
	uint32_t want = read_flags() & ~(EFLAGS_IF | EFLAGS_IOPL), got;
	__asm__ volatile("pushl %1; popfl; pushfl; popl %0" : "=r"(got) : "r"(want) : "cc");
	return got;
}

int main(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_trap;
	sigaction(SIGSEGV, &sa, NULL);

	uint32_t before = read_flags();
	uint32_t after = popf_clearing_if();
	printf("CPL 3, before POPF: IF=%u IOPL=%u\n", !!(before & EFLAGS_IF),
	       (before & EFLAGS_IOPL) >> 12);
	printf("POPF asked for IF=0: no trap, and after it IF=%u: %s\n", !!(after & EFLAGS_IF),
	       after & EFLAGS_IF ? "left unchanged, silently" : "cleared");

	int sig = sigsetjmp(trapped, 1);
	if (!sig) {
		__asm__ volatile("cli");
		printf("CLI: no trap (IOPL allows it)\n");
	} else {
		printf("CLI: trapped (signal %d, from #GP): privileged instructions trap\n", sig);
	}
	return after & EFLAGS_IF ? 0 : 1;
}
