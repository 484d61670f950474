/* Double-precision n-body: the five outer bodies of the solar system,
 * advanced with a symplectic Euler step; the checksum folds in the bit
 * patterns of the final energy and positions. Built twice: for x87 (the
 * -m32 default) as "nbody" and with -msse2 -mfpmath=sse as "nbody-sse"
 * (BENCH_SSE defined). Both must agree between native and guest bit for
 * bit, since the code and the FPU control words are the same. */
#include "bench.h"

#ifdef BENCH_SSE
#define NAME "nbody-sse"
#else
#define NAME "nbody"
#endif

#define BODIES 5
#define PI 3.141592653589793
#define SOLAR_MASS (4 * PI * PI)
#define DAYS_PER_YEAR 365.24

struct body {
	double x, y, z, vx, vy, vz, mass;
};

static const struct body initial[BODIES] = {
	{ 0, 0, 0, 0, 0, 0, SOLAR_MASS },
	{ 4.84143144246472090e+00, -1.16032004402742839e+00, -1.03622044471123109e-01,
	  1.66007664274403694e-03 * DAYS_PER_YEAR, 7.69901118419740425e-03 * DAYS_PER_YEAR,
	  -6.90460016972063023e-05 * DAYS_PER_YEAR, 9.54791938424326609e-04 * SOLAR_MASS },
	{ 8.34336671824457987e+00, 4.12479856412430479e+00, -4.03523417114321381e-01,
	  -2.76742510726862411e-03 * DAYS_PER_YEAR, 4.99852801234917238e-03 * DAYS_PER_YEAR,
	  2.30417297573763929e-05 * DAYS_PER_YEAR, 2.85885980666130812e-04 * SOLAR_MASS },
	{ 1.28943695621391310e+01, -1.51111514016986312e+01, -2.23307578892655734e-01,
	  2.96460137564761618e-03 * DAYS_PER_YEAR, 2.37847173959480950e-03 * DAYS_PER_YEAR,
	  -2.96589568540237556e-05 * DAYS_PER_YEAR, 4.36624404335156298e-05 * SOLAR_MASS },
	{ 1.53796971148509165e+01, -2.59193146099879641e+01, 1.79258772950371181e-01,
	  2.68067772490389322e-03 * DAYS_PER_YEAR, 1.62824170038242295e-03 * DAYS_PER_YEAR,
	  -9.51592254519715870e-05 * DAYS_PER_YEAR, 5.15138902046611451e-05 * SOLAR_MASS },
};

static struct body bodies[BODIES];

static void advance(double dt)
{
	for (int i = 0; i < BODIES; i++) {
		struct body *bi = &bodies[i];
		for (int j = i + 1; j < BODIES; j++) {
			struct body *bj = &bodies[j];
			double dx = bi->x - bj->x, dy = bi->y - bj->y, dz = bi->z - bj->z;
			double d2 = dx * dx + dy * dy + dz * dz;
			double mag = dt / (d2 * __builtin_sqrt(d2));
			bi->vx -= dx * bj->mass * mag;
			bi->vy -= dy * bj->mass * mag;
			bi->vz -= dz * bj->mass * mag;
			bj->vx += dx * bi->mass * mag;
			bj->vy += dy * bi->mass * mag;
			bj->vz += dz * bi->mass * mag;
		}
	}
	for (int i = 0; i < BODIES; i++) {
		bodies[i].x += dt * bodies[i].vx;
		bodies[i].y += dt * bodies[i].vy;
		bodies[i].z += dt * bodies[i].vz;
	}
}

static double energy(void)
{
	double e = 0;
	for (int i = 0; i < BODIES; i++) {
		const struct body *bi = &bodies[i];
		e += 0.5 * bi->mass * (bi->vx * bi->vx + bi->vy * bi->vy + bi->vz * bi->vz);
		for (int j = i + 1; j < BODIES; j++) {
			const struct body *bj = &bodies[j];
			double dx = bi->x - bj->x, dy = bi->y - bj->y, dz = bi->z - bj->z;
			e -= bi->mass * bj->mass / __builtin_sqrt(dx * dx + dy * dy + dz * dz);
		}
	}
	return e;
}

static uint64_t bits(double d)
{
	uint64_t u;
	memcpy(&u, &d, sizeof(u));
	return u;
}

static uint32_t nbody_run(uint32_t iters)
{
	for (int i = 0; i < BODIES; i++)
		bodies[i] = initial[i];
	/* Offset the sun's momentum so the system's is zero. */
	double px = 0, py = 0, pz = 0;
	for (int i = 0; i < BODIES; i++) {
		px += bodies[i].vx * bodies[i].mass;
		py += bodies[i].vy * bodies[i].mass;
		pz += bodies[i].vz * bodies[i].mass;
	}
	bodies[0].vx = -px / SOLAR_MASS;
	bodies[0].vy = -py / SOLAR_MASS;
	bodies[0].vz = -pz / SOLAR_MASS;

	uint32_t h = bench_mix64(2166136261u, bits(energy()));
	for (uint32_t k = 0; k < iters; k++)
		for (int s = 0; s < 1000; s++)
			advance(0.01);
	h = bench_mix64(h, bits(energy()));
	for (int i = 0; i < BODIES; i++) {
		h = bench_mix64(h, bits(bodies[i].x));
		h = bench_mix64(h, bits(bodies[i].y));
		h = bench_mix64(h, bits(bodies[i].z));
	}
	return h;
}

const struct bench_workload bench_workload = { NAME, 10000, nbody_run };
