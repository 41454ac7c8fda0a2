/* ferrets_cursor_*: full walks, the end, errors, and walks under concurrent writes. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "ferrets.h"

#define K(s) (const uint8_t *)(s), strlen(s)
#define N 2000

static void test_empty_and_errors(void) {
  ferrets_table_t *t = NULL;
  ferrets_cursor_t *c = NULL;
  CHECK(ferrets_table_new(&t) == FERRETS_OK);
  CHECK(ferrets_cursor_new(t, &c) == FERRETS_OK);
  ferrets_entry_t e = {NULL, 11, NULL, 22};
  bool found = true;
  CHECK(ferrets_cursor_next(c, &e, &found) == FERRETS_OK);
  CHECK(!found && e.key_len == 11 && e.value_len == 22);
  found = true;
  CHECK(ferrets_cursor_next(c, &e, &found) == FERRETS_OK && !found);

  ferrets_cursor_t *u = (ferrets_cursor_t *)0x1;
  CHECK(ferrets_cursor_new(NULL, &u) == FERRETS_ERR_NULL_ARGUMENT);
  CHECK(ferrets_cursor_new(t, NULL) == FERRETS_ERR_NULL_ARGUMENT);
  CHECK(u == (ferrets_cursor_t *)0x1);
  CHECK(ferrets_cursor_next(NULL, &e, &found) == FERRETS_ERR_NULL_ARGUMENT);
  CHECK(ferrets_cursor_next(c, NULL, &found) == FERRETS_ERR_NULL_ARGUMENT);
  CHECK(ferrets_cursor_next(c, &e, NULL) == FERRETS_ERR_NULL_ARGUMENT);
  ferrets_cursor_free(c);
  ferrets_cursor_free(NULL);
  ferrets_table_free(t);
}

static void test_full_walk(void) {
  ferrets_table_t *t = NULL;
  CHECK(ferrets_table_new(&t) == FERRETS_OK);
  char key[32], val[32];
  int put_ok = 0;
  for (int i = 0; i < N; i++) {
    int kn = snprintf(key, sizeof key, "k%d", i);
    int vn = snprintf(val, sizeof val, "v%d", i);
    put_ok += ferrets_table_put(t, (const uint8_t *)key, (size_t)kn, (const uint8_t *)val, (size_t)vn) ==
              FERRETS_OK;
  }
  CHECK(put_ok == N);
  CHECK(ferrets_table_put(t, NULL, 0, NULL, 0) == FERRETS_OK); /* empty key and value */
  static int seen[N];
  memset(seen, 0, sizeof seen);
  int empty = 0, bad = 0, total = 0;
  ferrets_cursor_t *c = NULL;
  CHECK(ferrets_cursor_new(t, &c) == FERRETS_OK);
  /* The cursor holds its own reference: the handle can go first. */
  ferrets_table_free(t);
  ferrets_entry_t e;
  bool found = false;
  while (ferrets_cursor_next(c, &e, &found) == FERRETS_OK && found) {
    total++;
    if (e.key_len == 0) {
      empty += e.key != NULL && e.value != NULL && e.value_len == 0;
      continue;
    }
    int i = -1;
    if (e.key_len < sizeof key) {
      memcpy(key, e.key, e.key_len);
      key[e.key_len] = '\0';
      sscanf(key, "k%d", &i);
    }
    if (i < 0 || i >= N) {
      bad++;
      continue;
    }
    seen[i]++;
    int vn = snprintf(val, sizeof val, "v%d", i);
    bad += (size_t)vn != e.value_len || memcmp(val, e.value, e.value_len) != 0;
  }
  ferrets_cursor_free(c);
  int once = 0;
  for (int i = 0; i < N; i++) once += seen[i] == 1;
  CHECK(once == N);
  CHECK(empty == 1);
  CHECK(bad == 0);
  CHECK(total == N + 1);
}

/* A writer adds and removes keys "w*" while the main thread walks; the
 * stable keys "s*" must each be seen exactly once. */
static atomic_int stop_writer;

static void *writer(void *arg) {
  const ferrets_table_t *t = arg;
  char key[32];
  for (int i = 0; !atomic_load(&stop_writer); i = (i + 1) % 50000) {
    int kn = snprintf(key, sizeof key, "w%d", i);
    if (ferrets_table_put(t, (const uint8_t *)key, (size_t)kn, K("x")) != FERRETS_OK) return (void *)1;
    if (i % 2 == 0) (void)ferrets_table_delete(t, (const uint8_t *)key, (size_t)kn);
  }
  return NULL;
}

static void test_concurrent_walk(void) {
  ferrets_table_t *t = NULL;
  CHECK(ferrets_table_new(&t) == FERRETS_OK);
  char key[32];
  int put_ok = 0;
  for (int i = 0; i < N; i++) {
    int kn = snprintf(key, sizeof key, "s%d", i);
    put_ok += ferrets_table_put(t, (const uint8_t *)key, (size_t)kn, K("stable")) == FERRETS_OK;
  }
  CHECK(put_ok == N);
  pthread_t th;
  atomic_store(&stop_writer, 0);
  CHECK(pthread_create(&th, NULL, writer, t) == 0);
  int exact = 0;
  for (int round = 0; round < 5; round++) {
    static int seen[N];
    memset(seen, 0, sizeof seen);
    ferrets_cursor_t *c = NULL;
    CHECK(ferrets_cursor_new(t, &c) == FERRETS_OK);
    ferrets_entry_t e;
    bool found = false;
    while (ferrets_cursor_next(c, &e, &found) == FERRETS_OK && found) {
      if (e.key_len > 1 && e.key_len < sizeof key && e.key[0] == 's') {
        memcpy(key, e.key, e.key_len);
        key[e.key_len] = '\0';
        int i = -1;
        sscanf(key, "s%d", &i);
        if (i >= 0 && i < N) seen[i]++;
      }
    }
    ferrets_cursor_free(c);
    int once = 0;
    for (int i = 0; i < N; i++) once += seen[i] == 1;
    exact += once == N;
  }
  atomic_store(&stop_writer, 1);
  void *r = NULL;
  CHECK(pthread_join(th, &r) == 0 && r == NULL);
  CHECK(exact == 5);
  ferrets_table_free(t);
}

int main(void) {
  test_empty_and_errors();
  test_full_walk();
  test_concurrent_walk();
  return check_summary();
}
