/* What seeds.c's main calls in the other seed writers: each target's
 * seeds beyond seeds.c's own come from a file of their own. */
#ifndef BTVM_TESTS_FUZZ_SEEDS_H
#define BTVM_TESTS_FUZZ_SEEDS_H

/* Writes the virtio harness's seeds into outdir/virtio/ (seeds_virtio.c). */
void virtio_seeds(const char *outdir);

/* Writes fuzz_storage.c's seeds into outdir/storage/ (seeds_storage.c). */
void storage_seeds(const char *outdir);

#endif
