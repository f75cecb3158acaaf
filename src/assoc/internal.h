/* custseg — association rules internals: the basket store. */
#ifndef CUSTSEG_ASSOC_INTERNAL_H
#define CUSTSEG_ASSOC_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

struct cseg_baskets {
    size_t n, n_items;
    size_t *start;     /* n + 1 offsets into items */
    int32_t *items;    /* each basket's distinct items, sorted */
    char **item_names; /* n_items */
    int32_t *customer; /* per basket: index into cust_names, or -1 (NULL: none known) */
    char **cust_names;
    size_t n_cust;
    int32_t *segment; /* per basket: 0..k-1, or -1 (NULL before set_segments) */
    size_t k;
    char **seg_names; /* k */
};

/* A string -> index map (interning) for item and customer names. */
typedef struct cseg__strmap {
    size_t cap, n;
    int32_t *slot; /* cap slots: index or -1 */
    char **names;  /* n names (owned) */
    size_t names_cap;
} cseg__strmap;

int cseg__strmap_init(cseg__strmap *m);
/* Index of s (added when new); -1 when out of memory. */
int32_t cseg__strmap_get(cseg__strmap *m, const char *s, size_t len, int add);
void cseg__strmap_free(cseg__strmap *m);

#endif
