/* config_json.c — checked reads of the config's JSON values: each wrong type,
 * out-of-range value or unknown key is an error naming the file and key path;
 * duplicate keys at any depth, lists and repeated values in a list. */
#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_internal.h"

int get_string(P *p, const cJSON *it, const char *key, char *out, size_t n)
{
    if (!cJSON_IsString(it)) FAIL(p, key, "must be a string");
    if (strlen(it->valuestring) >= n) FAIL(p, key, "is too long (max %zu characters)", n - 1);
    snprintf(out, n, "%s", it->valuestring);
    return 0;
}

int get_bool(P *p, const cJSON *it, const char *key, bool *out)
{
    if (!cJSON_IsBool(it)) FAIL(p, key, "must be true or false");
    *out = cJSON_IsTrue(it);
    return 0;
}

int get_int(P *p, const cJSON *it, const char *key, long lo, long hi, long *out)
{
    if (!cJSON_IsNumber(it) || it->valuedouble != floor(it->valuedouble))
        FAIL(p, key, "must be an integer");
    double v = it->valuedouble;
    if (v < (double)lo || v > (double)hi)
        FAIL(p, key, "%g is out of range [%ld, %ld]", v, lo, hi);
    *out = (long)v;
    return 0;
}

int get_choice(P *p, const cJSON *it, const char *key, const char *const *choices,
                      int n, int *out)
{
    if (!cJSON_IsString(it)) FAIL(p, key, "must be a string");
    for (int i = 0; i < n; i++)
        if (strcmp(it->valuestring, choices[i]) == 0) {
            *out = i;
            return 0;
        }
    char list[256];
    lqa_join(list, sizeof list, choices, n, ", ");
    FAIL(p, key, "unknown value \"%s\" (expected one of: %s)", it->valuestring, list);
}

/* Reject keys of obj that are not in `known` (at the top level: nor model options). */
int check_keys(P *p, const cJSON *obj, const char *prefix, const char *const *known)
{
    for (const cJSON *it = obj->child; it; it = it->next) {
        bool ok = !prefix[0] && model_option_find(it->string);
        for (int i = 0; known[i]; i++)
            if (strcmp(it->string, known[i]) == 0) ok = true;
        if (!ok) {
            char key[256];
            snprintf(key, sizeof key, "%s%s", prefix, it->string);
            FAIL(p, key, "unknown key");
        }
    }
    return 0;
}

void sanitize_label(char *s)
{
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '-' || *s == '_' || *s == '.'))
            *s = '_';
}

/* Names and labels become file names: each must be one path component. Other
 * characters outside [A-Za-z0-9._-] are replaced by '_' (sanitize_label). */
int check_component(P *p, const char *key, const char *v)
{
    if (!v[0]) FAIL(p, key, "must not be empty");
    if (strcmp(v, ".") == 0 || strcmp(v, "..") == 0) FAIL(p, key, "\"%s\" is not a valid name", v);
    for (const char *q = v; *q; q++) {
        if (*q == '/') FAIL(p, key, "must not contain '/' (it names files and folders)");
        if ((unsigned char)*q < 0x20 || *q == 0x7f) FAIL(p, key, "must not contain control characters");
    }
    return 0;
}

/* Duplicate keys, at any depth: cJSON keeps both, and lookups would take one
 * silently. Objects are checked by sorting their key names. */
static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int check_duplicates(P *p, const cJSON *it, const char *path)
{
    if (!cJSON_IsObject(it) && !cJSON_IsArray(it)) return 0;
    int n = 0, rc = 0;
    for (const cJSON *c = it->child; c; c = c->next) n++;
    if (cJSON_IsObject(it) && n > 1) {
        const char **names = malloc((size_t)n * sizeof *names);
        if (!names) return lqa_errf(p->err, "%s: out of memory checking %s", p->file, path);
        int k = 0;
        for (const cJSON *c = it->child; c; c = c->next) names[k++] = c->string;
        qsort(names, (size_t)n, sizeof *names, cmp_str);
        for (k = 1; k < n && !rc; k++)
            if (strcmp(names[k], names[k - 1]) == 0) {
                char key[300];
                snprintf(key, sizeof key, "%s%s%.200s", path, path[0] ? "." : "", names[k]);
                rc = lqa_errf(p->err, "%s: %s: duplicate key", p->file, key);
            }
        free(names);
        if (rc) return rc;
    }
    int i = 0;
    for (const cJSON *c = it->child; c; c = c->next, i++) {
        char sub[300];
        if (cJSON_IsObject(it)) snprintf(sub, sizeof sub, "%s%s%.200s", path, path[0] ? "." : "", c->string);
        else snprintf(sub, sizeof sub, "%.250s[%d]", path, i);
        if (check_duplicates(p, c, sub)) return -1;
    }
    return 0;
}

int parse_list(P *p, const cJSON *it, const char *key, ElemCheck chk, const void *spec,
                      Axis *ax)
{
    int n = cJSON_GetArraySize(it);
    if (n == 0) FAIL(p, key, "must not be an empty list");
    ax->v = calloc((size_t)n, sizeof(double));
    if (!ax->v) return lqa_errf(p->err, "%s: %s: out of memory", p->file, key);
    ax->n = n;
    int i = 0;
    for (const cJSON *v = it->child; v; v = v->next, i++) {
        char k[256];
        snprintf(k, sizeof k, "%s[%d]", key, i);
        if (chk(p, v, k, spec, &ax->v[i])) return -1;
    }
    return 0;
}

typedef struct ValIdx {
    double v;
    int i;
} ValIdx;

static int cmp_validx(const void *a, const void *b)
{
    const ValIdx *x = a, *y = b;
    if (x->v != y->v) return x->v < y->v ? -1 : 1;
    return x->i - y->i;
}

/* Two values of one list that print alike ("%g", as run ids do) would give
 * identical run ids: an error naming the second (sorted, not pairwise). */
int check_list_duplicates(P *p, const double *v, int n, const char *key)
{
    if (n < 2) return 0;
    ValIdx *s = malloc((size_t)n * sizeof *s);
    if (!s) return lqa_errf(p->err, "%s: %s: out of memory", p->file, key);
    for (int i = 0; i < n; i++) {
        char b[32];
        snprintf(b, sizeof b, "%g", v[i]);
        s[i].v = strtod(b, NULL);
        s[i].i = i;
    }
    qsort(s, (size_t)n, sizeof *s, cmp_validx);
    int first = -1, second = -1;
    for (int i = 1; i < n; i++)
        if (s[i].v == s[i - 1].v && (second < 0 || s[i].i < second)) {
            first = s[i - 1].i;
            second = s[i].i;
            for (int j = i - 1; j > 0 && s[j - 1].v == s[i].v; j--) first = s[j - 1].i;
        }
    free(s);
    if (second < 0) return 0;
    char k[256];
    snprintf(k, sizeof k, "%s[%d]", key, second);
    FAIL(p, k, "duplicate value %g (also [%d]): the runs and their ids would repeat", v[second], first);
}
