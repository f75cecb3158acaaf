/* custseg — private pieces of the segmentation pipeline, shared by the
 * pipeline (segment.c), compare (compare.c) and the outputs (output.c). */
#ifndef CUSTSEG_SEGMENT_INTERNAL_H
#define CUSTSEG_SEGMENT_INTERNAL_H

#include "../core/internal.h"
#include "../kmeans/internal.h"
#include "custseg/metrics.h"
#include "custseg/report.h"
#include "custseg/segment.h"
#include <jansson.h>

/* A segmentation of customers held in pieces (MPI ranks: src/mpi/segment.c),
 * each piece a block of rows after the previous piece's, starting on a span
 * (CSEG_KMEANS_SPAN); NULL everywhere for one process. Every piece runs the
 * same pipeline over its rows and learns of the others through these hooks,
 * called in the same order on every piece; each returns 0 or a negative
 * code, the same on every piece. Only k-means is spread (the others are
 * refused before the call). */
typedef struct cseg__seg_split {
    const cseg__split_comm *sc; /* counts and exact sums, order statistics, text levels */
    const cseg__km_comm *km;    /* k-means and the sums by span; km->n_all: every customer */
    void *ctx;
    /* The first failure among the pieces (key: the input's line, 0 for
     * none; the lowest key wins): its code and diagnostic on every piece. */
    int (*agree)(void *ctx, int rc, int64_t key, cseg_diag *d);
    /* cseg_metrics_silhouette of the rows of every piece (p->sample_size
     * of them drawn as one process draws them). */
    int (*silhouette)(void *ctx, const double *X, size_t n, size_t d, const int32_t *labels,
                      const cseg_silhouette_params *p, double *score);
    /* Every piece's len bytes at mine, in piece order, to every piece: *all
     * (malloc'ed; NULL on failure) holds *total bytes. */
    int (*allgather)(void *ctx, const void *mine, size_t len, char **all, size_t *total);
    /* Bytes to each piece: send holds count[q] bytes for piece q, pieces in
     * order; *recv (malloc'ed) receives what each piece sent this one,
     * pieces in order, got[q] bytes from piece q (count and got: km->size
     * entries). */
    int (*exchange)(void *ctx, const char *send, const size_t *count, char **recv, size_t *got);
} cseg__seg_split;

/* One candidate k of one algorithm: the public row plus the labels and the
 * fitted object (cseg_kmeans, cseg_gmm or cseg_dbscan; NULL for hclust, whose
 * tree is shared by every candidate). */
typedef struct cseg__cand {
    cseg_candidate c;
    int32_t *labels; /* n training labels, -1 = noise */
    void *obj;
} cseg__cand;

typedef struct cseg__fit {
    cseg_algo algo;
    cseg_linkage linkage;
    cseg__cand *c;
    size_t n, chosen;
    const char *rule;
    cseg_hclust *tree;
    double eps;
    size_t min_samples;
    int eps_suggested;
    size_t k_sample; /* candidates fitted and scored on this many customers (0: all) */
    /* With k_sample: the chosen k's final fit on every customer, scored on
     * them all (the k table keeps the sample's scores); has_final 0: none. */
    cseg_candidate final;
    int has_final;
} cseg__fit;

/* The previous run's segments and how this run's match them (previous.c);
 * segment indices are this run's final ones. */
typedef struct cseg__prev {
    size_t kp;             /* previous segments */
    char **names;          /* kp: their names */
    size_t *prev_size;     /* kp: their customers in the previous run */
    long *of_prev;         /* kp: the segment it became, -1: vanished */
    long *of_new;          /* k: the previous segment it continues, -1: new */
    double *jaccard, *dist; /* k: overlap and centre distance to it (NaN for a new one) */
    size_t *migration;     /* kp x k: customers of both runs, previous x new segment */
    size_t shared;         /* customers of both runs */
    double ari;            /* adjusted Rand index over them */
} cseg__prev;

/* Silhouette sample size for n customers (0 = exact). */
size_t cseg__sil_sample(const cseg_segment_params *p, size_t n);
/* DBSCAN min_samples for model dimension d. */
size_t cseg__min_samples(const cseg_segment_params *p, size_t d);

/* Call the progress callback; CSEG_ECANCELED when it asks to stop. */
int cseg__progress(const cseg_segment_params *p, cseg_stage stage, size_t k, size_t done,
                   size_t total, size_t n, size_t d);
