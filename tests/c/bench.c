/* The C half of `make -C tests/c bench`: get/put through the C ABI with the
 * same workload as ffi/examples/bench_rust.rs (same keys, values, options and
 * operation order). Prints one "op ns_per_op" line per operation (best of
 * ROUNDS rounds). */
#define _POSIX_C_SOURCE 199309L
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ferrets.h"

#define KEYS 10000
#define OPS 200000
#define ROUNDS 15
#define VALUE_LEN 32
#define STRIDE 7919
#define KEY_LEN 16 /* "key:" + 12 digits */

static uint8_t keys[KEYS][KEY_LEN];

static double now_ns(void) {
  struct timespec ts;
  /* This thread's CPU time: time descheduled by other load is not counted. */
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static const uint8_t *order(size_t i) { return keys[(i * STRIDE) % KEYS]; }

static volatile uint64_t sink;

int main(void) {
  char tmp[32];
  for (int i = 0; i < KEYS; i++) {
    snprintf(tmp, sizeof tmp, "key:%012d", i);
    memcpy(keys[i], tmp, KEY_LEN);
  }
  uint8_t value[VALUE_LEN];
  memset(value, 0xab, sizeof value);
  ferrets_table_t *t = NULL;
  if (ferrets_table_new(&t) != FERRETS_OK) return 1;
  for (int i = 0; i < KEYS; i++) {
    if (ferrets_table_put(t, keys[i], KEY_LEN, value, VALUE_LEN) != FERRETS_OK) return 1;
  }

  double put = 1e18, get_into = 1e18, get = 1e18, contains = 1e18;
  for (int r = 0; r < ROUNDS; r++) {
    double start = now_ns();
    for (size_t i = 0; i < OPS; i++) {
      if (ferrets_table_put(t, order(i), KEY_LEN, value, VALUE_LEN) != FERRETS_OK) return 1;
    }
    double ns = (now_ns() - start) / OPS;
    if (ns < put) put = ns;
  }
  uint8_t buf[64];
  for (int r = 0; r < ROUNDS; r++) {
    double start = now_ns();
    for (size_t i = 0; i < OPS; i++) {
      size_t n = 0;
      if (ferrets_table_get_into(t, order(i), KEY_LEN, buf, sizeof buf, &n) != FERRETS_OK) return 1;
      sink += n + buf[0];
    }
    double ns = (now_ns() - start) / OPS;
    if (ns < get_into) get_into = ns;
  }
  for (int r = 0; r < ROUNDS; r++) {
    double start = now_ns();
    for (size_t i = 0; i < OPS; i++) {
      uint8_t *v = NULL;
      size_t n = 0;
      if (ferrets_table_get(t, order(i), KEY_LEN, &v, &n) != FERRETS_OK) return 1;
      sink += n;
      ferrets_bytes_free(v, n);
    }
    double ns = (now_ns() - start) / OPS;
    if (ns < get) get = ns;
  }
  for (int r = 0; r < ROUNDS; r++) {
    double start = now_ns();
    for (size_t i = 0; i < OPS; i++) {
      bool found = false;
      if (ferrets_table_contains(t, order(i), KEY_LEN, &found) != FERRETS_OK) return 1;
      sink += found;
    }
    double ns = (now_ns() - start) / OPS;
    if (ns < contains) contains = ns;
  }
  ferrets_table_free(t);
  printf("put %.1f\nget_into %.1f\nget %.1f\ncontains %.1f\n", put, get_into, get, contains);
  return 0;
}
