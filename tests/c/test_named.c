/* Named tables: the process-wide registry and its refcounted handles. */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "ferrets.h"

#define K(s) (const uint8_t *)(s), strlen(s)

static bool has(const ferrets_table_t *t, const char *key) {
  bool found = false;
  return ferrets_table_contains(t, K(key), &found) == FERRETS_OK && found;
}

static void test_lifecycle(void) {
  ferrets_table_options_t o = ferrets_table_options_default();
  ferrets_table_t *a = NULL, *b = NULL, *c = NULL, *d = NULL;
  ferrets_table_t *untouched = (ferrets_table_t *)0x1;

  CHECK(ferrets_table_open_named("sessions", &untouched) == FERRETS_ERR_NAME_NOT_FOUND);
  CHECK(untouched == (ferrets_table_t *)0x1);
  CHECK(ferrets_table_create_named("sessions", &o, &a) == FERRETS_OK);
  CHECK(ferrets_table_create_named("sessions", &o, &untouched) == FERRETS_ERR_ALREADY_EXISTS);
  CHECK(untouched == (ferrets_table_t *)0x1);
  CHECK(ferrets_table_open_named("sessions", &b) == FERRETS_OK);
  CHECK(ferrets_table_put(a, K("user:1"), K("ada")) == FERRETS_OK);
  CHECK(has(b, "user:1"));
  CHECK(ferrets_table_open_or_create_named("sessions", &o, &c) == FERRETS_OK);
  CHECK(has(c, "user:1"));
  CHECK(ferrets_table_dup(c, &d) == FERRETS_OK);

  /* Names are independent. */
  ferrets_table_t *other = NULL;
  CHECK(ferrets_table_open_or_create_named("sessions2", &o, &other) == FERRETS_OK);
  CHECK(!has(other, "user:1"));
  ferrets_table_free(other);
  CHECK(ferrets_table_open_named("sessions2", &untouched) == FERRETS_ERR_NAME_NOT_FOUND);

  /* The name lives while any handle (including a dup) is open. */
  ferrets_table_free(a);
  ferrets_table_free(b);
  ferrets_table_free(c);
  CHECK(ferrets_table_open_named("sessions", &a) == FERRETS_OK);
  CHECK(has(a, "user:1"));
  ferrets_table_free(a);
  ferrets_table_free(d);
  CHECK(ferrets_table_open_named("sessions", &untouched) == FERRETS_ERR_NAME_NOT_FOUND);
  CHECK(untouched == (ferrets_table_t *)0x1);

  /* After the last handle, the same name makes a fresh, empty table. */
  o.partitions = 2;
  CHECK(ferrets_table_create_named("sessions", &o, &a) == FERRETS_OK);
  CHECK(!has(a, "user:1"));
  ferrets_table_free(a);

  /* A cursor keeps the memory, not the name. */
  ferrets_cursor_t *cur = NULL;
  CHECK(ferrets_table_create_named("walked", &o, &a) == FERRETS_OK);
  CHECK(ferrets_table_put(a, K("k"), K("v")) == FERRETS_OK);
  CHECK(ferrets_cursor_new(a, &cur) == FERRETS_OK);
  ferrets_table_free(a);
  CHECK(ferrets_table_open_named("walked", &untouched) == FERRETS_ERR_NAME_NOT_FOUND);
  ferrets_entry_t e;
  bool found = false;
  CHECK(ferrets_cursor_next(cur, &e, &found) == FERRETS_OK && found);
  CHECK(e.key_len == 1 && e.value_len == 1 && e.value[0] == 'v');
  ferrets_cursor_free(cur);
}

static void test_errors(void) {
  ferrets_table_options_t o = ferrets_table_options_default();
  ferrets_table_t *u = (ferrets_table_t *)0x1;
  CHECK(ferrets_table_create_named(NULL, &o, &u) == FERRETS_ERR_NULL_ARGUMENT);
  CHECK(ferrets_table_create_named("x", NULL, &u) == FERRETS_ERR_NULL_ARGUMENT);
  CHECK(ferrets_table_create_named("x", &o, NULL) == FERRETS_ERR_NULL_ARGUMENT);
  CHECK(ferrets_table_create_named("", &o, &u) == FERRETS_ERR_INVALID_ARGUMENT);
  o.partitions = FERRETS_TABLE_MAX_PARTITIONS * 2;
  CHECK(ferrets_table_create_named("x", &o, &u) == FERRETS_ERR_INVALID_ARGUMENT);
  CHECK(ferrets_table_open_or_create_named("x", &o, &u) == FERRETS_ERR_INVALID_ARGUMENT);
  o.partitions = 0;
  CHECK(ferrets_table_open_named(NULL, &u) == FERRETS_ERR_NULL_ARGUMENT);
  CHECK(ferrets_table_open_named("x", NULL) == FERRETS_ERR_NULL_ARGUMENT);
  CHECK(ferrets_table_open_named("", &u) == FERRETS_ERR_INVALID_ARGUMENT);
  CHECK(ferrets_table_open_or_create_named(NULL, &o, &u) == FERRETS_ERR_NULL_ARGUMENT);
  CHECK(ferrets_table_open_or_create_named("x", NULL, &u) == FERRETS_ERR_NULL_ARGUMENT);
  CHECK(ferrets_table_open_or_create_named("x", &o, NULL) == FERRETS_ERR_NULL_ARGUMENT);
  CHECK(ferrets_table_open_or_create_named("", &o, &u) == FERRETS_ERR_INVALID_ARGUMENT);
  CHECK(u == (ferrets_table_t *)0x1);
  /* None of the failures registered the name. */
  CHECK(ferrets_table_open_named("x", &u) == FERRETS_ERR_NAME_NOT_FOUND);
  char msg[128];
  ferrets_last_error_message(msg, sizeof msg);
  CHECK(strstr(msg, "`x`") != NULL);
}

/* Threads race to open-or-create one name, count, and free their handles. */
#define THREADS 8
#define ROUNDS 200

static void *racer(void *arg) {
  (void)arg;
  ferrets_table_options_t o = ferrets_table_options_default();
  for (int i = 0; i < ROUNDS; i++) {
    ferrets_table_t *t = NULL;
    if (ferrets_table_open_or_create_named("race", &o, &t) != FERRETS_OK) return (void *)1;
    int64_t n = 0;
    if (ferrets_table_counter_add(t, K("n"), 1, 0, &n) != FERRETS_OK) return (void *)1;
    ferrets_table_free(t);
  }
  return NULL;
}

static void test_threads(void) {
  /* Hold one handle so the table survives moments when no racer has one. */
  ferrets_table_options_t o = ferrets_table_options_default();
  ferrets_table_t *keep = NULL;
  CHECK(ferrets_table_create_named("race", &o, &keep) == FERRETS_OK);
  pthread_t th[THREADS];
  for (int i = 0; i < THREADS; i++) CHECK(pthread_create(&th[i], NULL, racer, NULL) == 0);
  for (int i = 0; i < THREADS; i++) {
    void *r = NULL;
    CHECK(pthread_join(th[i], &r) == 0);
    CHECK(r == NULL);
  }
  int64_t n = 0;
  CHECK(ferrets_table_counter_add(keep, K("n"), 0, 0, &n) == FERRETS_OK);
  CHECK(n == THREADS * ROUNDS);
  ferrets_table_free(keep);
  ferrets_table_t *u = NULL;
  CHECK(ferrets_table_open_named("race", &u) == FERRETS_ERR_NAME_NOT_FOUND);
}

int main(void) {
  test_lifecycle();
  test_errors();
  test_threads();
  return check_summary();
}
