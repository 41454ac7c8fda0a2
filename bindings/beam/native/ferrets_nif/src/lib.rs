//! The NIF library behind `:ferrets` / `Ferrets` (module `Elixir.Ferrets.Native`).
//!
//! Every NIF validates its arguments and raises `badarg` on bad input; rustler
//! turns a Rust panic into an Erlang exception, so the VM never goes down.

mod atoms;
mod names;
mod table;

rustler::init!("Elixir.Ferrets.Native");
