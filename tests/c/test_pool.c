/* The offload pool: every outcome, every rejection, callbacks, ownership of
 * result pointers, shutdown and metrics. Workers are blocked with a gate
 * (an atomic flag), never with timing assumptions. */
#define _POSIX_C_SOURCE 200809L
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "ferrets.h"

static void nap(void) {
  struct timespec ts = {0, 1000000}; /* 1 ms */
  nanosleep(&ts, NULL);
}

/* A gate: jobs wait in it until it opens; `entered` counts arrivals. */
typedef struct {
  atomic_bool open;
  atomic_int entered;
} gate_t;

static int32_t gate_job(void *arg, const ferrets_token_t *token, void **out_value) {
  (void)token;
  (void)out_value;
  gate_t *g = arg;
  atomic_fetch_add(&g->entered, 1);
  while (!atomic_load(&g->open)) nap();
  return 0;
}

static void wait_entered(gate_t *g, int n) {
  for (int i = 0; i < 20000 && atomic_load(&g->entered) < n; i++) nap();
}

static ferrets_pool_t *new_pool(size_t workers, size_t queue) {
  ferrets_pool_options_t o = ferrets_pool_options_default();
  o.workers = workers;
  o.queue = queue;
  o.name = "ctest";
  ferrets_pool_t *p = NULL;
  CHECK(ferrets_pool_new(&o, &p) == FERRETS_OK);
  return p;
}

static ferrets_job_spec_t spec_of(ferrets_job_fn run, void *arg) {
  ferrets_job_spec_t s;
  memset(&s, 0, sizeof s);
  s.run = run;
  s.arg = arg;
  return s;
}

/* Returns *arg as a heap-allocated int result, or *arg as an error status when negative. */
static int32_t value_job(void *arg, const ferrets_token_t *token, void **out_value) {
  (void)token;
  int n = *(int *)arg;
  int *v = malloc(sizeof *v);
  *v = n;
  *out_value = v;
  return n < 0 ? -n : 0;
}

static atomic_int ran_count;
static int32_t count_job(void *arg, const ferrets_token_t *token, void **out_value) {
  (void)arg;
  (void)token;
  (void)out_value;
  atomic_fetch_add(&ran_count, 1);
  return 0;
}

static int32_t cooperative_job(void *arg, const ferrets_token_t *token, void **out_value) {
  (void)out_value;
  gate_t *g = arg;
  atomic_fetch_add(&g->entered, 1);
  while (!ferrets_token_is_cancelled(token)) nap();
  return 1;
}

static void test_create_and_errors(void) {
  ferrets_pool_t *p = NULL;
  CHECK(ferrets_pool_new(NULL, NULL) == FERRETS_ERR_NULL_ARGUMENT);
  CHECK(ferrets_pool_new(NULL, &p) == FERRETS_OK); /* defaults */
  ferrets_pool_metrics_t m;
  CHECK(ferrets_pool_metrics(p, &m) == FERRETS_OK);
  CHECK(m.queue_capacity == 1024 && m.workers >= 1);
  ferrets_pool_free(p);
  ferrets_pool_free(NULL);

  ferrets_pool_options_t o = ferrets_pool_options_default();
  o.name = "\xff\xfe";
  ferrets_pool_t *untouched = (ferrets_pool_t *)0x1;
  CHECK(ferrets_pool_new(&o, &untouched) == FERRETS_ERR_INVALID_ARGUMENT);
  CHECK(untouched == (ferrets_pool_t *)0x1);
  o.name = NULL;
  o.workers = 1000000;
  CHECK(ferrets_pool_new(&o, &untouched) == FERRETS_ERR_INVALID_ARGUMENT);

  p = new_pool(1, 4);
  ferrets_job_spec_t s = spec_of(NULL, NULL);
  ferrets_job_t *j = NULL;
  CHECK(ferrets_pool_submit(p, &s, &j) == FERRETS_ERR_NULL_ARGUMENT);
  CHECK(ferrets_pool_submit(p, NULL, &j) == FERRETS_ERR_NULL_ARGUMENT);
  CHECK(ferrets_pool_submit(NULL, &s, &j) == FERRETS_ERR_NULL_ARGUMENT);
  CHECK(j == NULL);
  CHECK(ferrets_pool_shutdown(p, 7, 0, NULL) == FERRETS_ERR_INVALID_ARGUMENT);
  CHECK(ferrets_job_try_get(NULL, NULL) == FERRETS_ERR_NULL_ARGUMENT);
  CHECK(ferrets_job_id(NULL) == 0);
  CHECK(!ferrets_token_is_cancelled(NULL));
  ferrets_job_free(NULL);
  ferrets_pool_free(p);
}

