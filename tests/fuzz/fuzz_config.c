/* fuzz_config.c — libFuzzer harness for the sweep config parser: the input is
 * the config file's text. A config that loads is also expanded into its runs
 * (run ids) and freed. Build and run with `make fuzz` (docs/fuzzing.md). */
#include "config.h"

#include "common.h"
/* the default data_dir: nothing outside the private directory */
#define FUZZ_SETUP() setenv("LQA_DATA_DIR", fuzz_dir, 1)
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[4200], err[LQA_ERR_LEN];
    fuzz_write("in.json", data, size, path, sizeof path);
    SweepConfig cfg;
    err[0] = 0;
    int rc = config_load(&cfg, path, err);
    fuzz_report(rc, err);
    if (rc == 0) {
        int n = config_n_runs(&cfg);
        if (n <= 0) abort(); /* a config that loads has runs */
        RunSpec r;
        for (int i = 0; i < n && i < 4096; i++) config_run(&cfg, i, &r);
        config_run(&cfg, n - 1, &r);
        config_free(&cfg);
    } else if (!err[0]) {
        abort(); /* every error says why */
    }
    return 0;
}
