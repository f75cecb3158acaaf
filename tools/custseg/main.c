/* custseg — customer segmentation from the command line.
 * main is thin: pick the subcommand, which parses its options, calls the
 * library and maps the result to an exit status (docs/cli.md). */
#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif

#include "cli.h"
#include "serve.h"

static const char usage[] =
    "usage: custseg <command> [options] ...\n"
    "\n"
    "Commands:\n"
    "  run FILE      transaction log (CSV, .gz) -> RFM features -> named segments\n"
    "  fit FILE      customer table (numbers and categories) -> named segments\n"
    "                (--algo kmeans|ward|complete|average|single|dbscan|gmm for both)\n"
    "  assign MODEL FILE   score new customers (or transactions) with a saved model\n"
    "  train OUTDIR  learn a run's segments with a tree, forest or SVM (assign --with)\n"
    "  drift MODEL FILE   how far new customers have moved from the training ones\n"
    "  explain MODEL --customer ID   why a customer is in their segment\n"
    "  clv FILE      lifetime value: BG/NBD + Gamma-Gamma fitted to a log or a summary\n"
    "  rules FILE    what each segment buys together: itemsets and association rules\n"
    "  score FILE --labels COL   evaluate a labelling: silhouette, Davies-Bouldin,\n"
    "                Calinski-Harabasz, inertia\n"
    "  report OUTDIR rebuild OUTDIR/report.html from the outputs of run or fit\n"
    "  compare FILE  fit several algorithms over a range of k; recommend one\n"
    "  runs --db URI         the runs kept in a segment store (run/fit --db URI)\n"
    "  show --db URI         a stored run's summary\n"
    "  export --db URI       audience lists from a stored run (CSV, JSON Lines)\n"
    "  forget --db URI ID... erase customers from the store\n"
    "  serve --model M --db URI --tokens F   the real-time HTTP service\n"
    "  replay LOG --model M --db URI        a transaction log into the store as events\n"
    "  token add FILE --scope read|write     make a token for serve\n"
    "\n"
    "Options:\n"
    "  --help        this help; 'custseg <command> --help' for a command's options\n"
    "  --version     print the version\n"
    "\n"
    "Exit status: 0 ok, 1 data or model error, 2 usage error, 3 I/O or system error,\n"
    "4 drift above the alert threshold (drift).\n"
    "Example: custseg run data/online_retail.csv.gz --out out/\n";

static int dispatch(int argc, char **argv);

#if defined(__GLIBC__) && defined(__linux__) && !defined(__SANITIZE_ADDRESS__)
/* Settings read from the environment as the process starts, so custseg
 * sets them and starts itself again, once (an exec of itself, a few ms),
 * for every command but serve (a long-running process) and token:
 *
 * Large buffers on transparent huge pages. A command's columns, matrices
 * and sort buffers are fresh memory, and the first touch of each 4 KiB page
 * is a page fault: on the virtual machines of bench/README.md 5-15 us each,
 * 40,000 of them in a fit of a million customers. glibc's malloc asks the
 * kernel for 2 MiB pages (madvise) when the GLIBC_TUNABLES variable holds
 * glibc.malloc.hugetlb=1: fit 1.52 -> 1.31 s, run on the bundled log 0.38
 * -> 0.31 s, assign of a million customers 0.25 -> 0.22 s (page faults
 * 40,466 -> 5,486, 10,614 -> 2,985, 5,246 -> 1,046), the same outputs. Not
 * when GLIBC_TUNABLES already names the setting (to turn it off:
 * glibc.malloc.hugetlb=0) or the kernel gives no huge pages.
 *
 * OpenMP threads that sleep at once when they wait (OMP_WAIT_POLICY=passive)
 * instead of spinning for a while: on a machine whose cores are busy with
 * other work a spinning thread takes the core the thread it waits for
 * needs, and a choice of k on 200,000 customers took 4.7-15 s instead of
 * 3.7-4.1 s; on an idle machine the two are the same within the noise (fit
 * of 1,000,000 x 8: 1.29-1.40 s against 1.31-1.67 s, and less CPU). Not when
 * OMP_WAIT_POLICY or GOMP_SPINCOUNT is set.
 *
 * Neither under valgrind (its own allocator, and it would not follow the
 * restart) nor in an AddressSanitizer build. */
