//! Big binaries stored once and handed out without copying.

use std::cell::RefCell;

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

thread_local! {
    /// The last blob this thread stored, by the address of the bytes it
    /// was copied from: storing the same big binary again (the common
    /// "one value under many keys" case) shares it instead of copying,
    /// much as ETS shares a reference-counted binary.
    static LAST: RefCell<Option<(usize, Blob)>> = const { RefCell::new(None) };
}

impl Blob {
    /// A blob holding `bytes`: the last one this thread stored if it holds
    /// the same bytes copied from the same address, else a new copy.
    pub fn shared(bytes: &[u8]) -> Self {
        let addr = bytes.as_ptr() as usize;
        LAST.with(|last| {
            let mut last = last.borrow_mut();
            if let Some((a, b)) = &*last {
                if *a == addr && b.bytes() == bytes {
                    return b.clone();
                }
            }
            let b = Blob::new(bytes);
            *last = Some((addr, b.clone()));
            b
        })
    }

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

/// The blobs of one object, without a separate allocation for the usual
/// zero or one.
#[derive(Clone, Default)]
pub enum Blobs {
    /// No big binaries.
    #[default]
    None,
    /// One big binary.
    One(Blob),
    /// Several, in encoding order.
    Many(Box<[Blob]>),
}

impl Blobs {
    /// The blobs of `v`, in order.
    pub fn from_vec(mut v: Vec<Blob>) -> Self {
        match v.len() {
            0 => Blobs::None,
            1 => v.pop().map_or(Blobs::None, Blobs::One),
            _ => Blobs::Many(v.into_boxed_slice()),
        }
    }

    /// The blobs, in encoding order.
    #[inline]
    pub fn as_slice(&self) -> &[Blob] {
        match self {
            Blobs::None => &[],
            Blobs::One(b) => std::slice::from_ref(b),
            Blobs::Many(v) => v,
        }
    }
}
