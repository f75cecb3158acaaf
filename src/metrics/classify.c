/* custseg — a classifier's scores against the truth (metrics.h). */
#include <stdlib.h>
#include <string.h>

#include "custseg/metrics.h"
#include "../core/internal.h"

int cseg_metrics_classification(const int32_t *truth, const int32_t *pred, size_t n, size_t k,
                                cseg_class_scores *out, size_t *confusion, double *precision,
                                double *recall, double *f1, size_t *support)
{
    if (k == 0 || (n > 0 && (!truth || !pred)))
        return CSEG_EINVAL;
    size_t kk;
    if (cseg__mul(k, k, &kk))
        return CSEG_ENOMEM;
    size_t *cm = calloc(kk, sizeof *cm), *row = calloc(k, sizeof *row), *col = calloc(k, sizeof *col);
    if (!cm || !row || !col) {
        free(cm);
        free(row);
        free(col);
        return CSEG_ENOMEM;
    }
    size_t right = 0;
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        if (truth[i] < 0 || (size_t)truth[i] >= k || pred[i] < 0 || (size_t)pred[i] >= k) {
            rc = CSEG_EINVAL;
            break;
        }
        cm[(size_t)truth[i] * k + (size_t)pred[i]]++;
        row[truth[i]]++;
        col[pred[i]]++;
        right += truth[i] == pred[i];
    }
    cseg_class_scores sc = {0, 0, 0, 0, 0};
    size_t present = 0;
    for (size_t c = 0; c < k && rc == 0; c++) {
        size_t tp = cm[c * k + c];
        double p = col[c] ? (double)tp / (double)col[c] : 0.0;
        double r = row[c] ? (double)tp / (double)row[c] : 0.0;
        double f = p + r > 0 ? 2.0 * p * r / (p + r) : 0.0;
        if (precision)
            precision[c] = p;
        if (recall)
            recall[c] = r;
        if (f1)
            f1[c] = f;
        if (support)
            support[c] = row[c];
        if (row[c] || col[c]) {
            present++;
            sc.macro_precision += p;
            sc.macro_recall += r;
            sc.macro_f1 += f;
        }
        sc.weighted_f1 += f * (double)row[c];
    }
    if (rc == 0) {
        sc.accuracy = n ? (double)right / (double)n : 0.0;
        if (present) {
            sc.macro_precision /= (double)present;
            sc.macro_recall /= (double)present;
            sc.macro_f1 /= (double)present;
        }
        sc.weighted_f1 = n ? sc.weighted_f1 / (double)n : 0.0;
        if (out)
            *out = sc;
        if (confusion)
            memcpy(confusion, cm, kk * sizeof *cm);
    }
    free(cm);
    free(row);
    free(col);
    return rc;
}
