/* Segment the customers of a transaction log through the public API: the
 * same pipeline as `custseg run` (docs/library.md walks through it).
 * Build: cc segment_log.c $(pkg-config --cflags --libs custseg)
 * Usage: segment_log LOG.csv[.gz] [OUTDIR]   (OUTDIR: an existing folder) */
#include <stdio.h>
#include <custseg/custseg.h>

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s LOG.csv[.gz] [OUTDIR]\n", argv[0]);
        return 2;
    }
    cseg_diag diag;
    cseg_txn_roles roles = {0}; /* empty: columns detected from the header */
    cseg_table *txn = NULL;
    cseg_segmentation *seg = NULL;
    int rc = cseg_txn_read(&txn, argv[1], &roles, NULL, &diag);
    if (rc == 0) {
        cseg_segment_params p;
        cseg_segment_params_init(&p); /* k-means, k chosen in 2..10, RFM features */
        p.input_name = argv[1];
        p.seed = 42;
        rc = cseg_segment_transactions(&seg, txn, &roles, NULL, NULL, &p, &diag);
    }
    cseg_table_free(txn);
    if (rc < 0) {
        char buf[1200];
        fprintf(stderr, "error: %s\n", diag.msg[0] || diag.file[0]
                                           ? cseg_diag_format(&diag, buf, sizeof buf)
                                           : cseg_strerror(rc));
        return 1;
    }
    const cseg_profile *prof = cseg_segment_profile(seg);
    printf("%zu customers in %zu segments (%s)\n", cseg_segment_n(seg), cseg_segment_k(seg),
           cseg_segment_rule(seg));
    for (size_t s = 0; s < cseg_segment_k(seg); s++)
        printf("  %-20s %6zu customers  %5.1f%% of revenue\n", cseg_profile_name(prof, s),
               cseg_profile_size(prof, s), 100 * cseg_profile_revenue_share(prof, s));
    if (argc > 2) { /* the files `custseg run` writes, but the report */
        char path[3][4096];
        snprintf(path[0], sizeof path[0], "%s/customers.csv", argv[2]);
        snprintf(path[1], sizeof path[1], "%s/segments.json", argv[2]);
        snprintf(path[2], sizeof path[2], "%s/model.json", argv[2]);
        if ((rc = cseg_segment_write_customers(seg, path[0], &diag)) == 0 &&
            (rc = cseg_segment_write_json(seg, path[1], &diag)) == 0)
            rc = cseg_model_save(cseg_segment_model(seg), path[2], &diag);
        if (rc < 0)
            fprintf(stderr, "error: %s: %s\n", diag.file, diag.msg);
    }
    cseg_segment_free(seg);
    return rc < 0 ? 1 : 0;
}
