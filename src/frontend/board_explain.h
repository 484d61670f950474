/* --explain, --trap-and-emulate and --profile on the board: set-up (with
 * the guest's symbols), the text reports and the JSON form. */
#ifndef BTVM_BOARD_EXPLAIN_H
#define BTVM_BOARD_EXPLAIN_H

#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

struct board;

/* Does nothing unless cfg asks; 0, or -1 with one line in err. */
int board_explain_init(struct board *board, char *err, size_t err_len);
void board_explain_destroy(struct board *board);
/* The reports asked for: --profile's hot blocks, --explain's table,
 * --trap-and-emulate's differences. */
void board_explain_print(struct board *board, FILE *out);
/* The "sensitive" array of --stats-json (empty without --explain). */
json_t *board_explain_json(const struct board *board);

#endif
