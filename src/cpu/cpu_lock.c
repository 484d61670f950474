/* The machine lock of several vCPUs on host threads of their own (struct
 * cpu_lock): who holds it, the shadow window that follows its holder,
 * translated code entered and left, exclusive sections (every other
 * vCPU out of translated code) and the cache flushes done in them. With
 * one vCPU cpu->lock is NULL and every function here returns at once. */
#include "cpu/cpu.h"

#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <unistd.h>

#include "cache/tcache.h"
#include "host/clock.h"
#include "host/thread.h"
#include "mmu/shadow.h"

/* How long a lock waiter tries before its futex sleep (a time, not a
 * count of PAUSEs, which take 40-140 cycles by vendor and model). */
#define CPU_LOCK_SPIN_NS 100000u

int cpu_lock_init(struct cpu_lock *lock, struct cpu *const *cpus, unsigned n)
{
	assert(n <= CPU_LOCK_MAX_VCPUS);
	/* Adaptive: a waiter spins a moment before it sleeps. Nine holds in
	 * ten are one callout or lookup, under a microsecond, far shorter
	 * than a futex sleep and wake-up; a fork loop at two vCPUs ran 15%
	 * faster (bench/smp, docs/DESIGN.md). */
	pthread_mutexattr_t attr;
	int err = pthread_mutexattr_init(&attr);
	if (err)
		return -err;
	err = pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ADAPTIVE_NP);
	if (!err)
		err = pthread_mutex_init(&lock->mutex, &attr);
	pthread_mutexattr_destroy(&attr);
	if (err)
		return -err;
	err = pthread_cond_init(&lock->changed, NULL);
	if (err) {
		pthread_mutex_destroy(&lock->mutex);
		return -err;
	}
	lock->owner = NULL;
	lock->exclusive = NULL;
	lock->ncpus = n;
	/* A waiter spins a while longer than the adaptive mutex would: the
	 * holds it waits for are mostly the long ones (a host mapping call, a
	 * translation: 10-100 us), which glibc's spin, bounded by the mean of
	 * recent spins (nearly all short), never covers, and a futex sleep
	 * and its wake-up cost a system call on each side and, on a
	 * virtualized host, an IPI (a fork loop at two vCPUs on the quiet
	 * 2-core Xeon: 2.6-2.8 s before, 2.3-2.4 after; docs/DESIGN.md). Not
	 * when the vCPUs outnumber the host CPUs this process may use: a
	 * holder may then wait for the very CPU its waiter spins on. */
	lock->spin = (unsigned)host_cpus_allowed() >= n;
	for (unsigned i = 0; i < n; i++) {
		lock->cpus[i] = cpus[i];
		cpus[i]->lock = lock;
		cpus[i]->pause_budget = CPU_PAUSE_BUDGET;
	}
	/* Other threads' requests read it (cpu_request_attention). */
	__atomic_store_n(&cpus[0]->tc->concurrent, n > 1, __ATOMIC_RELEASE);
	return 0;
}

void cpu_lock_destroy(struct cpu_lock *lock)
{
	for (unsigned i = 0; i < lock->ncpus; i++)
		lock->cpus[i]->lock = NULL;
	if (lock->ncpus)
		__atomic_store_n(&lock->cpus[0]->tc->concurrent, false, __ATOMIC_RELEASE);
	pthread_cond_destroy(&lock->changed);
	pthread_mutex_destroy(&lock->mutex);
	lock->ncpus = 0;
}

/* The lock is cpu's now; the shadow's current window (and the tags it
 * tells) were another vCPU's: this one's own again. The window is the
 * one the vCPU runs in unless another vCPU's flush dropped it meanwhile,
 * and then GS moves with the selection (per thread). */
static void took_over(struct cpu *cpu)
{
	struct cpu_lock *lock = cpu->lock;
	if (lock->owner == cpu)
		return;
	lock->owner = cpu;
	cpu->stats.lock_handoffs++;
	cpu->sh->space_opaque = cpu;
	cpu->sh->cur_view = -2;
	if (cpu_select_window(cpu) < 0)
		cpu_request_attention(cpu);   /* the run loop's selection reports it */
	if (cpu->plat && cpu->plat->acquired)
		cpu->plat->acquired(cpu->plat->opaque);
}

void cpu_lock_reclaim(struct cpu *cpu)
{
	if (!cpu->lock)
		return;
	cpu->lock->owner = NULL;
	took_over(cpu);
}

/* Tries for a held lock for up to CPU_LOCK_SPIN_NS before the futex
 * sleep (host_spin_turn: PAUSEs, the host CPU given up now and then).
 * True when taken. */
static bool spin_for(struct cpu_lock *lock)
{
	if (!lock->spin)
		return false;
	uint64_t deadline = host_monotonic_ns() + CPU_LOCK_SPIN_NS;
	for (unsigned turn = 0; host_spin_turn(turn, deadline); turn++)
		if (!pthread_mutex_trylock(&lock->mutex))
			return true;
	return false;
}

