//! The registry of named tables: atom -> table, like ETS's `named_table`.

use std::sync::{LazyLock, RwLock};

use rustler::{Atom, ResourceArc};

use crate::table::TableResource;

type Registry = Vec<(Atom, ResourceArc<TableResource>)>;

/// Few tables are named, so a vector scan beats hashing (`Atom` is not `Hash`).
static NAMES: LazyLock<RwLock<Registry>> = LazyLock::new(|| RwLock::new(Vec::new()));

/// Registers `table` under `name`; `false` if the name is taken.
pub fn register(name: Atom, table: ResourceArc<TableResource>) -> bool {
    let mut names = NAMES.write().unwrap_or_else(|e| e.into_inner());
    if names.iter().any(|(n, _)| *n == name) {
        return false;
    }
    names.push((name, table));
    true
}

/// The table registered under `name`.
pub fn lookup(name: Atom) -> Option<ResourceArc<TableResource>> {
    let names = NAMES.read().unwrap_or_else(|e| e.into_inner());
    names.iter().find(|(n, _)| *n == name).map(|(_, t)| t.clone())
}

/// Forgets `name`.
pub fn unregister(name: Atom) {
    NAMES.write().unwrap_or_else(|e| e.into_inner()).retain(|(n, _)| *n != name);
}
