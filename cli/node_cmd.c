/* SPDX-License-Identifier: Apache-2.0 */
/*
 * witan node backup: a consistent, compacted copy of a node's database,
 * taken while the node runs. LMDB lets a second process open a live
 * environment; its compacting copy reads one snapshot, so the copy holds
 * every block up to some height and nothing of a later one. The copy is
 * then opened through the ledger, against the home's genesis, to prove it
 * is usable and to say which tip it holds.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "ledger/ledger.h"
#include "node/node.h"
#include "storage/storage.h"

static const char usage[] =
    "usage: witan node backup --home DIR --out DIR2 [--json]\n"
    "\n"
    "backup  copies the database of the node whose home is DIR (DIR/data,\n"
    "        running or stopped) into DIR2, which must be empty or absent,\n"
    "        with LMDB's compacting copy of one read snapshot. It then opens\n"
    "        the copy with DIR/genesis.json and prints its height, block hash\n"
    "        and state root.\n"
    "\n"
    "To restore: make a new home with DIR's config, genesis.json and\n"
    "validator.key, and put DIR2 there as data/ (see spec/node.md).\n";

static const struct cli_opt backup_opts[] = {
    {"--home", true, false},
    {"--out", true, false},
    {"--json", false, false},
    {NULL, false, false},
};

/* 0 when dir is absent (it is made) or an empty directory. */
static int prepare_out(const char *dir)
{
    if (mkdir(dir, 0700) == 0)
        return 0;
    if (errno != EEXIST) {
        fprintf(stderr, "witan node backup: cannot create %s: %s\n", dir,
                strerror(errno));
        return 1;
    }
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "witan node backup: %s is not a directory\n", dir);
        return 1;
    }
    int entries = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            entries++;
    closedir(d);
    if (entries) {
        fprintf(stderr, "witan node backup: %s is not empty\n", dir);
        return 1;
    }
    return 0;
}

static int node_backup(const char *home, const char *out, bool json)
{
    struct node_config cfg;
    node_config_defaults(&cfg);
    char path[4096], why[512];
    snprintf(path, sizeof path, "%s/config", home);
    int err = node_config_load(path, &cfg, why, sizeof why);
    if (err) {
        fprintf(stderr, "witan node backup: %s\n", why);
        return 1;
    }
    Witan__Genesis *genesis = NULL;
    snprintf(path, sizeof path, "%s/genesis.json", home);
    err = ledger_genesis_load(path, &genesis, why, sizeof why);
    if (err) {
        fprintf(stderr, "witan node backup: %s\n", why);
        return 1;
    }
    snprintf(path, sizeof path, "%s/data/data.mdb", home);
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "witan node backup: no database at %s\n", path);
        ledger_genesis_free(genesis);
        return 1;
    }
    if (prepare_out(out)) {
        ledger_genesis_free(genesis);
        return 1;
    }
    struct store_options opts = {cfg.map_size, cfg.map_size_max, false};
    store *s = NULL;
    snprintf(path, sizeof path, "%s/data", home);
    err = store_open(path, &opts, &s);
    if (!err) {
        err = store_backup(s, out);
        store_close(s);
    }
    if (err) {
        ledger_genesis_free(genesis);
        return cli_fail("backup", err);
    }
    /* The copy must open as this chain's database. */
    ledger *l = NULL;
    err = ledger_open(out, genesis, &opts, &l, why, sizeof why);
    if (err) {
        fprintf(stderr, "witan node backup: the copy in %s does not open: "
                        "%s\n",
                out, why);
        ledger_genesis_free(genesis);
        return 1;
    }
    struct ledger_tip tip;
    ledger_tip(l, &tip);
    char hash[65], root[65];
    witan_hex_encode(tip.block_hash, WITAN_HASH_SIZE, hash);
    witan_hex_encode(tip.state_root, WITAN_HASH_SIZE, root);
    snprintf(path, sizeof path, "%s/data.mdb", out);
    long long size = stat(path, &st) == 0 ? (long long)st.st_size : -1;
    if (json) {
        printf("{\"backup\":");
        witan_json_write_string(stdout, out);
        printf(",\"bytes\":\"%lld\",\"chain_id\":", size);
        witan_json_write_string(stdout, genesis->chain_id);
        printf(",\"height\":\"%llu\",\"block_hash\":\"%s\","
               "\"state_root\":\"%s\"}\n",
               (unsigned long long)tip.height, hash, root);
    } else {
        printf("backup:     %s (%lld bytes)\nchain:      %s\n"
               "height:     %llu\nblock hash: %s\nstate root: %s\n",
               out, size, genesis->chain_id, (unsigned long long)tip.height,
               hash, root);
    }
    ledger_close(l);
    ledger_genesis_free(genesis);
    return 0;
}

int cli_node(int argc, char **argv)
{
    if (argc < 2 || cli_wants_help(argc, argv)) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "backup") != 0) {
        fprintf(stderr, "witan node: unknown command '%s'\n%s", argv[1],
                usage);
        return 2;
    }
    if (cli_args_check(argc, argv, 2, backup_opts, 0, "node backup"))
        return 2;
    const char *home = cli_flag(argc, argv, "--home");
    const char *out = cli_flag(argc, argv, "--out");
    if (!home || !out) {
        fprintf(stderr, "witan node backup: --home and --out are needed\n%s",
                usage);
        return 2;
    }
    return node_backup(home, out, cli_has_flag(argc, argv, "--json"));
}