void cpu_lock_acquire(struct cpu *cpu)
{
	if (cpu->lock_depth++ > 0)
		return;
	cpu->stats.lock_acquires++;
	if (pthread_mutex_trylock(&cpu->lock->mutex)) {
		cpu->stats.lock_waits++;
		if (!spin_for(cpu->lock))
			pthread_mutex_lock(&cpu->lock->mutex);
	}
	took_over(cpu);
}

void cpu_lock_release(struct cpu *cpu)
{
	assert(cpu->lock_depth > 0);
	if (--cpu->lock_depth == 0)
		pthread_mutex_unlock(&cpu->lock->mutex);
}

/* A wait on the condition gives the mutex up: whoever held it meanwhile
 * may have moved the shadow's selection. */
void cpu_lock_wait(struct cpu *cpu)
{
	pthread_cond_wait(&cpu->lock->changed, &cpu->lock->mutex);
	took_over(cpu);
}

void cpu_lock_broadcast(struct cpu *cpu)
{
	pthread_cond_broadcast(&cpu->lock->changed);
}

void cpu_enter_guest_unlocking(struct cpu *cpu)
{
	cpu->in_guest = true;
	cpu_unlock(cpu);
	assert(cpu->lock_depth == 0);
}

void cpu_drop_memop_hold(struct cpu *cpu)
{
	if (cpu->memop.direct)
		cpu_memop_direct_done(cpu);   /* it may have written the RAM before it ended */
	if (cpu->memop.lock_held) {
		cpu->memop.lock_held = false;
		cpu_unlock(cpu);
	}
}

void cpu_leave_guest_locking(struct cpu *cpu)
{
	cpu_lock(cpu);
	cpu_drop_memop_hold(cpu);
	cpu->in_guest = false;
	if (cpu->lock->exclusive)
		pthread_cond_broadcast(&cpu->lock->changed);
}

static bool others_in_guest(const struct cpu *cpu)
{
	const struct cpu_lock *lock = cpu->lock;
	for (unsigned i = 0; i < lock->ncpus; i++)
		if (lock->cpus[i] != cpu && lock->cpus[i]->in_guest)
			return true;
	return false;
}

void cpu_exclusive_begin(struct cpu *cpu)
{
	struct cpu_lock *lock = cpu->lock;
	if (!lock)
		return;
	if (lock->exclusive == cpu) {
		lock->exclusive_depth++;
		return;
	}
	while (lock->exclusive)
		cpu_lock_wait(cpu);
	cpu->stats.exclusive_sections++;
	lock->exclusive = cpu;
	lock->exclusive_depth = 1;
	for (unsigned i = 0; i < lock->ncpus; i++)
		if (lock->cpus[i] != cpu && lock->cpus[i]->in_guest)
			cpu_request_attention(lock->cpus[i]);
	while (others_in_guest(cpu))
		cpu_lock_wait(cpu);
}

void cpu_exclusive_end(struct cpu *cpu)
{
	struct cpu_lock *lock = cpu->lock;
	if (!lock)
		return;
	assert(lock->exclusive == cpu);
	if (--lock->exclusive_depth > 0)
		return;
	lock->exclusive = NULL;
	pthread_cond_broadcast(&lock->changed);
}

void cpu_safe_point(struct cpu *cpu)
{
	struct cpu_lock *lock = cpu->lock;
	if (!lock)
		return;
	while (lock->exclusive && lock->exclusive != cpu)
		cpu_lock_wait(cpu);
	if ((cpu->tc->flush_pending || cpu->tc->room_pending) && lock->exclusive != cpu) {
		cpu_exclusive_begin(cpu);
		/* Another vCPU's section may have flushed or made room
		 * meanwhile (either clears what it did). */
		if (cpu->tc->flush_pending)
			tcache_flush(cpu->tc, &cpu->ibl_table);
		else if (cpu->tc->room_pending)
			tcache_make_room(cpu->tc, &cpu->ibl_table);
		cpu_exclusive_end(cpu);
	}
}

void cpu_pause_yield(struct cpu *cpu)
{
	cpu->pause_budget = CPU_PAUSE_BUDGET;
	cpu->stats.pause_yields++;
	cpu_unlock(cpu);
	sched_yield();
	cpu_lock(cpu);
}

void cpu_flush_translations(struct cpu *cpu)
{
	if (!cpu->lock || cpu->lock->exclusive == cpu) {
		tcache_flush(cpu->tc, &cpu->ibl_table);
		return;
	}
	cpu->tc->flush_pending = true;
	/* Until the flush, nothing may reach the old translations through
	 * the tables: this vCPU's lookups go to the run loop. */
	ibl_clear(&cpu->ibl_table);
	cpu_request_attention(cpu);
}
