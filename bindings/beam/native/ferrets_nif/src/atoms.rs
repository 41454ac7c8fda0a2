//! Atoms used by the NIFs.

rustler::atoms! {
    ok,
    error,
    set,
    bag,
    duplicate_bag,
    ordered_set,
    named_table,
    public,
    protected,
    private,
    keypos,
    size,
    memory,
    name,
    type_ = "type",
    undefined,
    true_ = "true",
    false_ = "false",
}
