/* Every ferrets_table_* function, options, errors and the last-error message. */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "ferrets.h"

#define K(s) (const uint8_t *)(s), strlen(s)

/* True when the calling thread's last error message contains `needle`. */
static bool last_error_has(const char *needle) {
  char msg[256];
  ferrets_last_error_message(msg, sizeof msg);
  return strstr(msg, needle) != NULL;
}

static void test_version(void) {
  char want[32];
  snprintf(want, sizeof want, "%d.%d.%d", FERRETS_VERSION_MAJOR, FERRETS_VERSION_MINOR,
           FERRETS_VERSION_PATCH);
  CHECK(strcmp(ferrets_version(), want) == 0);
}

static void test_options(void) {
  ferrets_table_options_t o = ferrets_table_options_default();
  CHECK(o.partitions == 0 && o.capacity == 0);

  ferrets_table_t *t = NULL;
  o.partitions = 4;
  o.capacity = 1000;
  CHECK(ferrets_table_new_with(&o, &t) == FERRETS_OK);
  CHECK(t != NULL);
  CHECK(ferrets_table_put(t, K("k"), K("v")) == FERRETS_OK);
  ferrets_table_free(t);

  ferrets_table_t *untouched = (ferrets_table_t *)0x1;
  CHECK(ferrets_table_new_with(NULL, &untouched) == FERRETS_ERR_NULL_ARGUMENT);
  CHECK(last_error_has("options"));
  CHECK(ferrets_table_new_with(&o, NULL) == FERRETS_ERR_NULL_ARGUMENT);
  CHECK(last_error_has("out_table"));
  o.partitions = FERRETS_TABLE_MAX_PARTITIONS + 1;
  CHECK(ferrets_table_new_with(&o, &untouched) == FERRETS_ERR_INVALID_ARGUMENT);
  CHECK(last_error_has("partitions"));
  o.partitions = FERRETS_TABLE_MAX_PARTITIONS;
  o.capacity = (size_t)FERRETS_TABLE_MAX_CAPACITY + 1;
  CHECK(ferrets_table_new_with(&o, &untouched) == FERRETS_ERR_INVALID_ARGUMENT);
  CHECK(last_error_has("capacity"));
  CHECK(untouched == (ferrets_table_t *)0x1);
  CHECK(ferrets_table_new(NULL) == FERRETS_ERR_NULL_ARGUMENT);
}

