/* custseg — text into JSON without losing it. jansson's json_string()
 * returns NULL for text that is not valid UTF-8, and a NULL value set into
 * an object silently leaves its key out: a segment name cut inside a
 * character once vanished from model.json that way, and the model could no
 * longer be read. Every reader refuses such text, so none should get here;
 * if some does, each byte that does not begin a valid character is written
 * as U+FFFD instead, and the key stays. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

json_t *cseg__jstr(const char *s)
{
    if (!s)
        return NULL;
    size_t len = strlen(s), bad = cseg__utf8_invalid_at(s, len);
    if (bad == len)
        return json_stringn(s, len);
    char *fix = malloc(3 * len + 1), *o = fix;
    if (!fix)
        return NULL;
    for (size_t i = 0; i < len;) {
        size_t ok = cseg__utf8_invalid_at(s + i, len - i);
        memcpy(o, s + i, ok);
        o += ok;
        i += ok;
        if (i < len) {
            memcpy(o, "\xEF\xBF\xBD", 3);
            o += 3;
            i++;
        }
    }
    json_t *j = json_stringn(fix, (size_t)(o - fix));
    free(fix);
    return j;
}
