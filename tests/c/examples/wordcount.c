/* wordcount: four threads count words into one named table, then the main
 * thread walks it with a cursor. Build against an installed libferrets:
 *
 *   cc -std=c11 wordcount.c $(pkg-config --cflags --libs ferrets) -lpthread -o wordcount
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ferrets.h>

#define THREADS 4
#define REPEAT 1000

static const char *const LINES[THREADS] = {
    "the quick brown fox",
    "jumps over the lazy dog",
    "the dog sleeps",
    "a fox runs",
};

static void die(const char *what, ferrets_status_t s) {
  char msg[256];
  ferrets_last_error_message(msg, sizeof msg);
  fprintf(stderr, "%s failed (status %d): %s\n", what, (int)s, msg);
  exit(1);
}

static void *count_words(void *arg) {
  const char *line = arg;
  ferrets_table_t *words = NULL;
  ferrets_status_t s = ferrets_table_open_named("words", &words); /* this thread's own handle */
  if (s != FERRETS_OK) die("ferrets_table_open_named", s);
  for (int r = 0; r < REPEAT; r++) {
    const char *p = line;
    while (*p != '\0') {
      size_t n = strcspn(p, " ");
      int64_t total = 0;
      s = ferrets_table_counter_add(words, (const uint8_t *)p, n, 1, 0, &total);
      if (s != FERRETS_OK) die("ferrets_table_counter_add", s);
      p += n;
      p += strspn(p, " ");
    }
  }
  ferrets_table_free(words);
  return NULL;
}

int main(void) {
  printf("libferrets %s\n", ferrets_version());
  ferrets_table_options_t opts = ferrets_table_options_default();
  ferrets_table_t *words = NULL;
  ferrets_status_t s = ferrets_table_create_named("words", &opts, &words);
  if (s != FERRETS_OK) die("ferrets_table_create_named", s);

  pthread_t th[THREADS];
  for (int i = 0; i < THREADS; i++) {
    if (pthread_create(&th[i], NULL, count_words, (void *)LINES[i]) != 0) return 1;
  }
  for (int i = 0; i < THREADS; i++) pthread_join(th[i], NULL);

  ferrets_cursor_t *cur = NULL;
  if ((s = ferrets_cursor_new(words, &cur)) != FERRETS_OK) die("ferrets_cursor_new", s);
  ferrets_entry_t e;
  bool found = false;
  int64_t total = 0;
  while ((s = ferrets_cursor_next(cur, &e, &found)) == FERRETS_OK && found) {
    int64_t n = 0;
    memcpy(&n, e.value, sizeof n); /* counters are 8-byte little-endian */
    total += n;
  }
  ferrets_cursor_free(cur);

  int64_t the = 0;
  uint8_t buf[8];
  size_t len = 0;
  if ((s = ferrets_table_get_into(words, (const uint8_t *)"the", 3, buf, sizeof buf, &len)) != FERRETS_OK)
    die("ferrets_table_get_into", s);
  memcpy(&the, buf, sizeof the);
  size_t distinct = 0;
  ferrets_table_len(words, &distinct);
  ferrets_table_free(words);

  printf("%zu distinct words, %lld words in all, \"the\" x %lld\n", distinct, (long long)total,
         (long long)the);
  bool ok = distinct == 11 && total == 15 * REPEAT && the == 3 * REPEAT;
  puts(ok ? "ok" : "MISMATCH");
  return ok ? 0 : 1;
}
