/* The reverse map's node lists (struct shadow_node, in sh->nodes): per
 * guest frame the (window, linear page) pairs that map it, and per table
 * page the regions and directories derived from it. Nodes are numbered
 * from 1 (0 ends a list) and come from one array that doubles when full. */
#include "mmu/shadow.h"
#include "mmu/shadow_internal.h"

#include <errno.h>
#include <stdlib.h>

static int node_alloc(struct shadow *sh, uint32_t *out)
{
	if (!sh->nodes_free) {
		uint32_t cap = sh->nodes_cap ? sh->nodes_cap * 2 : 4096;
		/* realloc from the fault handler is safe: the signal interrupted
		 * translated code on this thread, never the allocator. */
		struct shadow_node *n = realloc(sh->nodes, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		for (uint32_t i = sh->nodes_cap; i < cap; i++)
			n[i].next = i + 1 < cap ? i + 2 : 0;
		sh->nodes = n;
		sh->nodes_free = sh->nodes_cap + 1;
		sh->nodes_cap = cap;
	}
	*out = sh->nodes_free;
	sh->nodes_free = sh->nodes[*out - 1].next;
	return 0;
}

int shadow__list_add(struct shadow *sh, uint32_t *head, uint16_t win, uint32_t key, uint32_t *out)
{
	uint32_t id;
	int err = node_alloc(sh, &id);
	if (err)
		return err;
	struct shadow_node *n = &sh->nodes[id - 1];
	n->win = win;
	n->key = key;
	n->next = *head;
	n->prev = 0;
	if (*head)
		sh->nodes[*head - 1].prev = id;
	*head = id;
	if (out)
		*out = id;
	return 0;
}

void shadow__list_unlink(struct shadow *sh, uint32_t *head, uint32_t id)
{
	struct shadow_node *n = &sh->nodes[id - 1];
	if (n->prev)
		sh->nodes[n->prev - 1].next = n->next;
	else
		*head = n->next;
	if (n->next)
		sh->nodes[n->next - 1].prev = n->prev;
	n->next = sh->nodes_free;
	sh->nodes_free = id;
}

bool shadow__list_remove(struct shadow *sh, uint32_t *head, uint16_t win, uint32_t key)
{
	for (uint32_t id = *head; id; id = sh->nodes[id - 1].next) {
		const struct shadow_node *n = &sh->nodes[id - 1];
		if (n->win == win && n->key == key) {
			shadow__list_unlink(sh, head, id);
			return true;
		}
	}
	return false;
}
