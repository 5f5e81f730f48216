/* fsync_cost: raw cost of a 512-byte write + fdatasync on one disk, the floor under any WAL. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int compare_doubles(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return (x > y) - (x < y);
}

static void die(const char* what, const char* path) {
  fprintf(stderr, "fsync_cost: %s %s: %s\n", what, path, strerror(errno));
  exit(1);
}

enum mode { APPEND, FALLOCATED, ZERO_FILLED };

/* Microseconds per write+fdatasync over `ops` operations. APPEND grows the
 * file (the size must be synced too); FALLOCATED writes into posix_fallocate'd
 * space (unwritten extents, which the file system must convert, as the WAL's
 * segments do); ZERO_FILLED overwrites blocks that already hold zeros. */
static double one_run(const char* dir, int ops, enum mode mode) {
  char path[4096];
  snprintf(path, sizeof path, "%s/fsync_cost.%d", dir, (int)getpid());
  int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) die("open", path);
  char buf[512];
  if (mode == FALLOCATED) {
    int rc = posix_fallocate(fd, 0, (off_t)ops * 512);
    if (rc != 0) {
      errno = rc;
      die("posix_fallocate", path);
    }
  } else if (mode == ZERO_FILLED) {
    memset(buf, 0, sizeof buf);
    for (int i = 0; i < ops; ++i) {
      if (pwrite(fd, buf, sizeof buf, (off_t)i * 512) != (ssize_t)sizeof buf) die("pwrite", path);
    }
  }
  if (fsync(fd) != 0) die("fsync", path);
  memset(buf, 'w', sizeof buf);
  double start = now_seconds();
  for (int i = 0; i < ops; ++i) {
    if (pwrite(fd, buf, sizeof buf, (off_t)i * 512) != (ssize_t)sizeof buf) die("pwrite", path);
    if (fdatasync(fd) != 0) die("fdatasync", path);
  }
  double elapsed = now_seconds() - start;
  close(fd);
  unlink(path);
  return elapsed * 1e6 / ops;
}

int main(int argc, char** argv) {
  const char* dir = argc > 1 ? argv[1] : "/var/tmp";
  int ops = argc > 2 ? atoi(argv[2]) : 500;
  int runs = argc > 3 ? atoi(argv[3]) : 5;
  if (ops <= 0 || runs <= 0 || runs > 100) {
    fprintf(stderr, "usage: fsync_cost [dir] [ops per run] [runs]\n");
    return 2;
  }
  static const char* const names[] = {"512 B append + fdatasync",
                                      "512 B into fallocated space + fdatasync",
                                      "512 B over zero-filled blocks + fdatasync"};
  for (int mode = APPEND; mode <= ZERO_FILLED; ++mode) {
    double us[100];
    for (int r = 0; r < runs; ++r) us[r] = one_run(dir, ops, (enum mode)mode);
    qsort(us, (size_t)runs, sizeof us[0], compare_doubles);
    double median = us[runs / 2];
    printf("%-42s %8.1f us/op %7.0f ops/s  (median of %d runs x %d ops)\n", names[mode], median,
           1e6 / median, runs, ops);
  }
  return 0;
}
