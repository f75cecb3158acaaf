/* custseg serve: shared between the server and the token command. */
#ifndef CUSTSEG_SERVE_H
#define CUSTSEG_SERVE_H

#include <stddef.h>

enum { SERVE_SCOPE_READ = 1, SERVE_SCOPE_WRITE = 2 };

/* The tokens of a token file: SHA-256 hashes and scopes. */
typedef struct serve_tokens {
    size_t n;
    unsigned char (*hash)[32];
    int *scope;
} serve_tokens;

/* Load FILE; an exit status (message printed). */
int serve_tokens_load(serve_tokens *t, const char *path);
void serve_tokens_free(serve_tokens *t);
/* The scopes (SERVE_SCOPE_* bits; write implies read) of a presented token,
 * 0 when it is none of them. Constant time in the token. */
int serve_token_scope(const serve_tokens *t, const char *presented);

int cmd_token(int argc, char **argv);
int cmd_serve(int argc, char **argv);

#endif
