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

/* cpuid_topology (--smp): one package of n cores, APIC IDs 0..n-1; the
 * answers for one CPU stay cpuid_model's. */
static struct cpuid_result topo(uint32_t leaf, uint32_t subleaf, unsigned id, unsigned n)
{
	struct cpuid_result r = cpuid_model(leaf, subleaf, true, 0);
	cpuid_topology(&r, leaf, subleaf, id, n);
	return r;
}

static void test_topology(void)
{
	/* Three CPUs span four IDs (two bits). */
	struct cpuid_result r = topo(1, 0, 2, 3);
	struct cpuid_result one = cpuid_model(1, 0, true, 0);
	CHECK_EQ(r.ebx >> 24, 2);
	CHECK_EQ((r.ebx >> 16) & 0xff, 4);
	CHECK_EQ(r.ebx & 0xffff, one.ebx & 0xffff);   /* CLFLUSH line kept */
	CHECK(r.edx & CPUID_1D_HTT);
	CHECK(!(one.edx & CPUID_1D_HTT));
	CHECK_EQ(r.eax, one.eax);
	CHECK_EQ(r.ecx, one.ecx);
	r = topo(0xb, 0, 2, 3);
	CHECK_EQ(r.eax & 0x1f, 0);
	CHECK_EQ(r.ebx & 0xffff, 1);
	CHECK_EQ((r.ecx >> 8) & 0xff, 1);   /* SMT */
	CHECK_EQ(r.edx, 2);
	r = topo(0xb, 1, 2, 3);
	CHECK_EQ(r.eax & 0x1f, 2);
	CHECK_EQ(r.ebx & 0xffff, 3);
	CHECK_EQ((r.ecx >> 8) & 0xff, 2);   /* core */
	CHECK_EQ(r.edx, 2);
	r = topo(0xb, 2, 2, 3);
	CHECK_EQ((r.ecx >> 8) & 0xff, 0);   /* the end of the list */
	CHECK_EQ(r.edx, 2);
	/* Leaf 4: the cores in the package less one; the L3 (subleaf 3)
	 * shared by them, L1 and L2 each core's own. */
	for (uint32_t sub = 0; sub < 4; sub++) {
		r = topo(4, sub, 1, 8);
		CHECK_EQ(r.eax >> 26, 7);
		CHECK_EQ((r.eax >> 14) & 0xfff, sub == 3 ? 7u : 0u);
	}
	r = topo(4, 4, 1, 8);
	CHECK_EQ(r.eax, 0);   /* the null cache ends the list as before */
	/* Eight CPUs: three bits. */
	r = topo(0xb, 1, 7, 8);
	CHECK_EQ(r.eax & 0x1f, 3);
	CHECK_EQ(r.ebx & 0xffff, 8);
	CHECK_EQ(topo(1, 0, 7, 8).ebx >> 16, (7u << 8) | 8u);
}

int main(void)
{
	test_rates();
	test_no_rate();
	test_topology();
	return check_report("test_cpuid");
}
