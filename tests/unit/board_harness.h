/* A board around the guest kernel named by a white-box unit test's one
 * argument, for the tests that drive its vCPUs or devices directly. */
#ifndef BTVM_TESTS_BOARD_HARNESS_H
#define BTVM_TESTS_BOARD_HARNESS_H

#include <stdio.h>

#include "machine/board_internal.h"

/* The board for cfg (its kernel_path set here from argv), or NULL after
 * the usage line or the reason on stderr, with *status the test's exit
 * status: 2 for bad usage, 1 when the board cannot be made. */
static inline struct board *harness_board(const char *test, int argc, char **argv,
					  struct board_config cfg, int *status)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s GUEST.elf\n", test);
		*status = 2;
		return NULL;
	}
	cfg.kernel_path = argv[1];
	struct board *b;
	char err[256];
	if (board_create(&b, &cfg, err, sizeof(err))) {
		fprintf(stderr, "%s: %s\n", test, err);
		*status = 1;
		return NULL;
	}
	return b;
}

#endif
