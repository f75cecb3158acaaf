/* libFuzzer target: the segments.json reader of the report
 * (cseg_report_compose, report.h), as `custseg report OUTDIR` runs it.
 *
 * The input bytes are the segments.json text; everything else is fixed and
 * valid, built once: four small segmentations made with the library itself
 * (a transaction log with k-means, and a customer table with a Gaussian
 * mixture, Ward's hierarchical clustering with its merge tree, and DBSCAN),
 * each giving the model, the customer table and the labels. Each input is
 * composed with each of them and the page written to a scratch file
 * (cseg_report_write). No crash; a failure is a negative code with a diag
 * message, and a page that composed must be written.
 *
 * Files this process writes are capped at 64 MiB (RLIMIT_FSIZE, SIGXFSZ
 * ignored): a page is ~100 KB, and a page that never ends (a loop that
 * writes forever) then fails to write instead of filling /dev/shm before the
 * fuzzer's timeout stops it. */
#include <signal.h>
#include <sys/resource.h>

#include "fuzz_common.h"

#define N_FIX 4

typedef struct fixture {
    cseg_table *input; /* the customer table (the result shares its columns) */
    cseg_segmentation *seg;
    const double *linkage;
    size_t n_leaves;
} fixture;

static fixture fix[N_FIX];
static char out_path[256];
static int ready;

static void cleanup(void)
{
    for (int i = 0; i < N_FIX; i++) {
        cseg_segment_free(fix[i].seg);
        cseg_table_free(fix[i].input);
    }
    unlink(out_path);
}

static cseg_table *read_text(const char *text, int as_log, cseg_txn_roles *roles)
{
    char path[256];
    fuzz_tmp_path(path, sizeof path, "report_fixture.csv");
    fuzz_write_file(path, (const uint8_t *)text, strlen(text));
    cseg_table *t = NULL;
    cseg_diag d;
    cseg_diag_clear(&d);
    int rc = as_log ? cseg_txn_read(&t, path, roles, NULL, &d)
                    : cseg_table_read_csv(&t, path, NULL, &d);
    unlink(path);
    if (rc != 0)
        FUZZ_FAIL("fixture table: %s", d.msg);
    return t;
}