static void test_put_get(void) {
  ferrets_table_t *t = NULL;
  CHECK(ferrets_table_new(&t) == FERRETS_OK);
  CHECK(ferrets_table_put(t, K("alpha"), K("one")) == FERRETS_OK);
  CHECK(ferrets_table_put(t, K("alpha"), K("uno")) == FERRETS_OK);
  CHECK(ferrets_table_put(t, K("beta"), NULL, 0) == FERRETS_OK);
  CHECK(ferrets_table_put(t, NULL, 0, K("empty key")) == FERRETS_OK);
  const uint8_t bin[] = {0, 1, 0, 2};
  CHECK(ferrets_table_put(t, bin, sizeof bin, bin, 3) == FERRETS_OK);

  uint8_t *v = NULL;
  size_t n = 0;
  CHECK(ferrets_table_get(t, K("alpha"), &v, &n) == FERRETS_OK);
  CHECK(n == 3 && memcmp(v, "uno", 3) == 0);
  ferrets_bytes_free(v, n);
  CHECK(ferrets_table_get(t, K("beta"), &v, &n) == FERRETS_OK);
  CHECK(n == 0 && v != NULL);
  ferrets_bytes_free(v, n);
  CHECK(ferrets_table_get(t, NULL, 0, &v, &n) == FERRETS_OK);
  CHECK(n == 9 && memcmp(v, "empty key", 9) == 0);
  ferrets_bytes_free(v, n);
  CHECK(ferrets_table_get(t, bin, sizeof bin, &v, &n) == FERRETS_OK);
  CHECK(n == 3 && memcmp(v, bin, 3) == 0);
  ferrets_bytes_free(v, n);
  CHECK(ferrets_table_get(t, bin, 3, &v, &n) == FERRETS_ERR_NOT_FOUND);

  uint8_t *uv = (uint8_t *)0x1;
  size_t un = 77;
  CHECK(ferrets_table_get(t, K("nope"), &uv, &un) == FERRETS_ERR_NOT_FOUND);
  CHECK(uv == (uint8_t *)0x1 && un == 77);
  CHECK(last_error_has("not found"));
  CHECK(ferrets_table_get(NULL, K("alpha"), &uv, &un) == FERRETS_ERR_NULL_ARGUMENT);
  CHECK(ferrets_table_get(t, NULL, 3, &uv, &un) == FERRETS_ERR_NULL_ARGUMENT);
  CHECK(last_error_has("key"));
  CHECK(ferrets_table_get(t, K("alpha"), NULL, &un) == FERRETS_ERR_NULL_ARGUMENT);
  CHECK(ferrets_table_get(t, K("alpha"), &uv, NULL) == FERRETS_ERR_NULL_ARGUMENT);
  CHECK(uv == (uint8_t *)0x1 && un == 77);

  CHECK(ferrets_table_put(NULL, K("k"), K("v")) == FERRETS_ERR_NULL_ARGUMENT);
  CHECK(ferrets_table_put(t, NULL, 1, K("v")) == FERRETS_ERR_NULL_ARGUMENT);
  CHECK(ferrets_table_put(t, K("k"), NULL, 1) == FERRETS_ERR_NULL_ARGUMENT);
  CHECK(last_error_has("value"));
  CHECK(ferrets_table_put(t, (const uint8_t *)"k", (size_t)PTRDIFF_MAX + 1, K("v")) ==
        FERRETS_ERR_INVALID_ARGUMENT);
  CHECK(last_error_has("key_len"));
  CHECK(ferrets_table_put(t, K("k"), (const uint8_t *)"v", SIZE_MAX) == FERRETS_ERR_INVALID_ARGUMENT);
  CHECK(last_error_has("value_len"));
  CHECK(ferrets_table_get(t, (const uint8_t *)"k", SIZE_MAX, &uv, &un) == FERRETS_ERR_INVALID_ARGUMENT);

  /* put_new */
  CHECK(ferrets_table_put_new(t, K("gamma"), K("3")) == FERRETS_OK);
  CHECK(ferrets_table_put_new(t, K("gamma"), K("three")) == FERRETS_ERR_ALREADY_EXISTS);
  CHECK(last_error_has("exists"));
  CHECK(ferrets_table_get(t, K("gamma"), &v, &n) == FERRETS_OK);
  CHECK(n == 1 && v[0] == '3');
  ferrets_bytes_free(v, n);
  CHECK(ferrets_table_put_new(NULL, K("k"), K("v")) == FERRETS_ERR_NULL_ARGUMENT);
  CHECK(ferrets_table_put_new(t, NULL, 2, K("v")) == FERRETS_ERR_NULL_ARGUMENT);
  CHECK(ferrets_table_put_new(t, K("k"), NULL, 2) == FERRETS_ERR_NULL_ARGUMENT);
  ferrets_table_free(t);
}

static void test_get_into(void) {
  ferrets_table_t *t = NULL;
  CHECK(ferrets_table_new(&t) == FERRETS_OK);
  CHECK(ferrets_table_put(t, K("k"), K("hello")) == FERRETS_OK);
  CHECK(ferrets_table_put(t, K("e"), NULL, 0) == FERRETS_OK);

  size_t len = 0;
  CHECK(ferrets_table_get_into(t, K("k"), NULL, 0, &len) == FERRETS_ERR_BUFFER_TOO_SMALL);
  CHECK(len == 5);
  CHECK(last_error_has("5 bytes"));
  char buf[8];
  memset(buf, 'x', sizeof buf);
  len = 0;
  CHECK(ferrets_table_get_into(t, K("k"), (uint8_t *)buf, 4, &len) == FERRETS_ERR_BUFFER_TOO_SMALL);
  CHECK(len == 5 && buf[0] == 'x');
  CHECK(ferrets_table_get_into(t, K("k"), (uint8_t *)buf, 5, &len) == FERRETS_OK);
  CHECK(len == 5 && memcmp(buf, "hello", 5) == 0 && buf[5] == 'x');
  CHECK(ferrets_table_get_into(t, K("k"), (uint8_t *)buf, sizeof buf, &len) == FERRETS_OK);
  CHECK(len == 5);
  CHECK(ferrets_table_get_into(t, K("e"), NULL, 0, &len) == FERRETS_OK);
  CHECK(len == 0);

  len = 42;
  CHECK(ferrets_table_get_into(t, K("missing"), (uint8_t *)buf, sizeof buf, &len) ==
        FERRETS_ERR_NOT_FOUND);
  CHECK(len == 42);
  CHECK(ferrets_table_get_into(NULL, K("k"), (uint8_t *)buf, sizeof buf, &len) ==
        FERRETS_ERR_NULL_ARGUMENT);
  CHECK(ferrets_table_get_into(t, NULL, 1, (uint8_t *)buf, sizeof buf, &len) ==
        FERRETS_ERR_NULL_ARGUMENT);
  CHECK(ferrets_table_get_into(t, K("k"), NULL, 8, &len) == FERRETS_ERR_NULL_ARGUMENT);
  CHECK(last_error_has("buf"));
  CHECK(ferrets_table_get_into(t, K("k"), (uint8_t *)buf, sizeof buf, NULL) ==
        FERRETS_ERR_NULL_ARGUMENT);
  CHECK(len == 42);
  ferrets_table_free(t);
}

