//! Big binaries stored once and handed out without copying.

use rustler::sys::{enif_make_resource_binary, ErlNifEnv, ErlNifTerm};
use rustler::{Resource, ResourceArc};

/// The bytes of one stored binary of [`crate::codec::BLOB_MIN`] bytes or more.
pub struct BlobBytes(Box<[u8]>);

#[rustler::resource_impl]
impl Resource for BlobBytes {}

/// A shared handle on stored binary bytes: cloning it copies no bytes, and a
/// lookup returns a binary term that points at them (a resource binary).
#[derive(Clone)]
pub struct Blob(ResourceArc<BlobBytes>);

impl Blob {
    /// Copies `bytes` into a new shared blob.
    pub fn new(bytes: &[u8]) -> Self {
        Self(ResourceArc::new(BlobBytes(bytes.into())))
    }

    /// The stored bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.0 .0
    }

    /// A binary term in `env` that shares these bytes.
    pub fn to_term(&self, env: *mut ErlNifEnv) -> ErlNifTerm {
        let bytes = self.bytes();
        // SAFETY: the resource keeps `bytes` alive as long as the binary term
        // (the VM holds a reference on the resource for it).
        unsafe { enif_make_resource_binary(env, self.0.as_c_arg(), bytes.as_ptr().cast(), bytes.len()) }
    }
}