static void test_ok_and_error(void) {
  ferrets_pool_t *p = new_pool(2, 8);
  int five = 5, minus_three = -3;
  ferrets_job_spec_t s = spec_of(value_job, &five);
  ferrets_job_t *ok = NULL, *err = NULL;
  CHECK(ferrets_pool_submit(p, &s, &ok) == FERRETS_OK);
  s.arg = &minus_three;
  CHECK(ferrets_pool_submit(p, &s, &err) == FERRETS_OK);
  CHECK(ferrets_job_id(ok) != 0 && ferrets_job_id(ok) != ferrets_job_id(err));

  ferrets_job_result_t r;
  CHECK(ferrets_job_wait(ok, FERRETS_WAIT_FOREVER, &r) == FERRETS_OK);
  CHECK(r.outcome == FERRETS_OUTCOME_OK && r.code == 0 && r.job_id == ferrets_job_id(ok));
  CHECK(r.value != NULL && *(int *)r.value == 5);
  free(r.value); /* the receiver owns the value */
  CHECK(ferrets_job_try_get(ok, &r) == FERRETS_ERR_INVALID_ARGUMENT); /* taken once */

  CHECK(ferrets_job_wait(err, 20000, &r) == FERRETS_OK);
  CHECK(r.outcome == FERRETS_OUTCOME_ERROR && r.code == 3);
  free(r.value);
  ferrets_job_free(ok);
  ferrets_job_free(err);
  ferrets_pool_free(p);
}

static void test_overload_pending_and_blocking_submit(void) {
  ferrets_pool_t *p = new_pool(1, 1);
  gate_t g = {false, 0};
  ferrets_job_spec_t blocker = spec_of(gate_job, &g);
  ferrets_job_t *b = NULL;
  CHECK(ferrets_pool_submit(p, &blocker, &b) == FERRETS_OK);
  wait_entered(&g, 1);
  ferrets_job_spec_t s = spec_of(count_job, NULL);
  CHECK(ferrets_pool_submit(p, &s, NULL) == FERRETS_OK); /* fills the queue */
  ferrets_job_t *j = (ferrets_job_t *)0x1;
  CHECK(ferrets_pool_submit(p, &s, &j) == FERRETS_ERR_OVERLOADED);
  CHECK(j == (ferrets_job_t *)0x1);
  CHECK(ferrets_pool_submit_blocking(p, &s, 20, &j) == FERRETS_ERR_OVERLOADED);

  ferrets_job_result_t r;
  CHECK(ferrets_job_try_get(b, &r) == FERRETS_ERR_TIMEOUT);
  CHECK(ferrets_job_wait(b, 10, &r) == FERRETS_ERR_TIMEOUT);
  atomic_store(&g.open, true);
  CHECK(ferrets_pool_submit_blocking(p, &s, FERRETS_WAIT_FOREVER, NULL) == FERRETS_OK);
  CHECK(ferrets_job_wait(b, FERRETS_WAIT_FOREVER, &r) == FERRETS_OK && r.outcome == FERRETS_OUTCOME_OK);
  ferrets_job_free(b);

  ferrets_shutdown_report_t rep;
  CHECK(ferrets_pool_shutdown(p, FERRETS_SHUTDOWN_DRAIN, FERRETS_WAIT_FOREVER, &rep) == FERRETS_OK);
  CHECK(rep.stragglers == 0 && rep.joined == 1 && !rep.already_shut_down);
  ferrets_pool_metrics_t m;
  CHECK(ferrets_pool_metrics(p, &m) == FERRETS_OK);
  CHECK(m.submitted == 3 && m.rejected == 2 && m.completed == 3);
  CHECK(m.queue_wait_max_ns >= m.queue_wait_p50_ns);
  CHECK(ferrets_pool_submit(p, &s, NULL) == FERRETS_ERR_SHUTTING_DOWN);
  CHECK(ferrets_pool_shutdown(p, FERRETS_SHUTDOWN_ABORT, 0, &rep) == FERRETS_OK && rep.already_shut_down);
  ferrets_pool_free(p);
}

