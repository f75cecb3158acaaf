/* custseg — libpq, opened when a PostgreSQL store or source is first
 * connected (core/dl.c) instead of linked: with its dependencies (Kerberos,
 * LDAP, TLS) it delayed the start of every command. Its functions are
 * called through cseg__pq, filled once per process by cseg__pq_load before
 * the first connection and not changed afterwards. */
#ifndef CUSTSEG_STORE_PQ_H
#define CUSTSEG_STORE_PQ_H

#include <libpq-fe.h>

#include "../core/internal.h"

#define CSEG_PQ_FUNCS(X)                                                                          \
    X(PQclear) X(PQconnectdb) X(PQdescribePrepared) X(PQerrorMessage) X(PQexec)                  \
    X(PQexecParams) X(PQfinish) X(PQfname) X(PQfreemem) X(PQftype) X(PQgetCopyData)             \
    X(PQgetResult) X(PQgetisnull) X(PQgetvalue) X(PQnfields) X(PQprepare) X(PQputCopyData)      \
    X(PQputCopyEnd) X(PQresultErrorField) X(PQresultStatus) X(PQsendQueryParams)                \
    X(PQsetNoticeProcessor) X(PQsetSingleRowMode) X(PQstatus)

typedef struct cseg__pq_fns {
#define CSEG_PQ_FIELD(f) __typeof__(&f) f;
    CSEG_PQ_FUNCS(CSEG_PQ_FIELD)
#undef CSEG_PQ_FIELD
} cseg__pq_fns;
extern cseg__pq_fns cseg__pq;

/* Opens libpq on the first call; 0, or CSEG_EIO with d saying that libpq
 * (Debian package libpq5) cannot be loaded. */
int cseg__pq_load(cseg_diag *d);

#endif
