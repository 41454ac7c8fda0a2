//! Version information. The numbers below must equal the workspace version
//! (checked by a test), which is the one version source.

use std::ffi::c_char;

/// Major version of the library this header belongs to.
pub const FERRETS_VERSION_MAJOR: u32 = 0;
/// Minor version of the library this header belongs to.
pub const FERRETS_VERSION_MINOR: u32 = 1;
/// Patch version of the library this header belongs to.
pub const FERRETS_VERSION_PATCH: u32 = 0;

static VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");

/// The version of the linked library as a static NUL-terminated string such
/// as "0.1.0". Owned by the library: never free it.
#[no_mangle]
pub extern "C" fn ferrets_version() -> *const c_char {
    VERSION.as_ptr().cast()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macros_match_the_crate_version() {
        let parse = |s: &str| s.parse::<u32>().unwrap();
        assert_eq!(FERRETS_VERSION_MAJOR, parse(env!("CARGO_PKG_VERSION_MAJOR")));
        assert_eq!(FERRETS_VERSION_MINOR, parse(env!("CARGO_PKG_VERSION_MINOR")));
        assert_eq!(FERRETS_VERSION_PATCH, parse(env!("CARGO_PKG_VERSION_PATCH")));
        // SAFETY: ferrets_version returns a static NUL-terminated string.
        let v = unsafe { std::ffi::CStr::from_ptr(ferrets_version()) };
        assert_eq!(v.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
    }
}
