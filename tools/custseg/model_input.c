/* custseg command line: a file read as the customers of a saved model
 * (assign, drift). */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

size_t cli_input_specs(const cseg_prep *pp, const char *except, cseg_colspec *out)
{
    size_t ns = 0, ni = pp ? cseg_prep_n_inputs(pp) : 0;
    for (size_t j = 0; j < ni; j++) {
        const char *c = cseg_prep_input_name(pp, j);
        if (!except || strcmp(c, except) != 0)
            out[ns++] = (cseg_colspec){
                c, cseg_prep_input_is_category(pp, j) ? CSEG_COL_TEXT : CSEG_COL_NUMBER, 0};
    }
    return ns;
}

int cli_model_file_kind(const cseg_model *m, const char *path, const cseg_csv_params *csv,
                        int *is_table, const char **idcol, size_t *have)
{
    const cseg_prep *pp = cseg_model_prep(m);
    cseg_diag diag;
    cseg_diag_clear(&diag);
    /* Is FILE a customer table with the model's features? Look at its header. */
    cseg_csv *r = NULL;
    int rc = cseg_csv_open(&r, path, csv, &diag);
    if (rc < 0)
        return cli_fail(rc, &diag, path);
    *have = 0;
    for (size_t j = 0; j < cseg_prep_n_inputs(pp); j++)
        for (size_t c = 0; c < cseg_csv_n_columns(r); c++)
            if (strcmp(cseg_csv_column_name(r, c), cseg_prep_input_name(pp, j)) == 0) {
                ++*have;
                break;
            }
    *is_table = *have == cseg_prep_n_inputs(pp);
    int has_customer_id = 0;
    for (size_t c = 0; c < cseg_csv_n_columns(r); c++)
        has_customer_id |= strcmp(cseg_csv_column_name(r, c), CSEG_RFM_COL_CUSTOMER_ID) == 0;
    cseg_csv_close(r);
    *idcol = !*is_table ? NULL
             : cseg_model_source(m) == CSEG_SOURCE_TRANSACTIONS
                 ? (has_customer_id ? CSEG_RFM_COL_CUSTOMER_ID : NULL)
                 : cseg_model_id_column(m);
    return EXIT_OK;
}

int cli_model_customers(const cseg_model *m, const char *path, const cseg_csv_params *csv,
                        int have_as_of, long long as_of, cseg_table **t, const char **idcol)
{
    const cseg_prep *pp = cseg_model_prep(m);
    cseg_diag diag;
    cseg_diag_clear(&diag);
    int rc, is_table, status;
    size_t have;
    *t = NULL;
    *idcol = NULL;
    if ((status = cli_model_file_kind(m, path, csv, &is_table, idcol, &have)) != EXIT_OK)
        return status;
    if (!is_table && cseg_model_source(m) == CSEG_SOURCE_TRANSACTIONS) {
        cseg_txn_roles roles = *cseg_model_roles(m);
        cseg_rfm_params rfm = *cseg_model_rfm(m);
        cseg_table *txn = NULL;
        cseg_table_read_params rp;
        cseg_table_read_params_init(&rp);
        rp.csv = *csv;
        rp.date_format = cseg_model_date_format(m);
        roles.no_detect = 1; /* the model's roles exactly: absent stays absent */
        if (have_as_of)
            rfm.as_of_day = as_of;
        if ((rc = cseg_txn_read(&txn, path, &roles, &rp, &diag)) < 0)
            return cli_fail(rc, &diag, path);
        rc = cseg_rfm_compute(t, txn, &roles, &rfm, NULL, &diag);
        cseg_table_free(txn);
        if (rc < 0)
            return cli_fail(rc, &diag, path);
        *idcol = CSEG_RFM_COL_CUSTOMER_ID;
    } else if (!is_table) {
        return cli_error(EXIT_DATA, "%s: lacks the model's feature columns (%zu of %zu found)",
                         path, have, cseg_prep_n_inputs(pp));
    } else {
        cseg_table_read_params rp;
        cseg_table_read_params_init(&rp);
        rp.csv = *csv;
        /* The id, then the model's columns with their types: a category
         * whose values all look like numbers ("1") is still categories (the
         * streamed assign reads it so; assign, drift and explain of the
         * whole table refused it as numbers), and a number column's value
         * that is not one is named by its line and column ("inf" made drift
         * say only that the column must hold numbers). */
        size_t ns = 0;
        cseg_colspec *specs = calloc(cseg_prep_n_inputs(pp) + 1, sizeof *specs);
        if (!specs)
            return cli_error(EXIT_IO, "out of memory");
        if (*idcol)
            specs[ns++] = (cseg_colspec){*idcol, CSEG_COL_TEXT, 1};
        ns += cli_input_specs(pp, *idcol, specs + ns);
        rp.specs = specs;
        rp.n_specs = ns;
        if ((rc = cseg_table_read_csv(t, path, &rp, &diag)) < 0 && rc == CSEG_ENOCOL && *idcol) {
            /* The id is optional: read without it. */
            rp.specs = specs + 1;
            rp.n_specs = ns - 1;
            *idcol = NULL;
            rc = cseg_table_read_csv(t, path, &rp, &diag);
        }
        free(specs);
        if (rc < 0)
            return cli_fail(rc, &diag, path);
    }
    return EXIT_OK;
}
