defmodule Ferrets.Snapshot do
  @moduledoc """
  Table snapshots on disk, written and read on the offload pool.

  A snapshot is a sequence of length-prefixed records (each object in the
  external term format) between a magic header and a trailer holding the
  record count and a CRC-32 of everything before it. Saving writes a
  temporary file next to the target, fsyncs it and renames it over the
  target, so a crash leaves the old snapshot or the new one, never half of
  one. Loading checks the trailer and the checksum and decodes every record
  before touching the table: a truncated file gives `{:error, :truncated}`,
  a damaged one `{:error, :corrupt}`, a missing one `{:error, :enoent}`, and
  the table is left as it was.

  Saving walks a live table: concurrent writes may or may not be included.

      {:ok, 3} = Ferrets.Snapshot.save(tab, "/var/lib/app/cache.snap")
      {:ok, 3} = Ferrets.Snapshot.load(new_tab, "/var/lib/app/cache.snap")

  These wait for the result; `Ferrets.Async.save/3` and
  `Ferrets.Async.load/3` return at once (see the start-up example there).
  Options: `:pool`, `:timeout` (ms, default `:infinity`).
  """

  @doc "Writes a snapshot of `tab` to `path`: `{:ok, records}` or `{:error, reason}`."
  @spec save(Ferrets.tab(), Path.t(), keyword()) :: {:ok, non_neg_integer()} | {:error, term()}
  def save(tab, path, opts \\ []), do: run(Ferrets.Async.save(tab, path, opts))

  @doc "Inserts the objects saved at `path` into `tab`: `{:ok, records}` or `{:error, reason}`."
  @spec load(Ferrets.tab(), Path.t(), keyword()) :: {:ok, non_neg_integer()} | {:error, term()}
  def load(tab, path, opts \\ []), do: run(Ferrets.Async.load(tab, path, opts))

  defp run({:ok, task}), do: Ferrets.Async.await(task, :infinity)
  defp run(error), do: error
end
