/* What seeds.c's main calls in the other seed writers. */
#ifndef BTVM_TESTS_FUZZ_SEEDS_H
#define BTVM_TESTS_FUZZ_SEEDS_H

/* Writes fuzz_storage.c's seeds into outdir/storage/ (seeds_storage.c). */
void storage_seeds(const char *outdir);

#endif
