/* A tiny assertion harness: CHECK records a failure and goes on; the summary
 * line is "N passed, N failed" and the exit status is non-zero on failure. */
#ifndef FERRETS_TEST_CHECK_H
#define FERRETS_TEST_CHECK_H
#include <stdio.h>

static int check_passed = 0;
static int check_failed = 0;

#define CHECK(cond)                                                              \
  do {                                                                           \
    if (cond) {                                                                  \
      check_passed++;                                                            \
    } else {                                                                     \
      check_failed++;                                                            \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);   \
    }                                                                            \
  } while (0)

static int check_summary(void) {
  printf("%d passed, %d failed\n", check_passed, check_failed);
  return check_failed == 0 ? 0 : 1;
}
#endif