static void test_contains_delete_take(void) {
  ferrets_table_t *t = NULL;
  CHECK(ferrets_table_new(&t) == FERRETS_OK);
  CHECK(ferrets_table_put(t, K("a"), K("1")) == FERRETS_OK);
  CHECK(ferrets_table_put(t, K("b"), K("22")) == FERRETS_OK);

  bool found = false;
  CHECK(ferrets_table_contains(t, K("a"), &found) == FERRETS_OK && found);
  CHECK(ferrets_table_contains(t, K("z"), &found) == FERRETS_OK && !found);
  found = true;
  CHECK(ferrets_table_contains(NULL, K("a"), &found) == FERRETS_ERR_NULL_ARGUMENT);
  CHECK(ferrets_table_contains(t, NULL, 1, &found) == FERRETS_ERR_NULL_ARGUMENT);
  CHECK(ferrets_table_contains(t, K("a"), NULL) == FERRETS_ERR_NULL_ARGUMENT);
  CHECK(found);

  CHECK(ferrets_table_delete(t, K("a")) == FERRETS_OK);
  CHECK(ferrets_table_delete(t, K("a")) == FERRETS_ERR_NOT_FOUND);
  CHECK(ferrets_table_delete(NULL, K("a")) == FERRETS_ERR_NULL_ARGUMENT);
  CHECK(ferrets_table_delete(t, NULL, 1) == FERRETS_ERR_NULL_ARGUMENT);
  CHECK(ferrets_table_contains(t, K("a"), &found) == FERRETS_OK && !found);

  uint8_t *v = NULL;
  size_t n = 0;
  CHECK(ferrets_table_take(t, K("b"), &v, &n) == FERRETS_OK);
  CHECK(n == 2 && memcmp(v, "22", 2) == 0);
  ferrets_bytes_free(v, n);
  uint8_t *uv = (uint8_t *)0x1;
  size_t un = 5;
  CHECK(ferrets_table_take(t, K("b"), &uv, &un) == FERRETS_ERR_NOT_FOUND);
  CHECK(ferrets_table_put(t, K("c"), K("3")) == FERRETS_OK);
  CHECK(ferrets_table_take(NULL, K("c"), &uv, &un) == FERRETS_ERR_NULL_ARGUMENT);
  CHECK(ferrets_table_take(t, NULL, 1, &uv, &un) == FERRETS_ERR_NULL_ARGUMENT);
  CHECK(ferrets_table_take(t, K("c"), NULL, &un) == FERRETS_ERR_NULL_ARGUMENT);
  CHECK(ferrets_table_take(t, K("c"), &uv, NULL) == FERRETS_ERR_NULL_ARGUMENT);
  CHECK(uv == (uint8_t *)0x1 && un == 5);
  CHECK(ferrets_table_contains(t, K("c"), &found) == FERRETS_OK && found);
  ferrets_table_free(t);
}

