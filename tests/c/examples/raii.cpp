// raii: libferrets from C++17, with handles owned by std::unique_ptr.
//
//   c++ -std=c++17 raii.cpp $(pkg-config --cflags --libs ferrets) -lpthread -o raii
#include <ferrets.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

struct TableDeleter {
  void operator()(ferrets_table_t *t) const noexcept { ferrets_table_free(t); }
};
struct CursorDeleter {
  void operator()(ferrets_cursor_t *c) const noexcept { ferrets_cursor_free(c); }
};
using Table = std::unique_ptr<ferrets_table_t, TableDeleter>;
using Cursor = std::unique_ptr<ferrets_cursor_t, CursorDeleter>;

const uint8_t *bytes(std::string_view s) { return reinterpret_cast<const uint8_t *>(s.data()); }

[[noreturn]] void fail(const char *what) {
  std::string msg(ferrets_last_error_message(nullptr, 0), '\0');
  ferrets_last_error_message(msg.data(), msg.size());
  std::fprintf(stderr, "%s: %s\n", what, msg.c_str());
  std::exit(1);
}

Table new_table() {
  ferrets_table_options_t opts = ferrets_table_options_default();
  opts.capacity = 1024;
  ferrets_table_t *raw = nullptr;
  if (ferrets_table_new_with(&opts, &raw) != FERRETS_OK) fail("ferrets_table_new_with");
  return Table(raw);
}

}  // namespace

int main() {
  Table table = new_table();
  const ferrets_table_t *shared = table.get();  // const handle: shared by all threads

  std::vector<std::thread> threads;
  for (int t = 0; t < 4; t++) {
    threads.emplace_back([shared, t] {
      for (int i = 0; i < 250; i++) {
        std::string key = "k" + std::to_string(t * 250 + i);
        std::string value(static_cast<size_t>(i % 7), 'x');
        if (ferrets_table_put(shared, bytes(key), key.size(), bytes(value), value.size()) != FERRETS_OK)
          fail("ferrets_table_put");
      }
    });
  }
  for (auto &th : threads) th.join();

  ferrets_cursor_t *raw = nullptr;
  if (ferrets_cursor_new(shared, &raw) != FERRETS_OK) fail("ferrets_cursor_new");
  Cursor cursor(raw);
  ferrets_entry_t e;
  bool found = false;
  size_t entries = 0, value_bytes = 0;
  while (ferrets_cursor_next(cursor.get(), &e, &found) == FERRETS_OK && found) {
    entries++;
    value_bytes += e.value_len;
  }
  size_t len = 0;
  ferrets_table_len(shared, &len);
  std::printf("C++: %zu entries (len %zu), %zu value bytes\n", entries, len, value_bytes);
  // Each of the 4 threads wrote 250 values of i % 7 bytes.
  size_t want = 0;
  for (int i = 0; i < 250; i++) want += static_cast<size_t>(i % 7);
  bool ok = entries == 1000 && len == 1000 && value_bytes == 4 * want;
  std::puts(ok ? "ok" : "MISMATCH");
  return ok ? 0 : 1;
}
