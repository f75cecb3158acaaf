/* custseg — libraries opened when first needed (dlopen), not linked.
 *
 * libpq (PostgreSQL stores and sources), LAPACKE (eigenvectors of more
 * than CSEG_EIG_JACOBI_MAX dimensions) and LIBLINEAR (linear SVMs) serve a
 * few calls each, yet linked they were loaded by every program using
 * custseg, with their dependencies (Kerberos, LDAP, TLS, OpenBLAS,
 * gfortran): on the 2-core machine of bench/README.md an empty program
 * linked with custseg's libraries started in 29-30 ms, 16-18 ms without
 * libpq and the CLI's libcurl and libmicrohttpd, 3 ms with none, which was
 * a tenth of assigning a million customers. systemd opens its optional
 * libraries the same way. Each library is opened once per process, under a
 * lock, its functions resolved into a table the caller keeps for the rest
 * of the process; a library that cannot be opened fails the call that
 * needs it, with its name and the package that has it. */
#include <dlfcn.h>
#include <stdio.h>

#include "internal.h"

int cseg__dl_load(cseg__dl *lib, cseg_diag *d)
{
    pthread_mutex_lock(&lib->lock);
    if (lib->state == 0) {
        void *h = dlopen(lib->soname, RTLD_NOW | RTLD_LOCAL);
        const char *missing = h ? lib->resolve(h) : NULL;
        if (!h)
            snprintf(lib->why, sizeof lib->why, "cannot load %s (%s; Debian package %s): %s",
                     lib->soname, lib->what, lib->package, dlerror());
        else if (missing)
            snprintf(lib->why, sizeof lib->why, "%s lacks %s (%s; Debian package %s)",
                     lib->soname, missing, lib->what, lib->package);
        lib->state = h && !missing ? 1 : -1;
        /* A library without one of its functions stays open: closing it
         * could unload what another part of the process uses. */
    }
    int ok = lib->state == 1;
    pthread_mutex_unlock(&lib->lock);
    return ok ? 0 : cseg__diag(d, CSEG_EIO, NULL, 0, 0, "%s", lib->why);
}
