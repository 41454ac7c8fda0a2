//! The registries: every live table (for `all/0`) and named tables (atom ->
//! table, like ETS's `named_table`).
//!
//! Resolving a name is on the hot path of every call on a named table, so
//! each scheduler thread keeps its own cache of the name map, invalidated by
//! a generation counter that only changes when a name is added or removed.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{LazyLock, Mutex, RwLock};

use rustler::ResourceArc;

use crate::table::TableResource;

/// Raw atom term word -> table.
type NameMap = HashMap<u64, ResourceArc<TableResource>>;

/// Named tables.
static NAMES: LazyLock<RwLock<NameMap>> = LazyLock::new(|| RwLock::new(HashMap::new()));
/// Bumped whenever `NAMES` changes, to invalidate the per-thread caches.
static GENERATION: AtomicU64 = AtomicU64::new(1);

/// Every table not yet deleted, by its unique id.
static ALL: LazyLock<Mutex<HashMap<u64, ResourceArc<TableResource>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

thread_local! {
    /// This thread's copy of `NAMES`, valid for the generation it records.
    static CACHE: RefCell<(u64, NameMap)> = RefCell::new((0, HashMap::new()));
}

/// Registers `table` under the atom word `name`; `false` if the name is taken.
pub fn register(name: u64, table: ResourceArc<TableResource>) -> bool {
    let mut names = NAMES.write().unwrap_or_else(|e| e.into_inner());
    if names.contains_key(&name) {
        return false;
    }
    names.insert(name, table);
    GENERATION.fetch_add(1, Ordering::Release);
    true
}

/// Forgets `name` if it still refers to the table with id `id`.
pub fn unregister(name: u64, id: u64) {
    let mut names = NAMES.write().unwrap_or_else(|e| e.into_inner());
    if names.get(&name).is_some_and(|t| t.id == id) {
        names.remove(&name);
        GENERATION.fetch_add(1, Ordering::Release);
    }
}

/// The table registered under the atom word `name`.
///
/// The pointer stays valid until this thread resolves another name after
/// the registry changed: the thread's cache holds a reference meanwhile.
pub fn lookup(name: u64) -> Option<*const TableResource> {
    let generation = GENERATION.load(Ordering::Acquire);
    CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        if cache.0 != generation {
            let names = NAMES.read().unwrap_or_else(|e| e.into_inner());
            cache.1 = names.clone();
            cache.0 = generation;
        }
        cache.1.get(&name).map(|t| &**t as *const TableResource)
    })
}

/// The table registered under `name`, as a counted reference.
pub fn lookup_arc(name: u64) -> Option<ResourceArc<TableResource>> {
    NAMES.read().unwrap_or_else(|e| e.into_inner()).get(&name).cloned()
}

/// Records a new table.
pub fn add(table: ResourceArc<TableResource>) {
    ALL.lock().unwrap_or_else(|e| e.into_inner()).insert(table.id, table);
}

/// Forgets a deleted table.
pub fn remove(id: u64) -> Option<ResourceArc<TableResource>> {
    ALL.lock().unwrap_or_else(|e| e.into_inner()).remove(&id)
}

/// Every live table.
pub fn all() -> Vec<ResourceArc<TableResource>> {
    ALL.lock().unwrap_or_else(|e| e.into_inner()).values().cloned().collect()
}

/// The live table with id `id`, as a counted reference.
pub fn by_id(id: u64) -> Option<ResourceArc<TableResource>> {
    ALL.lock().unwrap_or_else(|e| e.into_inner()).get(&id).cloned()
}
