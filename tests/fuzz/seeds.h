/* What the seed writer's files share: each target's seeds beyond seeds.c's
 * own come from a file of their own, called from seeds.c's main. */
#ifndef BTVM_TESTS_FUZZ_SEEDS_H
#define BTVM_TESTS_FUZZ_SEEDS_H

/* Writes the virtio harness's seeds into outdir/virtio/ (seeds_virtio.c). */
void virtio_seeds(const char *outdir);

#endif