static void test_deadline_and_cancel(void) {
  ferrets_pool_t *p = new_pool(1, 8);
  gate_t g = {false, 0};
  ferrets_job_spec_t blocker = spec_of(gate_job, &g);
  CHECK(ferrets_pool_submit(p, &blocker, NULL) == FERRETS_OK);
  wait_entered(&g, 1);
  atomic_store(&ran_count, 0);

  ferrets_job_spec_t s = spec_of(count_job, NULL);
  s.timeout_ms = 20;
  ferrets_job_t *expiring = NULL, *cancelled = NULL;
  CHECK(ferrets_pool_submit(p, &s, &expiring) == FERRETS_OK);
  s.timeout_ms = 0;
  CHECK(ferrets_pool_submit(p, &s, &cancelled) == FERRETS_OK);
  ferrets_cancel_result_t c;
  CHECK(ferrets_job_cancel(cancelled, &c) == FERRETS_OK && c == FERRETS_CANCEL_NOT_STARTED);
  CHECK(ferrets_job_cancel(cancelled, &c) == FERRETS_OK && c == FERRETS_CANCEL_ALREADY_FINISHED);

  ferrets_job_result_t r;
  CHECK(ferrets_job_wait(expiring, FERRETS_WAIT_FOREVER, &r) == FERRETS_OK);
  CHECK(r.outcome == FERRETS_OUTCOME_TIMED_OUT && r.value == NULL);
  CHECK(ferrets_job_wait(cancelled, FERRETS_WAIT_FOREVER, &r) == FERRETS_OK);
  CHECK(r.outcome == FERRETS_OUTCOME_CANCELLED);
  atomic_store(&g.open, true);

  /* Cancel while running: cooperative through the token. */
  gate_t g2 = {false, 0};
  ferrets_job_spec_t coop = spec_of(cooperative_job, &g2);
  ferrets_job_t *running = NULL;
  CHECK(ferrets_pool_submit(p, &coop, &running) == FERRETS_OK);
  wait_entered(&g2, 1);
  CHECK(ferrets_job_cancel(running, NULL) == FERRETS_OK);
  CHECK(ferrets_job_wait(running, FERRETS_WAIT_FOREVER, &r) == FERRETS_OK);
  CHECK(r.outcome == FERRETS_OUTCOME_CANCELLED && r.code == 1);

  ferrets_pool_shutdown(p, FERRETS_SHUTDOWN_DRAIN, FERRETS_WAIT_FOREVER, NULL);
  CHECK(atomic_load(&ran_count) == 0); /* neither the expired nor the cancelled job ran */
  ferrets_job_free(expiring);
  ferrets_job_free(cancelled);
  ferrets_job_free(running);
  ferrets_pool_free(p);
}

/* Completion callbacks: each job's slot counts its callbacks. */
#define N_CB 200
static atomic_int cb_calls[N_CB];
static atomic_int cb_cancelled;

static void on_done(void *arg, const ferrets_job_result_t *r) {
  int i = (int)(intptr_t)arg;
  atomic_fetch_add(&cb_calls[i], 1);
  if (r->outcome == FERRETS_OUTCOME_CANCELLED) atomic_fetch_add(&cb_cancelled, 1);
  free(r->value);
}

static int32_t slow_value_job(void *arg, const ferrets_token_t *token, void **out_value) {
  (void)arg;
  if (ferrets_token_is_cancelled(token)) return 1;
  *out_value = malloc(16);
  return 0;
}

