/* custseg — error codes and diagnostics.
 *
 * Every fallible function returns 0 on success or one negative CSEG_E* code.
 * The codes and their messages come from the single table CSEG_ERRNO_MAP, so
 * cseg_strerror() and cseg_err_name() can never drift from the enum.
 * Parsers additionally fill an optional cseg_diag with the file, line and
 * column of the problem and a message written for the person who made the file.
 */
#ifndef CUSTSEG_ERROR_H
#define CUSTSEG_ERROR_H

#include "custseg/version.h"

#ifdef __cplusplus
extern "C" {
#endif

/* X(name, message). Order fixes the numeric values: first is -1. */
#define CSEG_ERRNO_MAP(X)                                                      \
    X(NOMEM, "out of memory")                                                  \
    X(INVAL, "invalid argument")                                               \
    X(IO, "input/output error")                                                \
    X(PARSE, "malformed input")                                                \
    X(NOCOL, "required column missing")                                        \
    X(EMPTY, "no usable data")                                                 \
    X(RANGE, "value out of range")                                             \
    X(FORMAT, "unsupported file format or version")                            \
    X(TOOBIG, "problem too large for the memory limit")                        \
    X(NOTFIT, "model is not fitted")                                           \
    X(PARAM, "parameter does not fit the data")                                \
    X(CANCELED, "canceled")

enum { CSEG_OK = 0 };

/* The codes themselves: CSEG_ENOMEM = -1, CSEG_EINVAL = -2, ... */
enum cseg_errno {
#define CSEG__E(name, msg) CSEG__EIDX_##name,
    CSEG_ERRNO_MAP(CSEG__E)
#undef CSEG__E
    CSEG__EIDX_COUNT
};
#define CSEG__ECODE(name) (-1 - (int)CSEG__EIDX_##name)
#define CSEG_ENOMEM CSEG__ECODE(NOMEM)
#define CSEG_EINVAL CSEG__ECODE(INVAL)
#define CSEG_EIO CSEG__ECODE(IO)
#define CSEG_EPARSE CSEG__ECODE(PARSE)
#define CSEG_ENOCOL CSEG__ECODE(NOCOL)
#define CSEG_EEMPTY CSEG__ECODE(EMPTY)
#define CSEG_ERANGE CSEG__ECODE(RANGE)
#define CSEG_EFORMAT CSEG__ECODE(FORMAT)
#define CSEG_ETOOBIG CSEG__ECODE(TOOBIG)
#define CSEG_ENOTFIT CSEG__ECODE(NOTFIT)
#define CSEG_EPARAM CSEG__ECODE(PARAM)
#define CSEG_ECANCELED CSEG__ECODE(CANCELED)

/* Where and why an input was rejected. line and col are 1-based; 0 means
 * "not applicable". msg is a complete sentence fragment without the location,
 * e.g. `expected a number in column "Quantity", got "abc"`. */
typedef struct cseg_diag {
    char file[512];
    long line;
    long col;
    char msg[512];
} cseg_diag;

/* Notes on the way (a sampled tree, a column left out), for the caller to
 * show or not: the library never prints. msg is a sentence fragment without
 * a trailing newline, valid during the call. */
typedef enum cseg_log_level {
    CSEG_LOG_NOTE = 0, /* worth telling the user */
    CSEG_LOG_DETAIL,   /* for a verbose mode */
    CSEG_LOG_WARNING   /* a result that may mislead (a degenerate segmentation) */
} cseg_log_level;
typedef void (*cseg_log_fn)(cseg_log_level level, const char *msg, void *user);

/* Message for a code ("out of memory"); "unknown error" for anything else. */
CSEG_API const char *cseg_strerror(int code);
/* Symbolic name for a code ("CSEG_ENOMEM"); "CSEG_EUNKNOWN" for anything else. */
CSEG_API const char *cseg_err_name(int code);

/* Clear a diagnostic. Accepts NULL. */
CSEG_API void cseg_diag_clear(cseg_diag *d);
/* Format "file:line:col: msg" (parts that are unset are left out) into buf.
 * Returns buf. Thread-safe. */
CSEG_API char *cseg_diag_format(const cseg_diag *d, char *buf, unsigned long size);

#ifdef __cplusplus
}
#endif
#endif
