/* test_files.c — atomic output files (afile.c) and the owner identity of
 * lock and temporary files: paths of any length, write errors with their
 * cause, and owners told apart by host, boot id, PID namespace, PID and nonce. */
#define _DEFAULT_SOURCE
#include "afile.h"
#include "common.h"
#include "test.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char tmpdir[256];
static char err[LQA_ERR_LEN];

static long file_size(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 ? (long)st.st_size : -1;
}

static void test_afile(void)
{
    /* A path longer than any fixed buffer the files used to have (1,100 bytes). */
    char dir[2048], path[2300];
    int len = snprintf(dir, sizeof dir, "%s", tmpdir);
    for (int k = 0; k < 6; k++) {
        len += snprintf(dir + len, sizeof dir - (size_t)len, "/%0200d", k);
    }
    T_CHECK(mkdir_p(dir, err) == 0, "mkdir_p long path: %s", err);
    snprintf(path, sizeof path, "%s/%0150d.steps.csv", dir, 7);
    T_CHECK(strlen(path) > 1300, "test path is long (%zu)", strlen(path));
    T_CHECK(afile_write_all(path, "abc", 3, err) == 0, "afile_write_all long path: %s", err);
    T_CHECK(file_size(path) == 3, "long path written under its full name");

    /* The temporary name carries the owner tag (with its nonce). */
    AFile a;
    snprintf(path, sizeof path, "%s/x.csv", tmpdir);
    T_CHECK(afile_open(&a, path, err) == 0, "afile_open: %s", err);
    char want[2600]; /* path (up to its buffer) + ".tmp." + the owner tag */
    snprintf(want, sizeof want, "%s.tmp.%s", path, owner_tag());
    T_CHECK(a.tmp && strcmp(a.tmp, want) == 0, "temporary name %s", a.tmp ? a.tmp : "(null)");
    afile_abort(&a);
    T_CHECK(file_size(want) == -1, "abort removes the temporary file");

    /* A write error names its cause (a full disk: /dev/full). */
    if (access("/dev/full", W_OK) == 0) {
        T_CHECK(afile_open(&a, path, err) == 0, "afile_open: %s", err);
        fclose(a.f);
        unlink(a.tmp);
        a.f = fopen("/dev/full", "w");
        for (int i = 0; i < 10000; i++) fprintf(a.f, "%d,0.123456789\n", i);
        T_CHECK(afile_commit(&a, err) == -1 && strstr(err, "write failed") &&
                    strstr(err, strerror(ENOSPC)),
                "full disk message: %s", err);
        T_CHECK(file_size(path) == -1, "nothing renamed into place after a failed write");
    }
    /* mkdir_p where a file stands. */
    snprintf(path, sizeof path, "%s/plain", tmpdir);
    T_CHECK(afile_write_all(path, "x", 1, err) == 0, "plain file: %s", err);
    T_CHECK(mkdir_p(path, err) == -1 && strstr(err, "not a directory"), "mkdir_p on a file: %s", err);
}

