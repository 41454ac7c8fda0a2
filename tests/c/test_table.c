#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "ferrets.h"

#define K(s) (const uint8_t *)(s), strlen(s)

static void test_version(void) {
  char want[32];
  snprintf(want, sizeof want, "%d.%d.%d", FERRETS_VERSION_MAJOR, FERRETS_VERSION_MINOR,
           FERRETS_VERSION_PATCH);
  CHECK(strcmp(ferrets_version(), want) == 0);
}

static void test_round_trip(void) {
  ferrets_table_t *t = NULL;
  CHECK(ferrets_table_new(&t) == FERRETS_OK);
  CHECK(t != NULL);
  CHECK(ferrets_table_put(t, K("alpha"), K("one")) == FERRETS_OK);
  CHECK(ferrets_table_put(t, K("alpha"), K("uno")) == FERRETS_OK);
  CHECK(ferrets_table_put(t, K("beta"), NULL, 0) == FERRETS_OK);

  uint8_t *v = NULL;
  size_t n = 0;
  CHECK(ferrets_table_get(t, K("alpha"), &v, &n) == FERRETS_OK);
  CHECK(n == 3 && memcmp(v, "uno", 3) == 0);
  ferrets_bytes_free(v, n);

  CHECK(ferrets_table_get(t, K("beta"), &v, &n) == FERRETS_OK);
  CHECK(n == 0 && v != NULL);
  ferrets_bytes_free(v, n);

  size_t len = 0;
  CHECK(ferrets_table_len(t, &len) == FERRETS_OK);
  CHECK(len == 2);

  CHECK(ferrets_table_delete(t, K("alpha")) == FERRETS_OK);
  CHECK(ferrets_table_delete(t, K("alpha")) == FERRETS_ERR_NOT_FOUND);
  uint8_t *untouched = (uint8_t *)0x1;
  size_t untouched_len = 77;
  CHECK(ferrets_table_get(t, K("alpha"), &untouched, &untouched_len) == FERRETS_ERR_NOT_FOUND);
  CHECK(untouched == (uint8_t *)0x1 && untouched_len == 77);

  int64_t c = 0;
  CHECK(ferrets_table_counter_add(t, K("hits"), 5, 100, &c) == FERRETS_OK);
  CHECK(c == 105);
  CHECK(ferrets_table_counter_add(t, K("hits"), -6, 0, &c) == FERRETS_OK);
  CHECK(c == 99);
  CHECK(ferrets_table_counter_add(t, K("beta"), 1, 0, &c) == FERRETS_ERR_NOT_A_COUNTER);
  CHECK(c == 99);

  ferrets_table_free(t);
}

static void test_errors(void) {
  ferrets_table_t *t = NULL;
  CHECK(ferrets_table_new(NULL) == FERRETS_ERR_NULL_ARGUMENT);
  CHECK(ferrets_table_put(NULL, K("k"), K("v")) == FERRETS_ERR_NULL_ARGUMENT);

  size_t need = ferrets_last_error_message(NULL, 0);
  char *msg = malloc(need);
  CHECK(msg != NULL);
  CHECK(ferrets_last_error_message(msg, need) == need);
  CHECK(strstr(msg, "table") != NULL);
  free(msg);

  char small[4];
  CHECK(ferrets_last_error_message(small, sizeof small) == need);
  CHECK(strlen(small) == 3);

  CHECK(ferrets_table_new(&t) == FERRETS_OK);
  CHECK(ferrets_table_put(t, NULL, 5, K("v")) == FERRETS_ERR_NULL_ARGUMENT);
  size_t len = 123;
  CHECK(ferrets_table_len(NULL, &len) == FERRETS_ERR_NULL_ARGUMENT);
  CHECK(len == 123);
  CHECK(ferrets_table_len(t, NULL) == FERRETS_ERR_NULL_ARGUMENT);
  CHECK(ferrets_table_get(t, K("k"), NULL, &len) == FERRETS_ERR_NULL_ARGUMENT);
  ferrets_table_free(t);
  ferrets_table_free(NULL);
  ferrets_bytes_free(NULL, 0);
}

int main(void) {
  test_version();
  test_round_trip();
  test_errors();
  return check_summary();
}
