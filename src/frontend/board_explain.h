/* --explain, --trap-and-emulate and --profile on the board: the guest's
 * symbols that name places, the text reports and the JSON form. The
 * vCPUs keep the counts (machine/board.c sets them up from the
 * configuration); this front end only reads them. */
#ifndef BTVM_BOARD_EXPLAIN_H
#define BTVM_BOARD_EXPLAIN_H

#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

struct board;
struct board_explain;

/* Loads the symbols the configuration names (--symbols, or a Multiboot
 * kernel's own). 0, or a negative errno with one line in err. */
int board_explain_open(struct board_explain **out, struct board *board, char *err,
		       size_t err_len);
void board_explain_close(struct board_explain *ex);
/* The reports asked for: --profile's hot blocks, --explain's table,
 * --trap-and-emulate's differences. */
void board_explain_print(struct board_explain *ex, FILE *out);
/* The "sensitive" array of --stats-json (empty without --explain). */
json_t *board_explain_json(const struct board_explain *ex);

#endif
