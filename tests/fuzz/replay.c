/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Replays committed fuzz corpora without libFuzzer: a main for any
 * harness, built with the project's own compiler, that runs every file of
 * the directories it is given through LLVMFuzzerTestOneInput once. `make
 * test` runs it, so every input that ever mattered keeps being tried by
 * every build, sanitizers included.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

#define REPLAY_FILE_SIZE_MAX (16u << 20)

int main(int argc, char **argv)
{
    if (LLVMFuzzerInitialize)
        LLVMFuzzerInitialize(&argc, &argv);
    size_t files = 0;
    for (int a = 1; a < argc; a++) {
        DIR *d = opendir(argv[a]);
        if (!d) {
            fprintf(stderr, "replay: cannot open %s\n", argv[a]);
            return 1;
        }
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.')
                continue;
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", argv[a], e->d_name);
            char *data;
            size_t size;
            if (witan_read_file(path, REPLAY_FILE_SIZE_MAX, &data, &size) != 0) {
                fprintf(stderr, "replay: cannot read %s\n", path);
                closedir(d);
                return 1;
            }
            LLVMFuzzerTestOneInput((const uint8_t *)data, size);
            free(data);
            files++;
        }
        closedir(d);
    }
    printf("replay %s: %zu inputs\n", argv[0], files);
    return files ? 0 : 1;
}
