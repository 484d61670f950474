/* A minimal assertion kit for the unit tests: each CHECK that fails prints
 * where and why, and the test's exit status tells CTest the outcome. */
#ifndef BTVM_TESTS_CHECK_H
#define BTVM_TESTS_CHECK_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int check_failures;
static int check_count;

#define CHECK(cond)                                                                  \
	do {                                                                         \
		check_count++;                                                       \
		if (!(cond)) {                                                       \
			check_failures++;                                            \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, \
				#cond);                                              \
		}                                                                    \
	} while (0)

#define CHECK_EQ(a, b)                                                               \
	do {                                                                         \
		uint64_t check_a_ = (uint64_t)(a), check_b_ = (uint64_t)(b);         \
		check_count++;                                                       \
		if (check_a_ != check_b_) {                                          \
			check_failures++;                                            \
			fprintf(stderr, "%s:%d: CHECK_EQ failed: %s == %s (0x%" PRIx64 \
				" != 0x%" PRIx64 ")\n", __FILE__, __LINE__, #a, #b,  \
				check_a_, check_b_);                                 \
		}                                                                    \
	} while (0)

#define CHECK_STR_CONTAINS(hay, needle)                                              \
	do {                                                                         \
		check_count++;                                                       \
		if (!strstr((hay), (needle))) {                                      \
			check_failures++;                                            \
			fprintf(stderr, "%s:%d: \"%s\" does not contain \"%s\"\n",   \
				__FILE__, __LINE__, (hay), (needle));                \
		}                                                                    \
	} while (0)

static inline int check_report(const char *name)
{
	printf("%s: %d checks, %d failed\n", name, check_count, check_failures);
	return check_failures ? 1 : 0;
}

#endif
