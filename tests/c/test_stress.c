/* 8 threads hammer one table through their own handles: counters on shared
 * keys, puts/gets/takes/deletes on private keys, cursors walking meanwhile.
 * A final consistency check compares the table with what each thread knows.
 * FERRETS_STRESS_OPS sets the operations per thread (default 20000). */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "ferrets.h"

#define THREADS 8
#define COUNTERS 16
#define KEYS 512 /* private keys per thread */

typedef struct {
  ferrets_table_t *table; /* this thread's own handle (a dup) */
  int id;
  long ops;
  long errors;
  int64_t last_written[KEYS]; /* -1: absent */
} worker_t;

static int key_of(char *buf, size_t n, int thread, int k) {
  return snprintf(buf, n, "t%d/k%d", thread, k);
}

/* Checks a library-owned value returned with status `s` for key `k` against
 * this thread's last write (-1: the key must be absent), then frees it. */
static void check_owned(worker_t *w, int k, ferrets_status_t s, uint8_t *v, size_t n) {
  if (s == FERRETS_OK) {
    int64_t got = 0;
    if (n == sizeof got) memcpy(&got, v, sizeof got);
    if (n != sizeof got || got != w->last_written[k]) w->errors++;
    ferrets_bytes_free(v, n);
  } else if (s != FERRETS_ERR_NOT_FOUND || w->last_written[k] >= 0) {
    w->errors++;
  }
}

static void *work(void *arg) {
  worker_t *w = arg;
  char key[32], ckey[16];
  uint8_t buf[16];
  uint64_t rng = 0x9e3779b97f4a7c15ULL * (uint64_t)(w->id + 1);
  for (int k = 0; k < KEYS; k++) w->last_written[k] = -1;
  for (long i = 0; i < w->ops; i++) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    int k = (int)(rng % KEYS);
    int kn = key_of(key, sizeof key, w->id, k);
    const uint8_t *kp = (const uint8_t *)key;
    int64_t val = (int64_t)i;
    int cn = snprintf(ckey, sizeof ckey, "c%d", (int)(i % COUNTERS));
    int64_t c = 0;
    if (ferrets_table_counter_add(w->table, (const uint8_t *)ckey, (size_t)cn, 1, 0, &c) != FERRETS_OK ||
        c < 1)
      w->errors++;
    switch (rng >> 60) {
      case 0: case 1: case 2: case 3: case 4: case 5: /* put */
        if (ferrets_table_put(w->table, kp, (size_t)kn, (const uint8_t *)&val, sizeof val) != FERRETS_OK)
          w->errors++;
        w->last_written[k] = val;
        break;
      case 6: case 7: case 8: case 9: { /* get into a buffer: must see our last write */
        size_t n = 0;
        ferrets_status_t s = ferrets_table_get_into(w->table, kp, (size_t)kn, buf, sizeof buf, &n);
        int64_t got = -1;
        if (s == FERRETS_OK && n == sizeof got) memcpy(&got, buf, sizeof got);
        if (s != (w->last_written[k] < 0 ? FERRETS_ERR_NOT_FOUND : FERRETS_OK) || got != w->last_written[k])
          w->errors++;
        break;
      }
      case 10: { /* get an owned copy */
        uint8_t *v = NULL;
        size_t n = 0;
        ferrets_status_t s = ferrets_table_get(w->table, kp, (size_t)kn, &v, &n);
        check_owned(w, k, s, v, n);
        break;
      }
      case 11: case 12: { /* delete */
        ferrets_status_t s = ferrets_table_delete(w->table, kp, (size_t)kn);
        if (s != (w->last_written[k] < 0 ? FERRETS_ERR_NOT_FOUND : FERRETS_OK)) w->errors++;
        w->last_written[k] = -1;
        break;
      }
      case 13: { /* take */
        uint8_t *v = NULL;
        size_t n = 0;
        ferrets_status_t s = ferrets_table_take(w->table, kp, (size_t)kn, &v, &n);
        check_owned(w, k, s, v, n);
        w->last_written[k] = -1;
        break;
      }
      case 14: { /* put_new */
        ferrets_status_t s = ferrets_table_put_new(w->table, kp, (size_t)kn, (const uint8_t *)&val, sizeof val);
        if (s == FERRETS_OK) {
          if (w->last_written[k] >= 0) w->errors++;
          w->last_written[k] = val;
        } else if (s != FERRETS_ERR_ALREADY_EXISTS || w->last_written[k] < 0) {
          w->errors++;
        }
        break;
      }
      default: { /* now and then, a short cursor walk: entries must be well formed */
        if (i % 64 != 0) break;
        ferrets_cursor_t *cur = NULL;
        if (ferrets_cursor_new(w->table, &cur) != FERRETS_OK) {
          w->errors++;
          break;
        }
        ferrets_entry_t e;
        bool found = false;
        for (int j = 0; j < 200 && ferrets_cursor_next(cur, &e, &found) == FERRETS_OK && found; j++) {
          if (e.key_len == 0 || (e.key[0] != 't' && e.key[0] != 'c') || e.value_len != 8) w->errors++;
        }
        ferrets_cursor_free(cur);
      }
    }
  }
  return NULL;
}

