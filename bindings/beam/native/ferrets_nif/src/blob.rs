//! Big binaries stored once and handed out without copying.

use std::cell::RefCell;
use std::ptr::{self, NonNull};

use rustler::sys::{
    c_void, enif_keep_resource, enif_make_resource_binary, enif_release_resource, ErlNifEnv, ErlNifTerm,
};
use rustler::{Resource, ResourceArc};

use crate::table::inner_of;

/// The bytes of one stored binary of [`crate::codec::BLOB_MIN`] bytes or more.
pub struct BlobBytes(Box<[u8]>);

#[rustler::resource_impl]
impl Resource for BlobBytes {}

/// A shared handle on stored binary bytes: cloning it copies no bytes, and a
/// lookup returns a binary term that points at them (a resource binary).
///
/// One word (the resource's data pointer, owning one reference), so that an
/// object holding one big binary keeps it in its own 40 bytes (see
/// [`crate::objects::Obj`]).
#[repr(transparent)]
pub struct Blob(NonNull<c_void>);

// SAFETY: a `Blob` owns a reference on an immutable resource; the VM's
// reference counting (`enif_keep_resource`/`enif_release_resource`) is
// thread-safe.
unsafe impl Send for Blob {}
// SAFETY: as above; shared access only reads the immutable bytes.
unsafe impl Sync for Blob {}

impl Clone for Blob {
    fn clone(&self) -> Self {
        // SAFETY: `self` holds a reference, so the resource is alive.
        unsafe { enif_keep_resource(self.0.as_ptr()) };
        Blob(self.0)
    }
}

impl Drop for Blob {
    fn drop(&mut self) {
        // SAFETY: gives back the reference this handle owns.
        unsafe { enif_release_resource(self.0.as_ptr()) };
    }
}

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
        let arc = ResourceArc::new(BlobBytes(bytes.into()));
        let raw = arc.as_c_arg();
        // `bytes` below finds the data by rustler's placement rule: check it.
        assert!(
            inner_of::<BlobBytes>(raw) == ptr::from_ref::<BlobBytes>(&arc),
            "rustler resource layout changed"
        );
        // SAFETY: `arc` holds a reference; take one for this handle before it goes.
        unsafe { enif_keep_resource(raw) };
        Blob(NonNull::new(raw.cast_mut()).expect("a resource is never null"))
    }

    /// The stored bytes.
    pub fn bytes(&self) -> &[u8] {
        // SAFETY: the resource is alive while this handle is, and holds a
        // `BlobBytes` where rustler put it (checked in `Blob::new`).
        unsafe { &(*inner_of::<BlobBytes>(self.0.as_ptr())).0 }
    }

    /// A binary term in `env` that shares these bytes.
    pub fn to_term(&self, env: *mut ErlNifEnv) -> ErlNifTerm {
        let bytes = self.bytes();
        // SAFETY: the resource keeps `bytes` alive as long as the binary term
        // (the VM holds a reference on the resource for it).
        unsafe { enif_make_resource_binary(env, self.0.as_ptr(), bytes.as_ptr().cast(), bytes.len()) }
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