void cseg__log(const cseg_segment_params *p, cseg_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Fit every candidate of p->algo on Z (n x d) and choose one; scores = 0
 * skips the indices and progress = 0 the callback. Returns 0 or a CSEG_E*
 * code (diag filled). f is always left freeable. */
/* p->max_memory, 0 resolved to 80% of physical memory. */
size_t cseg__max_memory(const cseg_segment_params *p);
/* CSEG_ERANGE (with d) when p asks for a range of k whose every k is
 * beyond what n customers make (n - 1 segments at most); else 0. */
int cseg__k_range_check(const cseg_segment_params *p, size_t n, cseg_diag *d);
/* The note that a k range is cut to n - 1 (k up to n - 1 are tried). */
void cseg__k_range_note(const cseg_segment_params *p, size_t n);
int cseg__fit_run(const cseg_segment_params *p, const double *Z, size_t n, size_t d,
                  cseg__fit *f, int scores, int progress, cseg_diag *diag);
/* cseg__fit_run (scores and progress on) of the rows of every piece, this
 * one's n rows at Z; split NULL: one process. Algorithms other than k-means:
 * CSEG_EINVAL with split. */
int cseg__fit_run_split(const cseg_segment_params *p, const double *Z, size_t n, size_t d,
                        cseg__fit *f, const cseg__seg_split *split, cseg_diag *diag);
void cseg__fit_free(cseg__fit *f);
/* Free candidate t's labels and fitted object (its row stays). */
void cseg__fit_release(cseg__fit *f, size_t t);
/* Install candidate ci in m with cluster s renumbered newid[s] (newid NULL:
 * as fitted; the fitted object is then handed over). m may have no prep. */
int cseg__fit_install(cseg__fit *f, size_t ci, const size_t *newid, const double *Z, size_t n,
                      size_t d, cseg_model *m);
/* Fit every candidate of p on Ztr (no scores) and give every row of Z a
 * label by each candidate's saved-model rule (cseg_model_predict): labels
 * receives *n_out rows of n labels, the first candidates', at most room. */
int cseg__fit_predict(const cseg_segment_params *p, const double *Ztr, size_t ntr, const double *Z,
                      size_t n, size_t d, size_t room, size_t *n_out, int32_t *labels,
                      cseg_diag *diag);

/* The prepared input shared by segment and compare: the customer table
 * (owned for transactions), the features, and a model with its source set. */
typedef struct cseg__input {
    const cseg_table *customers;
    cseg_table *owned;            /* the RFM table of a transaction log, else NULL */
    const char *id_column;
    const char **features;        /* n_features names (the array is owned) */
    size_t n_features;
    const char *revenue_column;   /* NULL for customer tables */
    int rfm;                      /* name by RFM scores */
    int has_quality;
    cseg_quality quality;
    cseg_model *model;
    int has_clv_check;            /* run --clv: BG/NBD checked on the last quarter */
    cseg_clv_check clv_check;
} cseg__input;

int cseg__input_transactions(cseg__input *in, const cseg_table *txn, const cseg_txn_roles *roles,
                             const char *date_format, const cseg_rfm_params *rfm,
                             const cseg_segment_params *p, cseg_diag *d);
int cseg__input_customers(cseg__input *in, const cseg_table *customers, const char *id_column,
                          const cseg_segment_params *p, cseg_diag *d);
void cseg__input_free(cseg__input *in);
/* Fit prep (and PCA) on the input, hand them to in->model and return the
 * model-space matrix (n x *d, malloc'd) in *Z. split: the preprocessing
 * fitted on every piece's rows, this piece's transformed (no PCA). */
int cseg__prepare(const cseg_segment_params *p, cseg__input *in, const cseg__seg_split *split,
                  double **Z, size_t *d, cseg_diag *diag);

/* Warnings about a degenerate segmentation (degenerate.c). */
#define CSEG__MAX_WARNINGS 4
typedef struct cseg__warnings {
    size_t n;
    char code[CSEG__MAX_WARNINGS][24];
    char msg[CSEG__MAX_WARNINGS][256];
} cseg__warnings;
/* Check labels (n rows, segments 0..k-1, outlier the Outliers segment, -1
 * for none, -2 when the Outliers are the rows labelled < 0; rows[i] the table
 * row of label i, NULL: the same) against the rules
 * in degenerate.c; w (optional) receives the messages. Returns a bit set
 * (0: fine) or CSEG_ENOMEM. */
int cseg__degenerate(const int32_t *labels, size_t n, size_t k, long outlier,
                     const cseg_table *t, const size_t *rows, const char *id_column,
                     const char *revenue_column, const char *const *names, cseg__warnings *w);

/* cseg__degenerate over every piece's rows (split NULL: one process;
 * rows must be NULL with pieces); every piece gets the same flags and
 * warnings. */
int cseg__degenerate_split(const int32_t *labels, size_t n, size_t k, long outlier,
                           const cseg_table *t, const size_t *rows, const char *id_column,
                           const char *revenue_column, const char *const *names, cseg__warnings *w,
                           const cseg__seg_split *split);

/* A warning (code, then printf's format) added to w, unless w is NULL or full. */
int cseg__warn(cseg__warnings *w, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The result of cseg_segment_*. */
struct cseg_segmentation {
    cseg_segment_params p; /* as used: strings point into the copies below */
    cseg_progress_fn write_progress; /* cseg_segment_set_progress */
    void *write_progress_user;
    double *X; /* the customers in model space (n x X_dim): the report's points */
    size_t X_dim;
    char *input_name, *id_column, **names, **feats, **audits;
    cseg__input in;
    cseg_table *table; /* the customers plus the output columns */
    size_t n, k;       /* n: the rows here (split: this piece's) */
    size_t n_all;      /* every customer (split: of every piece) */
    const cseg__seg_split *split; /* during the call; NULL: one process */
    int spread;                   /* made over pieces: the rows here are this piece's */
    int32_t *labels;
    double *dist, *proba;
    cseg__fit fit;     /* the candidates (labels and objects released once done), the tree */
    cseg_candidate *cands;
    cseg_profile *prof;
    size_t mismatch;
    cseg__warnings warn;
    char *json;
    cseg__prev *prev; /* with p.previous */
};

/* cseg_segment_customers of the customers that are every piece's part
 * (part: this piece's rows, starting on a span; see cseg__seg_split), on
 * every piece: the same model, k table and profiles, and this piece's
 * labels, distances and output table, bit for bit as one process gives
 * them, and the same segments.json, warnings and rules. Refused: previous,
 * algorithms other than k-means, PCA on fewer customers than model
 * features, and a fit the rule for new customers disagrees with. Every
 * piece returns the same code and diag. */
int cseg__segment_customers_split(cseg_segmentation **out, const cseg_table *part,
                                  const char *id_column, const cseg_segment_params *p,
                                  const cseg__seg_split *split, cseg_diag *d);

/* The files of an output folder (cseg_segment_write_all), in that order:
 * customers.csv, segments.json, model.json, report.html, dendrogram.csv,
 * dendrogram.json. */
extern const char *const cseg__segment_outputs_names[6];

/* cseg_segment_rfm of the customers of a log that are every piece's part
 * (cseg_mpi_rfm_compute_csv_part's blocks; q the cleaning counts of all),
 * as cseg__segment_customers_split does a customer table. */
int cseg__segment_rfm_split(cseg_segmentation **out, const cseg_table *part, const cseg_quality *q,
                            const cseg_txn_roles *roles, const char *date_format,
                            const cseg_rfm_params *rfm, const cseg_segment_params *p,
                            const cseg__seg_split *split, cseg_diag *d);

/* CSEG_STAGE_WRITE of file (done of total steps) to r's writing callback
 * (cseg_segment_set_progress): 0 to go on, else the callback asks to stop. */
int cseg__segment_tell_write(const cseg_segmentation *r, const char *file, size_t done,
                             size_t total);

/* What the report of r is composed from (cseg_report_compose). */
void cseg__segment_report_input(const cseg_segmentation *r, cseg_log_fn log, void *log_user,
                                cseg_report_input *in);

/* Build segments.json (r->json) and the model's training metadata. */
int cseg__segment_outputs(cseg_segmentation *r, cseg_diag *d);


/* Match this run's segments (labels: ordered 0..k-1, the first kc clusters
 * matched, DBSCAN's Outliers kc stays) with p->previous: perm[j] is segment
 * j's final index. X: the model-space rows (n x d); m transforms the
 * previous customers. */
int cseg__prev_match(const cseg_segment_params *p, const cseg_table *cust, const char *id_column,
                     const cseg_model *m, const double *X, size_t n, size_t d,
                     const int32_t *labels, size_t k, size_t kc, size_t *perm, cseg__prev **out,
                     cseg_diag *diag);
void cseg__prev_free(cseg__prev *pv);

/* segments.json's "audit" (NULL in *out without audited columns). */
int cseg__audit_json(const cseg_segmentation *r, json_t **out, cseg_diag *d);

/* JSON helpers for the outputs. */
json_t *cseg__jnum(double v);
/* Dump j indented (2), 17 significant digits, keys in order: malloc'd text. */
char *cseg__json_text(const json_t *j);
/* Write text and a newline to path atomically. */
int cseg__write_text(const char *text, const char *path, cseg_diag *d);

#endif
