/* custseg serve: libmicrohttpd and libcurl opened with dlopen (serve_libs.h). */
#include <dlfcn.h>

#include "cli.h"
#include "serve_libs.h"

/* One function of an X-macro list from handle h into table.f, or the
 * resolver returns its name. */
#define RESOLVE(table, f)                                                                          \
    if (!(*(void **)&(table).f = dlsym(h, #f)))                                                    \
        return #f;

serve_mhd_fns serve_mhd;
serve_curl_fns serve_curl;

static const char *mhd_resolve(void *h)
{
#define SYM(f) RESOLVE(serve_mhd, f)
    SERVE_MHD_FUNCS(SYM)
#undef SYM
    return NULL;
}

static const char *curl_resolve(void *h)
{
#define SYM(f) RESOLVE(serve_curl, f)
    SERVE_CURL_FUNCS(SYM)
#undef SYM
    return NULL;
}

/* Each library once per process; the handle is kept to the end. */
static int load(const char *soname, const char *package, const char *(*resolve)(void *),
                int *state)
{
    if (*state == 0) {
        void *h = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
        const char *missing = NULL;
        if (!h)
            cli_error(EXIT_IO, "serve needs %s (Debian package %s): %s", soname, package,
                      dlerror());
        else if ((missing = resolve(h)) != NULL)
            cli_error(EXIT_IO, "serve needs %s from %s (Debian package %s)", missing, soname,
                      package);
        *state = h && !missing ? 1 : -1;
    }
    return *state == 1 ? EXIT_OK : EXIT_IO;
}

int serve_libs_load(int curl)
{
    static int mhd_state, curl_state; /* 0 not tried, 1 loaded, -1 failed (told) */
    int status = load(CSEG_SONAME_MHD, "libmicrohttpd12", mhd_resolve, &mhd_state);
    if (status == EXIT_OK && curl)
        status = load(CSEG_SONAME_CURL, "libcurl4", curl_resolve, &curl_state);
    return status;
}
