/* Starting the monitor's helper threads (console reader, window, sockets,
 * network, disk I/O, migration sender) so that no signal meant for the
 * vCPU thread lands on them. */
#ifndef BTVM_HOST_THREAD_H
#define BTVM_HOST_THREAD_H

#include <pthread.h>

/* pthread_create with every asynchronous signal blocked in the new thread
 * (the board's timer, kicks, SIGUSR1/SIGTERM dumps are for the vCPU thread);
 * faults stay unblocked so a bug in the thread still reports. Returns 0 or
 * a negative errno. */
int host_thread_create(pthread_t *thread, void *(*start)(void *), void *arg);

#endif
