//! Table benchmark (work in progress).
fn main() {}
