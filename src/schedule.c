/* schedule.c — learning-rate schedules for classic methods (see schedule.h). */
#include "schedule.h"

#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

double schedule_lr(const Schedule *s, double lr0, long step)
{
    if (step < 0) step = 0;
    switch (s->type) {
    case SCHED_STEP:
    case SCHED_EXP:
        LQA_CHECK(s->every > 0);
        return lr0 * pow(s->gamma, (double)(step / s->every));
    case SCHED_COSINE: {
        const double pi = 3.14159265358979323846;
        LQA_CHECK(s->period > 0);
        double t = (double)LQA_MIN(step, s->period) / (double)s->period;
        return s->min + (lr0 - s->min) * (1.0 + cos(pi * t)) / 2.0;
    }
    case SCHED_NONE:
    default:
        return lr0;
    }
}

static const char *type_name(SchedType t)
{
    switch (t) {
    case SCHED_STEP: return "step";
    case SCHED_EXP: return "exp";
    case SCHED_COSINE: return "cosine";
    default: return "none";
    }
}

/* A positive integer that fits comfortably in a long (and is exact in a double). */
static int parse_pos_int(const cJSON *it, const char *kp, long *out, char *err)
{
    double v = it->valuedouble;
    if (!cJSON_IsNumber(it) || !(v >= 1.0) || v > 9007199254740992.0 || v != floor(v))
        return lqa_errf(err, "%s.%s: must be a positive integer", kp, it->string);
    *out = (long)v;
    return 0;
}

int schedule_parse(Schedule *s, const cJSON *obj, const char *keypath, char *err)
{
    Schedule r = { SCHED_NONE, 0, 0.5, 0.0, 0 };
    if (!cJSON_IsObject(obj)) return lqa_errf(err, "%s: must be an object", keypath);

    const cJSON *type = cJSON_GetObjectItemCaseSensitive(obj, "type");
    if (!type) return lqa_errf(err, "%s.type: missing (one of step, exp, cosine)", keypath);
    if (!cJSON_IsString(type)) return lqa_errf(err, "%s.type: must be a string (step, exp, cosine)", keypath);
    if (strcmp(type->valuestring, "step") == 0) r.type = SCHED_STEP;
    else if (strcmp(type->valuestring, "exp") == 0) r.type = SCHED_EXP;
    else if (strcmp(type->valuestring, "cosine") == 0) r.type = SCHED_COSINE;
    else
        return lqa_errf(err, "%s.type: unknown schedule \"%s\" (one of step, exp, cosine)",
                        keypath, type->valuestring);
    const bool cosine = r.type == SCHED_COSINE;

    bool seen_every = false, seen_period = false;
    for (const cJSON *it = obj->child; it; it = it->next) {
        const char *k = it->string;
        for (const cJSON *p = obj->child; p != it; p = p->next)
            if (strcmp(p->string, k) == 0) return lqa_errf(err, "%s.%s: duplicate key", keypath, k);
        if (strcmp(k, "type") == 0) continue;
        bool known = strcmp(k, "every") == 0 || strcmp(k, "gamma") == 0 ||
                     strcmp(k, "min") == 0 || strcmp(k, "period") == 0;
        if (!known)
            return lqa_errf(err, "%s.%s: unknown key (expected %s)", keypath, k,
                            cosine ? "type, period, min" : "type, every, gamma");
        bool used = cosine ? (k[0] == 'm' || k[0] == 'p') : (k[0] == 'e' || k[0] == 'g');
        if (!used)
            return lqa_errf(err, "%s.%s: not used by a %s schedule (it takes %s)", keypath, k,
                            type_name(r.type), cosine ? "period, min" : "every, gamma");
        if (strcmp(k, "every") == 0) {
            if (parse_pos_int(it, keypath, &r.every, err)) return -1;
            seen_every = true;
        } else if (strcmp(k, "period") == 0) {
            if (parse_pos_int(it, keypath, &r.period, err)) return -1;
            seen_period = true;
        } else if (strcmp(k, "gamma") == 0) {
            if (!cJSON_IsNumber(it) || !(it->valuedouble > 0.0) || !isfinite(it->valuedouble))
                return lqa_errf(err, "%s.gamma: must be a number > 0", keypath);
            r.gamma = it->valuedouble;
        } else { /* min */
            if (!cJSON_IsNumber(it) || !(it->valuedouble >= 0.0) || !isfinite(it->valuedouble))
                return lqa_errf(err, "%s.min: must be a number >= 0", keypath);
            r.min = it->valuedouble;
        }
    }
    if (!cosine && !seen_every)
        return lqa_errf(err, "%s.every: missing (required by a %s schedule)", keypath, type_name(r.type));
    if (cosine && !seen_period)
        return lqa_errf(err, "%s.period: missing (required by a cosine schedule)", keypath);
    *s = r;
    return 0;
}

/* Shortest %g form that reads back as the same double. */
static void fmt_num(char *out, size_t n, double v)
{
    for (int prec = 6; prec <= 17; prec++) {
        snprintf(out, n, "%.*g", prec, v);
        if (strtod(out, NULL) == v) return;
    }
}

const char *schedule_describe(const Schedule *s, char *buf, size_t n)
{
    if (!buf || n == 0) return buf;
    char num[32];
    switch (s->type) {
    case SCHED_STEP:
    case SCHED_EXP:
        fmt_num(num, sizeof num, s->gamma);
        snprintf(buf, n, "%s(every=%ld, gamma=%s)", type_name(s->type), s->every, num);
        break;
    case SCHED_COSINE:
        fmt_num(num, sizeof num, s->min);
        snprintf(buf, n, "cosine(period=%ld, min=%s)", s->period, num);
        break;
    default:
        snprintf(buf, n, "none");
    }
    return buf;
}