static void make_fixtures(void)
{
    struct rlimit rl;
    const rlim_t cap = (rlim_t)64 << 20;
    if (getrlimit(RLIMIT_FSIZE, &rl) == 0 && (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > cap)) {
        rl.rlim_cur = cap;
        setrlimit(RLIMIT_FSIZE, &rl);
        signal(SIGXFSZ, SIG_IGN);
    }
    /* A transaction log: 12 customers of three kinds (recent and frequent,
     * occasional, long gone), one return. */
    static char log[8192];
    size_t len = 0;
    len += (size_t)snprintf(log + len, sizeof log - len,
                            "InvoiceNo,StockCode,Quantity,InvoiceDate,UnitPrice,CustomerID\n");
    int inv = 1000;
    for (int c = 0; c < 12; c++) {
        int kind = c % 3, orders = kind == 0 ? 6 : kind == 1 ? 2 : 1;
        for (int o = 0; o < orders; o++) {
            int month = kind == 0 ? 7 + o % 6 : kind == 1 ? 4 + o : 1 + c % 3;
            len += (size_t)snprintf(log + len, sizeof log - len,
                                    "%d,P%d,%d,2021-%02d-%02d 10:%02d:00,%d.%d,%d\n", inv++, o,
                                    1 + (c + o) % 5, month > 12 ? 12 : month, 1 + (c * 7 + o) % 27,
                                    o, 2 + kind * 3 + c % 4, c % 10, 17000 + c);
        }
    }
    len += (size_t)snprintf(log + len, sizeof log - len,
                            "C%d,P1,-1,2021-11-02 09:00:00,3.5,17000\n", inv);
    static const char customers[] =
        "CustomerID,Income,Score,Genre,Since\n"
        "1,15,39,Male,2020-01-01\n2,16,81,Male,2020-01-02\n3,17,6,Female,2020-01-03\n"
        "4,18,77,Female,2020-01-04\n5,19,40,Female,2020-01-05\n6,20,76,Female,2020-01-06\n"
        "7,60,50,Male,2020-01-07\n8,61,49,Female,2020-01-08\n9,62,55,Male,2020-01-09\n"
        "10,63,47,Female,2020-01-10\n11,64,52,Male,2020-01-11\n12,65,48,Female,2020-01-12\n"
        "13,100,90,Male,2020-01-13\n14,101,12,Female,2020-01-14\n15,103,95,Male,2020-01-15\n"
        "16,105,9,Female,2020-01-16\n17,99,88,Male,2020-01-17\n18,102,15,Male,2020-01-18\n"
        "19,250,99,Female,2020-01-19\n20,61,51,Male,2020-01-20\n";
    for (int i = 0; i < N_FIX; i++) {
        cseg_segment_params p;
        cseg_segment_params_init(&p);
        p.n_threads = 1;
        p.seed = 7;
        p.input_name = "fuzz/fixture.csv";
        cseg_diag d;
        cseg_diag_clear(&d);
        int rc;
        if (i == 0) {
            cseg_txn_roles roles;
            memset(&roles, 0, sizeof roles);
            cseg_table *txn = read_text(log, 1, &roles);
            p.k_max = 4;
            rc = cseg_segment_transactions(&fix[i].seg, txn, &roles, NULL, NULL, &p, &d);
            cseg_table_free(txn);
        } else {
            fix[i].input = read_text(customers, 0, NULL);
            if (i == 1) {
                p.algo = CSEG_ALGO_GMM;
                p.k_max = 3;
            } else if (i == 2) {
                p.algo = CSEG_ALGO_HCLUST;
                p.linkage = CSEG_LINKAGE_WARD;
                p.k = 3;
            } else {
                p.algo = CSEG_ALGO_DBSCAN;
                p.eps = 0.8;
                p.min_samples = 3;
            }
            rc = cseg_segment_customers(&fix[i].seg, fix[i].input, "CustomerID", &p, &d);
        }
        if (rc != 0)
            FUZZ_FAIL("fixture %d: %s: %s", i, cseg_err_name(rc), d.msg);
        fix[i].linkage = cseg_segment_linkage(fix[i].seg, &fix[i].n_leaves, NULL);
    }
    fuzz_tmp_path(out_path, sizeof out_path, "report.html");
    atexit(cleanup);
    ready = 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!ready)
        make_fixtures();
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    if (size)
        memcpy(text, data, size);
    text[size] = 0;
    for (int i = 0; i < N_FIX; i++) {
        const cseg_segmentation *s = fix[i].seg;
        cseg_report_input in;
        memset(&in, 0, sizeof in);
        in.segments_json = text;
        in.model = cseg_segment_model(s);
        in.customers = cseg_segment_table(s);
        in.labels = cseg_segment_labels(s);
        in.id_column = cseg_segment_id_column(s);
        in.linkage = fix[i].linkage;
        in.n_leaves = fix[i].n_leaves;
        in.n_threads = 1;
        in.seed = 42;
        cseg_report *r = NULL;
        if (cseg_report_create(&r) != 0)
            break;
        cseg_diag d;
        cseg_diag_clear(&d);
        int rc = cseg_report_compose(r, &in, &d);
        fuzz_check_code(rc, &d, "cseg_report_compose");
        if (rc == 0) {
            cseg_diag_clear(&d);
            rc = cseg_report_write(r, out_path, &d);
            if (rc != 0)
                FUZZ_FAIL("fixture %d: a composed report does not write: %s: %s", i,
                          cseg_err_name(rc), d.msg);
        }
        cseg_report_free(r);
    }
    free(text);
    return 0;
}