static void restart_tuned(int argc, char **argv)
{
    if (argc < 2 || argv[1][0] == '-' || strcmp(argv[1], "serve") == 0 ||
        strcmp(argv[1], "token") == 0)
        return;
#ifdef RUNNING_ON_VALGRIND
    if (RUNNING_ON_VALGRIND)
        return;
#endif
    int changed = 0;
    const char *was = getenv("GLIBC_TUNABLES");
    char thp[64] = "";
    FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
    if (f) {
        if (!fgets(thp, sizeof thp, f))
            thp[0] = 0;
        fclose(f);
    }
    if (!(was && strstr(was, "glibc.malloc.hugetlb")) &&
        (strstr(thp, "[always]") || strstr(thp, "[madvise]"))) {
        char value[1024];
        int len = snprintf(value, sizeof value, "%s%sglibc.malloc.hugetlb=1", was ? was : "",
                           was && *was ? ":" : "");
        changed |= len >= 0 && (size_t)len < sizeof value &&
                   setenv("GLIBC_TUNABLES", value, 1) == 0;
    }
    if (!getenv("OMP_WAIT_POLICY") && !getenv("GOMP_SPINCOUNT"))
        changed |= setenv("OMP_WAIT_POLICY", "passive", 1) == 0;
    /* The program's own path, not /proc/self/exe: the kernel names a process
     * after the file it executes, and "exe" in ps and top would hide it. */
    char self[4096];
    ssize_t n = changed ? readlink("/proc/self/exe", self, sizeof self - 1) : -1;
    if (n > 0) {
        self[n] = 0;
        execv(self, argv);
    }
    /* No /proc: go on as started (the variables stay set, which is harmless). */
}
#else
static void restart_tuned(int argc, char **argv)
{
    (void)argc;
    (void)argv;
}
#endif

/* Every command's stdout is checked once more at the end: a summary that could
 * not be written (a full disk, a closed pipe) is an I/O error, not success. */
int main(int argc, char **argv)
{
    restart_tuned(argc, argv);
#ifdef __GLIBC__
    /* The pipeline takes and gives back column-sized blocks (8 MB for a
     * million customers) again and again. glibc maps each one fresh from the
     * kernel and unmaps it on free, so every use page-faulted its memory in
     * anew: a sixth of a fit's time. Kept in the heap, freed blocks are
     * reused; the peak stays that of the largest step. Not for the service,
     * a long-running process whose threads' arenas should give memory back. */
    if (argc < 2 || strcmp(argv[1], "serve") != 0) {
        mallopt(M_MMAP_THRESHOLD, 256 << 20);
        mallopt(M_TRIM_THRESHOLD, 512 << 20);
    }
#endif
    cli_mpi_start(&argc, &argv);
    int status = dispatch(argc, argv);
    /* Output that did not reach standard output is a failure, said once:
     * a command that failed already has said why (export to a full disk);
     * drift's alert (exit 4) is a result, its lost output still a failure. */
    if ((fflush(stdout) != 0 || ferror(stdout)) && (status == EXIT_OK || status == EXIT_DRIFT)) {
        fprintf(stderr, "custseg: cannot write to standard output: %s\n", strerror(errno));
        status = EXIT_IO;
    }
    return cli_mpi_finish(status);
}

static int dispatch(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage, stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        fputs(usage, stdout);
        return EXIT_OK;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        printf("custseg %s\n", cseg_version());
        return EXIT_OK;
    }
    if (strcmp(cmd, "run") == 0)
        return cmd_run(argc - 1, argv + 1);
    /* fit under mpirun: the customer table read by every process, its
     * k-means fits on every process (docs/scale-out.md). */
    if (strcmp(cmd, "fit") == 0)
        return cmd_fit(argc - 1, argv + 1);
    /* The commands of one process (under mpirun with several, only run and
     * fit are distributed so far: the others are refused). */
    static const struct {
        const char *name;
        int (*fn)(int, char **);
    } one[] = {{"assign", cmd_assign},   {"score", cmd_score},   {"train", cmd_train},
               {"drift", cmd_drift},     {"rules", cmd_rules},   {"clv", cmd_clv},
               {"explain", cmd_explain}, {"report", cmd_report}, {"compare", cmd_compare},
               {"runs", cmd_runs},       {"show", cmd_show},     {"export", cmd_export},
               {"forget", cmd_forget},   {"serve", cmd_serve},   {"replay", cmd_replay},
               {"token", cmd_token}};
    for (size_t i = 0; i < sizeof one / sizeof one[0]; i++) {
        if (strcmp(cmd, one[i].name) != 0)
            continue;
        if (cli_mpi_size() > 1) {
            fprintf(stderr,
                    "custseg: %s: only run and fit are distributed over processes so far; "
                    "run %s as one process, without mpirun (docs/scale-out.md)\n",
                    cmd, cmd);
            return EXIT_USAGE;
        }
        return one[i].fn(argc - 1, argv + 1);
    }
    fprintf(stderr, "custseg: unknown command '%s'\nTry 'custseg --help'.\n", cmd);
    return EXIT_USAGE;
}
