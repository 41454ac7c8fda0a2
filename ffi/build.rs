//! Gives the shared library a soname (`libferrets.so.0.MINOR` before 1.0,
//! `libferrets.so.MAJOR` after), matching what `scripts/install-c` links.
//! Writes nothing anywhere.

fn main() {
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if os == "linux" {
        let major = env!("CARGO_PKG_VERSION_MAJOR");
        let minor = env!("CARGO_PKG_VERSION_MINOR");
        let soname =
            if major == "0" { format!("libferrets.so.0.{minor}") } else { format!("libferrets.so.{major}") };
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,{soname}");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