int main(void) {
  long ops = 20000;
  const char *env = getenv("FERRETS_STRESS_OPS");
  if (env != NULL && atol(env) > 0) ops = atol(env);

  ferrets_table_options_t o = ferrets_table_options_default();
  o.partitions = 4; /* few partitions: more contention */
  ferrets_table_t *t = NULL;
  CHECK(ferrets_table_new_with(&o, &t) == FERRETS_OK);
  static worker_t w[THREADS];
  pthread_t th[THREADS];
  for (int i = 0; i < THREADS; i++) {
    w[i].id = i;
    w[i].ops = ops;
    w[i].errors = 0;
    CHECK(ferrets_table_dup(t, &w[i].table) == FERRETS_OK);
    CHECK(pthread_create(&th[i], NULL, work, &w[i]) == 0);
  }
  long errors = 0;
  for (int i = 0; i < THREADS; i++) {
    CHECK(pthread_join(th[i], NULL) == 0);
    errors += w[i].errors;
    ferrets_table_free(w[i].table);
  }
  CHECK(errors == 0);
  if (errors != 0) fprintf(stderr, "%ld operations gave an unexpected result\n", errors);

  /* Final consistency: counters sum to every increment; the private keys
   * hold exactly each thread's last write; len and a full walk agree. */
  int64_t sum = 0;
  char key[32];
  for (int c = 0; c < COUNTERS; c++) {
    int cn = snprintf(key, sizeof key, "c%d", c);
    int64_t v = 0;
    CHECK(ferrets_table_counter_add(t, (const uint8_t *)key, (size_t)cn, 0, 0, &v) == FERRETS_OK);
    sum += v;
  }
  CHECK(sum == (int64_t)THREADS * ops);
  size_t expected = COUNTERS, mismatched = 0;
  for (int i = 0; i < THREADS; i++) {
    for (int k = 0; k < KEYS; k++) {
      int kn = key_of(key, sizeof key, i, k);
      int64_t got = -1;
      size_t n = 0;
      ferrets_status_t s = ferrets_table_get_into(t, (const uint8_t *)key, (size_t)kn, (uint8_t *)&got, sizeof got, &n);
      if (w[i].last_written[k] >= 0) {
        expected++;
        mismatched += s != FERRETS_OK || got != w[i].last_written[k];
      } else {
        mismatched += s != FERRETS_ERR_NOT_FOUND;
      }
    }
  }
  CHECK(mismatched == 0);
  size_t len = 0, walked = 0;
  CHECK(ferrets_table_len(t, &len) == FERRETS_OK);
  CHECK(len == expected);
  ferrets_cursor_t *cur = NULL;
  CHECK(ferrets_cursor_new(t, &cur) == FERRETS_OK);
  ferrets_entry_t e;
  bool found = false;
  while (ferrets_cursor_next(cur, &e, &found) == FERRETS_OK && found) walked++;
  ferrets_cursor_free(cur);
  CHECK(walked == expected);
  printf("stress: %d threads x %ld ops, %zu entries at the end\n", THREADS, ops, len);
  ferrets_table_free(t);
  return check_summary();
}
