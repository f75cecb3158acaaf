/* custseg — version and export macros. */
#ifndef CUSTSEG_VERSION_H
#define CUSTSEG_VERSION_H

#define CSEG_VERSION_MAJOR 0
#define CSEG_VERSION_MINOR 1
#define CSEG_VERSION_PATCH 0
#define CSEG_VERSION_STRING "0.1.0"

#if defined(_WIN32)
#define CSEG_API
#elif defined(__GNUC__)
#define CSEG_API __attribute__((visibility("default")))
#else
#define CSEG_API
#endif

#ifdef __cplusplus
extern "C" {
#endif
/* The library's version string, e.g. "0.1.0" (may differ from the header's). */
CSEG_API const char *cseg_version(void);
#ifdef __cplusplus
}
#endif
#endif
