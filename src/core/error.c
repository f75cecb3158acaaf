/* custseg — error table, diagnostics and small core helpers. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "custseg/error.h"
#include "internal.h"

static const char *const cseg_messages[] = {
#define CSEG__M(name, msg) msg,
    CSEG_ERRNO_MAP(CSEG__M)
#undef CSEG__M
};
static const char *const cseg_names[] = {
#define CSEG__N(name, msg) "CSEG_E" #name,
    CSEG_ERRNO_MAP(CSEG__N)
#undef CSEG__N
};

const char *cseg_version(void)
{
    return CSEG_VERSION_STRING;
}

const char *cseg_strerror(int code)
{
    if (code == 0)
        return "success";
    if (code < 0 && -code - 1 < (int)CSEG__EIDX_COUNT)
        return cseg_messages[-code - 1];
    return "unknown error";
}

const char *cseg_err_name(int code)
{
    if (code == 0)
        return "CSEG_OK";
    if (code < 0 && -code - 1 < (int)CSEG__EIDX_COUNT)
        return cseg_names[-code - 1];
    return "CSEG_EUNKNOWN";
}

void cseg_diag_clear(cseg_diag *d)
{
    if (d)
        memset(d, 0, sizeof *d);
}

char *cseg_diag_format(const cseg_diag *d, char *buf, unsigned long size)
{
    size_t off = 0;
    if (!size)
        return buf;
    buf[0] = 0;
    if (!d)
        return buf;
    if (d->file[0]) {
        int w = snprintf(buf, size, "%s:", d->file);
        off = w > 0 ? (size_t)w : 0;
        if (d->line > 0 && off < size) {
            w = snprintf(buf + off, size - off, "%ld:", d->line);
            off += w > 0 ? (size_t)w : 0;
            if (d->col > 0 && off < size) {
                w = snprintf(buf + off, size - off, "%ld:", d->col);
                off += w > 0 ? (size_t)w : 0;
            }
        }
        if (off < size) {
            w = snprintf(buf + off, size - off, " ");
            off += w > 0 ? (size_t)w : 0;
        }
    }
    if (off < size)
        snprintf(buf + off, size - off, "%s", d->msg);
    return buf;
}

int cseg__diag(cseg_diag *d, int code, const char *file, long line, long col, const char *fmt,
               ...)
{
    if (!d)
        return code;
    memset(d, 0, sizeof *d);
    if (file)
        snprintf(d->file, sizeof d->file, "%s", file);
    d->line = line;
    d->col = col;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->msg, sizeof d->msg, fmt, ap);
    va_end(ap);
    /* A long message (a long column name quoted) cut between characters. */
    cseg__utf8_chop(d->file);
    cseg__utf8_chop(d->msg);
    return code;
}
