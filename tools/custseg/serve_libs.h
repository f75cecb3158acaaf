/* custseg serve: libmicrohttpd and libcurl, opened by serve (dlopen) rather
 * than linked, like the library's optional libraries (src/core/dl.c): with
 * their TLS, Kerberos and LDAP dependencies they delayed the start of every
 * command, serve or not. Called through serve_mhd and serve_curl, filled
 * once by serve_libs_load before the server's threads start. */
#ifndef CUSTSEG_SERVE_LIBS_H
#define CUSTSEG_SERVE_LIBS_H

/* curl_easy_setopt and curl_easy_getinfo as plain functions, not the type
 * checking macros, so that they can be called through the table. */
#define CURL_DISABLE_TYPECHECK
#include <curl/curl.h>
#include <microhttpd.h>

#define SERVE_MHD_FUNCS(X)                                                                        \
    X(MHD_add_response_header) X(MHD_create_response_from_buffer) X(MHD_destroy_response)       \
    X(MHD_get_daemon_info) X(MHD_is_feature_supported) X(MHD_lookup_connection_value)            \
    X(MHD_queue_response) X(MHD_resume_connection) X(MHD_start_daemon) X(MHD_stop_daemon)        \
    X(MHD_suspend_connection)
#define SERVE_CURL_FUNCS(X)                                                                       \
    X(curl_easy_cleanup) X(curl_easy_getinfo) X(curl_easy_init) X(curl_easy_perform)             \
    X(curl_easy_setopt) X(curl_easy_strerror) X(curl_global_cleanup) X(curl_global_init)         \
    X(curl_slist_append) X(curl_slist_free_all)

#define SERVE_LIBS_FIELD(f) __typeof__(&f) f;
typedef struct serve_mhd_fns {
    SERVE_MHD_FUNCS(SERVE_LIBS_FIELD)
} serve_mhd_fns;
typedef struct serve_curl_fns {
    SERVE_CURL_FUNCS(SERVE_LIBS_FIELD)
} serve_curl_fns;
#undef SERVE_LIBS_FIELD
extern serve_mhd_fns serve_mhd;
extern serve_curl_fns serve_curl;

/* Opens libmicrohttpd, and libcurl too when curl is set (--webhook); an
 * exit status (the message printed, naming the library and its Debian
 * package). */
int serve_libs_load(int curl);

#endif
