/* The benchmark guest's main (on the guest runtime, rt/guest.h): x87/SSE
 * set-up, the iteration count from the Multiboot command line ("iters=N")
 * and the stack's offset ("pad=N", 0-4095 bytes: bench_run_padded), the
 * run, the result line on COM1, and the exception report. */
#include "bench.h"
#include "guest.h"

void guest_main(uint32_t magic, const uint32_t *info)
{
	if (magic != MB_BOOT_MAGIC) {
		rt_puts("bench: bad Multiboot magic 0x");
		rt_puthex(magic);
		rt_putchar('\n');
		rt_exit(RT_EXIT_FAIL);
	}
	rt_idt_catch_exceptions();
	rt_idt_load(32);
	rt_fpu_init();
	const char *arg = rt_cmdline_value(info, "iters=");
	uint32_t iters = arg ? rt_parse_u32(arg) : 0;
	if (!iters)
		iters = bench_workload.default_iters;
	arg = rt_cmdline_value(info, "pad=");
	uint32_t pad = arg ? rt_parse_u32(arg) : 0;
	if (pad > 4095 || (arg && !pad && arg[0] != '0')) {
		rt_puts("bench: pad= takes 0-4095\n");
		rt_exit(RT_EXIT_FAIL);
	}
	uint32_t sum = bench_run_padded(&bench_workload, iters, pad);
	bench_report(&bench_workload, iters, sum);
	rt_exit(RT_EXIT_PASS);
}

void rt_exception(const uint32_t *frame)
{
	rt_puts("bench ");
	rt_puts(bench_workload.name);
	rt_puts(": ");
	rt_put_exception(frame);
	rt_putchar('\n');
	rt_exit(RT_EXIT_FAIL);
}