static void test_callbacks_exactly_once(void) {
  for (int mode = 0; mode < 2; mode++) {
    ferrets_pool_t *p = new_pool(2, N_CB);
    gate_t g = {false, 0};
    ferrets_job_spec_t blocker = spec_of(gate_job, &g);
    CHECK(ferrets_pool_submit(p, &blocker, NULL) == FERRETS_OK);
    CHECK(ferrets_pool_submit(p, &blocker, NULL) == FERRETS_OK);
    wait_entered(&g, 2);
    atomic_store(&cb_cancelled, 0);
    for (int i = 0; i < N_CB; i++) atomic_store(&cb_calls[i], 0);
    int accepted = 0;
    ferrets_job_t *h = NULL;
    for (int i = 0; i < N_CB; i++) {
      ferrets_job_spec_t s = spec_of(slow_value_job, (void *)(intptr_t)i);
      s.on_done = on_done;
      if (ferrets_pool_submit(p, &s, i == 0 ? &h : NULL) == FERRETS_OK) accepted++;
    }
    CHECK(accepted == N_CB); /* the blockers are running, not queued */
    ferrets_job_result_t r;
    CHECK(ferrets_job_try_get(h, &r) == FERRETS_ERR_INVALID_ARGUMENT); /* callback job */
    ferrets_job_free(h);
    atomic_store(&g.open, true);
    ferrets_shutdown_report_t rep;
    CHECK(ferrets_pool_shutdown(p, mode == 0 ? FERRETS_SHUTDOWN_DRAIN : FERRETS_SHUTDOWN_ABORT,
                                FERRETS_WAIT_FOREVER, &rep) == FERRETS_OK);
    int total = 0;
    bool once = true;
    for (int i = 0; i < N_CB; i++) {
      total += atomic_load(&cb_calls[i]);
      once = once && atomic_load(&cb_calls[i]) == 1;
    }
    CHECK(once && total == accepted);
    CHECK(rep.stragglers == 0);
    ferrets_pool_free(p);
  }
}

static int32_t deadlock_job(void *arg, const ferrets_token_t *token, void **out_value) {
  (void)token;
  (void)out_value;
  ferrets_pool_t *p = arg;
  ferrets_job_spec_t s = spec_of(count_job, NULL);
  return (int32_t)ferrets_pool_submit_blocking(p, &s, 1000, NULL);
}

static void test_blocking_submit_from_worker(void) {
  ferrets_pool_t *p = new_pool(1, 4);
  ferrets_job_spec_t s = spec_of(deadlock_job, p);
  ferrets_job_t *j = NULL;
  CHECK(ferrets_pool_submit(p, &s, &j) == FERRETS_OK);
  ferrets_job_result_t r;
  CHECK(ferrets_job_wait(j, FERRETS_WAIT_FOREVER, &r) == FERRETS_OK);
  CHECK(r.outcome == FERRETS_OUTCOME_ERROR && r.code == FERRETS_ERR_WOULD_DEADLOCK);
  ferrets_job_free(j);
  ferrets_pool_free(p);
}

static atomic_int freed_values;
static void count_free(void *v) {
  atomic_fetch_add(&freed_values, 1);
  free(v);
}

static void test_unreceived_results_are_freed(void) {
  ferrets_pool_t *p = new_pool(1, 8);
  int seven = 7;
  ferrets_job_spec_t s = spec_of(value_job, &seven);
  s.free_value = count_free;
  CHECK(ferrets_pool_submit(p, &s, NULL) == FERRETS_OK); /* fire and forget */
  ferrets_job_t *j = NULL;
  CHECK(ferrets_pool_submit(p, &s, &j) == FERRETS_OK);
  ferrets_job_free(j); /* freed before (or after) it ends: the value is still released */
  ferrets_job_t *kept = NULL;
  CHECK(ferrets_pool_submit(p, &s, &kept) == FERRETS_OK);
  ferrets_job_result_t r;
  CHECK(ferrets_job_wait(kept, FERRETS_WAIT_FOREVER, &r) == FERRETS_OK);
  ferrets_pool_shutdown(p, FERRETS_SHUTDOWN_DRAIN, FERRETS_WAIT_FOREVER, NULL);
  CHECK(atomic_load(&freed_values) == 2);
  free(r.value); /* received: ours, never passed to free_value */
  ferrets_job_free(kept);
  CHECK(atomic_load(&freed_values) == 2);
  ferrets_pool_free(p);
}

int main(void) {
  test_create_and_errors();
  test_ok_and_error();
  test_overload_pending_and_blocking_submit();
  test_deadline_and_cancel();
  test_callbacks_exactly_once();
  test_blocking_submit_from_worker();
  test_unreceived_results_are_freed();
  return check_summary();
}
