/* config_internal.h — the parser state and helpers shared by the config
 * parser's files (private to config*.c; config.h is the public interface):
 *   config.c       finding and reading the file, the top-level keys, config_load
 *   config_json.c  checked reads of JSON values, duplicate keys and list values
 *   config_opt.c   the optimizer entries (name, lr, label, grid, schedule, hyperparameters)
 *   config_grid.c  grids: model options and entries expanded into runs, run ids */
#ifndef LQA_CONFIG_INTERNAL_H
#define LQA_CONFIG_INTERNAL_H

#include <cJSON.h>
#include <stdio.h>

#include "common.h"
#include "config.h"


/* The parser state: file name for messages. */
typedef struct P {
    const char *file;
    char *err;
    struct Proto *protos; /* the optimizer entries as given (parse_optimizers) */
    int n_protos;
    struct Axis *max;     /* the model options given as lists, by option index */
    int n_max;
} P;

#define FAIL(p, key, ...)                                                      \
    do {                                                                       \
        char m_[LQA_ERR_LEN];                                                  \
        snprintf(m_, sizeof m_, __VA_ARGS__);                                  \
        return lqa_errf((p)->err, "%s: %s: %s", (p)->file, (key), m_);        \
    } while (0)

/* A numeric key given as a list: one axis of a grid (README "Grids"). */
typedef struct Axis {
    const char *name; /* hyperparameter or model option: names it in run ids and summary.csv */
    double *v;
    int n;            /* 0: a single value, not a list */
} Axis;

/* An optimizer entry as the config gives it, before its grid is expanded. */
typedef struct Proto {
    OptEntry e;          /* single values (a list's first); e.lrs: every lr */
    bool lr_list, zip;   /* lr given as a list; "grid": "zip" */
    Axis ax[OPT_MAX_HP]; /* by hyperparameter index */
} Proto;

/* One element of a list, checked by the key's own rule. */
typedef int (*ElemCheck)(P *p, const cJSON *v, const char *key, const void *spec, double *out);

/* config_json.c */
int get_string(P *p, const cJSON *it, const char *key, char *out, size_t n);
int get_bool(P *p, const cJSON *it, const char *key, bool *out);
int get_int(P *p, const cJSON *it, const char *key, long lo, long hi, long *out);
int get_choice(P *p, const cJSON *it, const char *key, const char *const *choices, int n, int *out);
int check_keys(P *p, const cJSON *obj, const char *prefix, const char *const *known);
void sanitize_label(char *s);
int check_component(P *p, const char *key, const char *v);
int check_duplicates(P *p, const cJSON *it, const char *path);
int parse_list(P *p, const cJSON *it, const char *key, ElemCheck chk, const void *spec, Axis *ax);
int check_list_duplicates(P *p, const double *v, int n, const char *key);

/* config_grid.c */
double proto_points(const Proto *pr);
int proto_lrs(const Proto *pr);
int expand_proto(P *p, SweepConfig *c, const Proto *pr, int *k);
int add_grid_col(P *p, SweepConfig *c, const char *name, const ModelOption *mopt);
int parse_model_options(P *p, const cJSON *root, SweepConfig *c);
int check_run_ids(P *p, const SweepConfig *c);

/* config_opt.c */
int parse_optimizers(P *p, const cJSON *it, SweepConfig *c);

#endif
