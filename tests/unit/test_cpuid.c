/* CPUID's two answers about the TSC's rate (isa/cpuid.c): leaf 0x15's
 * fraction of the crystal and leaf 0x16's base frequency in MHz. Linux
 * takes tsc_khz from the first (native_calibrate_tsc: crystal kHz * EBX /
 * EAX in 32 bits, truncated) and cpu_khz from the second
 * (cpu_khz_from_cpuid: EAX * 1000); a guest must find the same whole MHz
 * in both, for rates across 0.8-4.3 GHz and those just below or above a
 * whole MHz, where the host's rate truncated (leaf 0x16 before) and the
 * fraction's rate used to part (2599 against 2600 at 2.6 GHz). */
#include "check.h"
#include "isa/cpuid.h"

/* Leaf 0x15's rate in kHz as Linux computes it; 0 without one. */
static uint32_t linux_tsc_khz(uint64_t tsc_hz)
{
	struct cpuid_result r = cpuid_model(0x15, 0, true, tsc_hz);
	if (!r.eax || !r.ebx || !r.ecx)
		return 0;
	uint32_t crystal_khz = r.ecx / 1000;
	return (uint32_t)(crystal_khz * r.ebx) / r.eax;   /* unsigned int, as tsc.c */
}

/* The leaves for one rate: 0x16's base and maximum are 0x15's MHz, its
 * bus the crystal's; false (and a line) when they disagree. */
static bool leaves_agree(uint64_t tsc_hz)
{
	uint32_t khz = linux_tsc_khz(tsc_hz);
	struct cpuid_result r = cpuid_model(0x16, 0, true, tsc_hz);
	bool ok = khz && r.eax == khz / 1000 && r.ebx == r.eax && r.ecx == CPUID_CRYSTAL_HZ / 1000000;
	if (!ok)
		fprintf(stderr, "test_cpuid: %" PRIu64 " Hz: leaf 0x15 %u kHz, leaf 0x16 %u/%u/%u MHz\n",
			tsc_hz, khz, r.eax, r.ebx, r.ecx);
	return ok;
}

static void test_rates(void)
{
	/* Whole MHz from 0.8 to 4.3 GHz (every 7th), exactly and a few Hz
	 * to a few kHz either side, where the two used to part. */
	static const int64_t offsets[] = { 0, -1, 1, -13, -499, 499, -1999 };
	unsigned bad = 0, tried = 0;
	for (uint64_t mhz = 800; mhz <= 4300; mhz += 7)
		for (unsigned i = 0; i < sizeof(offsets) / sizeof(offsets[0]); i++) {
			tried++;
			bad += !leaves_agree((uint64_t)((int64_t)(mhz * 1000000) + offsets[i]));
		}
	/* This project's hosts: 2.6 GHz (Xeon) and a measured Zen 4 rate. */
	tried += 2;
	bad += !leaves_agree(2599999987ull);
	bad += !leaves_agree(4491523000ull);
	CHECK(tried > 3000);
	CHECK_EQ(bad, 0);
}

static void test_no_rate(void)
{
	/* No rate known: both leaves answer zeros, leaf 0 still reaches
	 * 0x16. */
	struct cpuid_result r = cpuid_model(0x15, 0, true, 0);
	CHECK_EQ(r.eax | r.ebx | r.ecx | r.edx, 0);
	r = cpuid_model(0x16, 0, true, 0);
	CHECK_EQ(r.eax | r.ebx | r.ecx | r.edx, 0);
	CHECK_EQ(cpuid_model(0, 0, true, 0).eax, 0x16);
}

int main(void)
{
	test_rates();
	test_no_rate();
	return check_report("test_cpuid");
}