static void test_owner(void)
{
    const char *line = owner_line(), *tag = owner_tag();
    long pid;
    char host[256], boot[64], ns[64];
    unsigned long long nonce;
    T_CHECK(sscanf(line, "%ld %255s %63s %63s %llx", &pid, host, boot, ns, &nonce) == 5 &&
                pid == (long)getpid(),
            "owner line \"%s\"", line);
    char bootid[64] = "";
    FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");
    if (f) {
        if (fgets(bootid, sizeof bootid, f)) bootid[strcspn(bootid, "\n")] = 0;
        fclose(f);
        T_CHECK(strcmp(boot, bootid) == 0, "owner line has the boot id (%s vs %s)", boot, bootid);
    }
    time_t now = time(NULL), old = now - 3600;
    char l[700];
    T_CHECK(owner_of_line(line, now, 600) == OWNER_OURS, "our own line is ours");
    /* Same PID, another nonce: a dead process that had our PID. */
    snprintf(l, sizeof l, "%ld %s %s %s %016llx", pid, host, boot, ns, nonce ^ 1);
    T_CHECK(owner_of_line(l, now, 600) == OWNER_DEAD, "our PID with another nonce is dead");
    /* Same PID in another PID namespace (a container): alive while fresh. */
    snprintf(l, sizeof l, "%ld %s %s %s9 %016llx", pid, host, boot, ns, nonce ^ 1);
    T_CHECK(owner_of_line(l, now, 600) == OWNER_ALIVE, "our PID in another namespace, fresh: alive");
    T_CHECK(owner_of_line(l, old, 600) == OWNER_DEAD, "our PID in another namespace, old: dead");
    /* Same PID on another host / after a reboot: judged by age only. */
    snprintf(l, sizeof l, "%ld otherhost %s %s %016llx", pid, boot, ns, nonce);
    T_CHECK(owner_of_line(l, now, 600) == OWNER_ALIVE, "another host, fresh: alive");
    snprintf(l, sizeof l, "%ld %s 00000000-0000-0000-0000-000000000000 %s %016llx", pid, host, ns, nonce);
    T_CHECK(owner_of_line(l, now, 600) == OWNER_ALIVE, "another boot, fresh: alive");
    T_CHECK(owner_of_line(l, old, 600) == OWNER_DEAD, "another boot, old: dead");
    /* Another process on this machine: its PID decides. */
    pid_t child = fork();
    if (child == 0) {
        pause();
        _exit(0);
    }
    snprintf(l, sizeof l, "%ld %s %s %s %016llx", (long)child, host, boot, ns, 7ull);
    T_CHECK(owner_of_line(l, old, 600) == OWNER_ALIVE, "a live process on this machine is alive");
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    T_CHECK(owner_of_line(l, now, 600) == OWNER_DEAD, "a dead process on this machine is dead");
    /* Lines that do not parse: honoured for 5 seconds (being written). */
    T_CHECK(owner_of_line("", now, 600) == OWNER_ALIVE, "empty lock, fresh: alive");
    T_CHECK(owner_of_line("", now - 10, 600) == OWNER_DEAD, "empty lock, 10 s old: dead");
    T_CHECK(owner_of_line("123 host", now - 10, 600) == OWNER_DEAD, "old-format lock, 10 s old: dead");

    /* Tags of temporary files. */
    OwnerState st;
    T_CHECK(owner_of_tag(tag, now, 600, &st) && st == OWNER_OURS, "our tag %s", tag);
    char t[128];
    snprintf(t, sizeof t, "%ld.%.8s.%016llx", (long)child, strchr(tag, '.') + 1, 5ull);
    T_CHECK(owner_of_tag(t, now, 600, &st) && st == OWNER_DEAD, "tag of a dead local process %s", t);
    snprintf(t, sizeof t, "%ld.%.8s.%016llx", (long)getppid(), strchr(tag, '.') + 1, 5ull);
    T_CHECK(owner_of_tag(t, old, 600, &st) && st == OWNER_ALIVE, "tag of a live local process %s", t);
    snprintf(t, sizeof t, "%ld.%08x.%016llx", (long)child, 0u, 5ull);
    T_CHECK(owner_of_tag(t, now, 600, &st) && st == OWNER_ALIVE, "tag of another machine, fresh");
    T_CHECK(owner_of_tag(t, old, 600, &st) && st == OWNER_DEAD, "tag of another machine, old");
    const char *bad[] = {"", "123", "123.abc.def", "x.0000000a.0000000000000001", "12.0000000a.000000000000001",
                         "12.0000000a.00000000000000012", "12.0000000A.0000000000000001", "0.0000000a.0000000000000001"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        T_CHECK(!owner_of_tag(bad[i], now, 600, &st), "not a tag: \"%s\"", bad[i]);
}

int main(int argc, char **argv)
{
    t_args(argc, argv);
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/lqa_test_files_XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 2;
    }
    T_RUN(afile, test_afile());
    T_RUN(owner, test_owner());
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    return t_done("test_files");
}