static void test_counters(void) {
  ferrets_table_t *t = NULL;
  CHECK(ferrets_table_new(&t) == FERRETS_OK);
  int64_t c = 0;
  CHECK(ferrets_table_counter_add(t, K("hits"), 5, 100, &c) == FERRETS_OK);
  CHECK(c == 105);
  CHECK(ferrets_table_counter_add(t, K("hits"), -6, 0, &c) == FERRETS_OK);
  CHECK(c == 99);
  CHECK(ferrets_table_counter_add(t, K("max"), 1, INT64_MAX, &c) == FERRETS_OK);
  CHECK(c == INT64_MIN);

  /* Counters are 8-byte little-endian integers, readable with get. */
  uint8_t raw[8];
  size_t n = 0;
  CHECK(ferrets_table_get_into(t, K("hits"), raw, sizeof raw, &n) == FERRETS_OK);
  CHECK(n == 8 && raw[0] == 99 && raw[1] == 0 && raw[7] == 0);

  CHECK(ferrets_table_put(t, K("text"), K("abc")) == FERRETS_OK);
  CHECK(ferrets_table_counter_add(t, K("text"), 1, 0, &c) == FERRETS_ERR_NOT_A_COUNTER);
  CHECK(last_error_has("counter"));
  CHECK(c == INT64_MIN);
  CHECK(ferrets_table_counter_add(NULL, K("hits"), 1, 0, &c) == FERRETS_ERR_NULL_ARGUMENT);
  CHECK(ferrets_table_counter_add(t, NULL, 1, 1, 0, &c) == FERRETS_ERR_NULL_ARGUMENT);
  CHECK(ferrets_table_counter_add(t, K("hits"), 1, 0, NULL) == FERRETS_ERR_NULL_ARGUMENT);
  CHECK(ferrets_table_counter_add(t, K("hits"), 0, 0, &c) == FERRETS_OK);
  CHECK(c == 99);
  ferrets_table_free(t);
}

static void test_len_clear_memory(void) {
  ferrets_table_t *t = NULL;
  CHECK(ferrets_table_new(&t) == FERRETS_OK);
  size_t len = 99, before = 0, after = 0;
  CHECK(ferrets_table_len(t, &len) == FERRETS_OK && len == 0);
  CHECK(ferrets_table_memory_bytes(t, &before) == FERRETS_OK);
  CHECK(before > 0);
  char key[32];
  int put_ok = 0;
  for (int i = 0; i < 1000; i++) {
    int kn = snprintf(key, sizeof key, "key-%d", i);
    put_ok += ferrets_table_put(t, (const uint8_t *)key, (size_t)kn, K("a value of some length")) ==
              FERRETS_OK;
  }
  CHECK(put_ok == 1000);
  CHECK(ferrets_table_len(t, &len) == FERRETS_OK && len == 1000);
  CHECK(ferrets_table_memory_bytes(t, &after) == FERRETS_OK);
  CHECK(after > before + 1000 * 20);

  CHECK(ferrets_table_clear(t) == FERRETS_OK);
  CHECK(ferrets_table_len(t, &len) == FERRETS_OK && len == 0);
  CHECK(ferrets_table_memory_bytes(t, &after) == FERRETS_OK);
  CHECK(after < before + 1000 * 20);

  len = 7;
  CHECK(ferrets_table_len(NULL, &len) == FERRETS_ERR_NULL_ARGUMENT);
  CHECK(ferrets_table_len(t, NULL) == FERRETS_ERR_NULL_ARGUMENT);
  CHECK(ferrets_table_clear(NULL) == FERRETS_ERR_NULL_ARGUMENT);
  CHECK(ferrets_table_memory_bytes(NULL, &len) == FERRETS_ERR_NULL_ARGUMENT);
  CHECK(ferrets_table_memory_bytes(t, NULL) == FERRETS_ERR_NULL_ARGUMENT);
  CHECK(len == 7);
  ferrets_table_free(t);
}

/* A load that stops while a partition grows leaves it holding two arrays
 * (writers finish resizes as they write; readers never do): finishing the
 * resize releases the old one and loses nothing. */
