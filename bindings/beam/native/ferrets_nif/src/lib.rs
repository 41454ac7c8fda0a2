//! The NIF library behind `:ferrets` / `Ferrets` (module `Elixir.Ferrets.Native`).
//!
//! Every NIF validates its arguments and raises `badarg` on bad input; rustler
//! turns a Rust panic into an Erlang exception, so the VM never goes down.
//!
//! Layout: [`codec`] encodes terms compactly, [`key`] and [`objects`] are what
//! the `ferrets_core::Table` stores, [`table`] the table resource and access
//! checks, [`options`] parses `new/2`, [`owner`] handles ownership and heirs,
//! [`names`] the registries, [`batch`] the isolation of long list inserts, and [`ops`], [`counters`], [`iter`], [`fix`], [`info`] the
//! NIFs themselves; [`alloc`] picks the library's allocator.

mod alloc;
mod atoms;
mod batch;
mod blob;
mod cells;
mod code;
mod codec;
mod counters;
mod fix;
mod info;
mod iter;
mod key;
mod lean;
mod names;
mod objects;
mod ops;
mod options;
mod owner;
mod pool; // offload pool: Ferrets.Pool / Ferrets.Async (issue 5)
mod prefilter;
mod raw;
mod tabjobs; // table jobs on the pool (issue 5)
mod table;

rustler::init!("Elixir.Ferrets.Native");