static void test_finish_resizes(void) {
  ferrets_table_options_t o = ferrets_table_options_default();
  o.partitions = 1;
  ferrets_table_t *t = NULL;
  CHECK(ferrets_table_new_with(&o, &t) == FERRETS_OK);
  char key[32];
  int put_ok = 0, grew = 0, settled = 0;
  for (int i = 0; i < 20000; i++) {
    int kn = snprintf(key, sizeof key, "k%d", i);
    put_ok += ferrets_table_put(t, (const uint8_t *)key, (size_t)kn, K("v")) == FERRETS_OK;
    if (i % 97 == 0) {
      size_t before = 0, after = 0;
      CHECK(ferrets_table_memory_bytes(t, &before) == FERRETS_OK);
      CHECK(ferrets_table_finish_resizes(t) == FERRETS_OK);
      CHECK(ferrets_table_memory_bytes(t, &after) == FERRETS_OK);
      grew += after > before;
      settled += after < before;
    }
  }
  CHECK(put_ok == 20000);
  CHECK(grew == 0);
  CHECK(settled > 0); /* some sample fell inside a resize */
  size_t len = 0;
  CHECK(ferrets_table_len(t, &len) == FERRETS_OK && len == 20000);
  int found = 0;
  for (int i = 0; i < 20000; i++) {
    int kn = snprintf(key, sizeof key, "k%d", i);
    bool here = false;
    CHECK(ferrets_table_contains(t, (const uint8_t *)key, (size_t)kn, &here) == FERRETS_OK);
    found += here;
  }
  CHECK(found == 20000);
  CHECK(ferrets_table_finish_resizes(NULL) == FERRETS_ERR_NULL_ARGUMENT);
  CHECK(last_error_has("table"));
  ferrets_table_free(t);
}

static void test_dup(void) {
  ferrets_table_t *a = NULL, *b = NULL;
  CHECK(ferrets_table_new(&a) == FERRETS_OK);
  CHECK(ferrets_table_dup(a, &b) == FERRETS_OK);
  CHECK(b != NULL && b != a);
  CHECK(ferrets_table_put(a, K("k"), K("v")) == FERRETS_OK);
  ferrets_table_free(a);
  bool found = false;
  CHECK(ferrets_table_contains(b, K("k"), &found) == FERRETS_OK && found);
  ferrets_table_t *u = (ferrets_table_t *)0x1;
  CHECK(ferrets_table_dup(NULL, &u) == FERRETS_ERR_NULL_ARGUMENT);
  CHECK(ferrets_table_dup(b, NULL) == FERRETS_ERR_NULL_ARGUMENT);
  CHECK(u == (ferrets_table_t *)0x1);
  ferrets_table_free(b);
}

static void test_last_error(void) {
  CHECK(ferrets_table_put(NULL, K("k"), K("v")) == FERRETS_ERR_NULL_ARGUMENT);
  size_t need = ferrets_last_error_message(NULL, 0);
  CHECK(need > 1);
  char *msg = malloc(need);
  CHECK(msg != NULL);
  CHECK(ferrets_last_error_message(msg, need) == need);
  CHECK(strlen(msg) == need - 1);
  CHECK(strstr(msg, "table") != NULL);
  free(msg);
  char small[4];
  CHECK(ferrets_last_error_message(small, sizeof small) == need);
  CHECK(strlen(small) == 3);
  char one[1] = {'x'};
  CHECK(ferrets_last_error_message(one, 1) == need);
  CHECK(one[0] == '\0');
}

static void *fresh_thread_message(void *out) {
  *(size_t *)out = ferrets_last_error_message(NULL, 0);
  return NULL;
}

/* The message is per thread: a thread with no error sees an empty one. */
static void test_last_error_is_per_thread(void) {
  CHECK(ferrets_table_new(NULL) == FERRETS_ERR_NULL_ARGUMENT);
  size_t fresh = 0;
  pthread_t th;
  CHECK(pthread_create(&th, NULL, fresh_thread_message, &fresh) == 0);
  CHECK(pthread_join(th, NULL) == 0);
  CHECK(fresh == 1);
  CHECK(ferrets_last_error_message(NULL, 0) > 1);
}

static void test_free_null(void) {
  ferrets_table_free(NULL);
  ferrets_cursor_free(NULL);
  ferrets_bytes_free(NULL, 0);
  CHECK(1);
}

int main(void) {
  test_version();
  test_options();
  test_put_get();
  test_get_into();
  test_contains_delete_take();
  test_counters();
  test_len_clear_memory();
  test_finish_resizes();
  test_dup();
  test_last_error();
  test_last_error_is_per_thread();
  test_free_null();
  return check_summary();
}
