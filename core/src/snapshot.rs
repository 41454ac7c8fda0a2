//! The snapshot file format shared by the bindings, independent of the table
//! and of what a record holds.
//!
//! ```text
//! header   b"FRTSNAP1"                        8 bytes (magic + format version)
//! records  u32 LE length, then that many bytes (the binding's encoding of
//!          one entry: an object in the external term format for the BEAM,
//!          a key/value pair for Python), repeated
//! trailer  u64 LE record count, u32 LE CRC-32 (IEEE) of header + records,
//!          b"FEND"                            16 bytes
//! ```
//!
//! Writing is crash-safe: records go to a temporary file next to the target,
//! which is fsynced, renamed over the target, and the directory fsynced. A
//! reader checks the trailer and the checksum before handing out a record,
//! so a torn or corrupted file is refused whole.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

const MAGIC: &[u8; 8] = b"FRTSNAP1";
const END: &[u8; 4] = b"FEND";
const TRAILER: usize = 16;

/// Why a snapshot could not be written or read.
#[derive(Debug)]
pub enum SnapError {
    /// The file system refused (the error keeps its cause).
    Io(io::Error),
    /// The file ends early (no complete trailer, or records past its end).
    Truncated,
    /// Not a snapshot, or its checksum or records do not match.
    Corrupt,
    /// The job was cancelled or timed out; nothing was written.
    Interrupted(String),
}

impl From<io::Error> for SnapError {
    fn from(e: io::Error) -> Self {
        SnapError::Io(e)
    }
}

impl SnapError {
    /// The reason atom's name: a POSIX-style name for I/O errors.
    pub fn reason(&self) -> &'static str {
        match self {
            SnapError::Truncated => "truncated",
            SnapError::Corrupt => "corrupt",
            SnapError::Interrupted(_) => "cancelled",
            SnapError::Io(e) => match e.kind() {
                io::ErrorKind::NotFound => "enoent",
                io::ErrorKind::PermissionDenied => "eacces",
                io::ErrorKind::AlreadyExists => "eexist",
                io::ErrorKind::IsADirectory => "eisdir",
                io::ErrorKind::NotADirectory => "enotdir",
                io::ErrorKind::StorageFull => "enospc",
                io::ErrorKind::ReadOnlyFilesystem => "erofs",
                io::ErrorKind::InvalidInput | io::ErrorKind::InvalidFilename => "einval",
                _ => "eio",
            },
        }
    }
}

/// CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320).
#[derive(Clone, Copy)]
pub struct Crc32(u32);

const CRC_TABLE: [u32; 256] = {
    let mut t = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 { 0xEDB8_8320 ^ (c >> 1) } else { c >> 1 };
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
};

impl Default for Crc32 {
    fn default() -> Self {
        Self::new()
    }
}

impl Crc32 {
    /// A fresh checksum.
    pub fn new() -> Self {
        Crc32(0xFFFF_FFFF)
    }

    /// Adds `bytes`.
    pub fn update(&mut self, bytes: &[u8]) {
        let mut c = self.0;
        for &b in bytes {
            c = CRC_TABLE[((c ^ u32::from(b)) & 0xFF) as usize] ^ (c >> 8);
        }
        self.0 = c;
    }

    /// The checksum of everything added.
    pub fn value(self) -> u32 {
        !self.0
    }
}

static NEXT_TMP: AtomicU64 = AtomicU64::new(0);

/// Writes a snapshot; the target appears only after [`Writer::finish`].
pub struct Writer {
    out: Option<BufWriter<File>>,
    tmp: PathBuf,
    dest: PathBuf,
    crc: Crc32,
    count: u64,
}

impl Writer {
    /// Starts a snapshot that will replace `dest`.
    pub fn create(dest: &Path) -> Result<Writer, SnapError> {
        let name = dest.file_name().ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))?;
        let mut tmp_name = name.to_os_string();
        let n = NEXT_TMP.fetch_add(1, Ordering::Relaxed);
        tmp_name.push(format!(".tmp.{}.{n}", std::process::id()));
        let tmp = dest.with_file_name(tmp_name);
        let file = File::create(&tmp)?;
        let mut w = Writer {
            out: Some(BufWriter::new(file)),
            tmp,
            dest: dest.to_path_buf(),
            crc: Crc32::new(),
            count: 0,
        };
        w.put(MAGIC)?;
        Ok(w)
    }

    fn put(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.crc.update(bytes);
        match &mut self.out {
            Some(out) => out.write_all(bytes),
            None => Err(io::Error::other("snapshot writer already finished")),
        }
    }

    /// Appends one record.
    pub fn record(&mut self, bytes: &[u8]) -> Result<(), SnapError> {
        let len = u32::try_from(bytes.len()).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        self.put(&len.to_le_bytes())?;
        self.put(bytes)?;
        self.count += 1;
        Ok(())
    }

    /// Writes the trailer, syncs, and renames the file into place; returns
    /// the number of records.
    pub fn finish(mut self) -> Result<u64, SnapError> {
        let mut trailer = [0u8; TRAILER];
        trailer[..8].copy_from_slice(&self.count.to_le_bytes());
        trailer[8..12].copy_from_slice(&self.crc.value().to_le_bytes());
        trailer[12..].copy_from_slice(END);
        let mut out = self.out.take().ok_or_else(|| io::Error::other("snapshot writer already finished"))?;
        out.write_all(&trailer)?;
        let file = out.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        drop(file);
        fs::rename(&self.tmp, &self.dest)?;
        if let Some(dir) = self.dest.parent().filter(|d| !d.as_os_str().is_empty()) {
            // Make the rename durable; some file systems refuse, which is harmless.
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(self.count)
    }
}

impl Drop for Writer {
    /// An unfinished snapshot leaves no temporary file behind.
    fn drop(&mut self) {
        if self.out.take().is_some() {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

/// Checks a whole snapshot file's bytes and returns its records, in order.
/// Nothing is returned unless every check passes.
pub fn records(bytes: &[u8]) -> Result<Vec<&[u8]>, SnapError> {
    if bytes.len() < MAGIC.len() {
        return Err(if MAGIC.starts_with(bytes) { SnapError::Truncated } else { SnapError::Corrupt });
    }
    if &bytes[..MAGIC.len()] != MAGIC {
        return Err(SnapError::Corrupt);
    }
    if bytes.len() < MAGIC.len() + TRAILER || &bytes[bytes.len() - END.len()..] != END {
        return Err(SnapError::Truncated);
    }
    let body_end = bytes.len() - TRAILER;
    let trailer = &bytes[body_end..];
    let count = u64::from_le_bytes(trailer[..8].try_into().map_err(|_| SnapError::Corrupt)?);
    let crc = u32::from_le_bytes(trailer[8..12].try_into().map_err(|_| SnapError::Corrupt)?);
    let mut c = Crc32::new();
    c.update(&bytes[..body_end]);
    if c.value() != crc {
        return Err(SnapError::Corrupt);
    }
    let mut out = Vec::new();
    let mut at = MAGIC.len();
    while at < body_end {
        let len_end = at.checked_add(4).filter(|&e| e <= body_end).ok_or(SnapError::Corrupt)?;
        let len = u32::from_le_bytes(bytes[at..len_end].try_into().map_err(|_| SnapError::Corrupt)?) as usize;
        let end = len_end.checked_add(len).filter(|&e| e <= body_end).ok_or(SnapError::Corrupt)?;
        out.push(&bytes[len_end..end]);
        at = end;
    }
    if out.len() as u64 != count {
        return Err(SnapError::Corrupt);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("ferrets-snap-{}-{name}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        dir.join("table.snap")
    }

    fn write(path: &Path, records: &[&[u8]]) -> u64 {
        let mut w = Writer::create(path).unwrap();
        for r in records {
            w.record(r).unwrap();
        }
        w.finish().unwrap()
    }

    #[test]
    fn round_trip_keeps_records_in_order() {
        let path = tmp("round");
        let recs: [&[u8]; 3] = [b"one", b"", &[0xff; 300]];
        assert_eq!(write(&path, &recs), 3);
        let bytes = fs::read(&path).unwrap();
        assert_eq!(records(&bytes).unwrap(), recs.to_vec());
        let leftovers = fs::read_dir(path.parent().unwrap()).unwrap().count();
        assert_eq!(leftovers, 1, "only the snapshot itself remains");
    }

    #[test]
    fn every_truncation_and_any_flipped_byte_is_rejected() {
        let path = tmp("damage");
        write(&path, &[b"alpha", b"beta"]);
        let bytes = fs::read(&path).unwrap();
        for cut in 0..bytes.len() {
            assert!(records(&bytes[..cut]).is_err(), "a file cut at {cut} bytes was accepted");
        }
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x01;
            assert!(records(&bad).is_err(), "a flipped byte at {i} was accepted");
        }
        assert!(matches!(records(&bytes[..bytes.len() - 1]), Err(SnapError::Truncated)));
        assert!(matches!(records(b"not a snapshot at all"), Err(SnapError::Corrupt)));
    }

    #[test]
    fn an_unfinished_writer_leaves_no_file() {
        let path = tmp("unfinished");
        let mut w = Writer::create(&path).unwrap();
        w.record(b"x").unwrap();
        drop(w);
        assert_eq!(fs::read_dir(path.parent().unwrap()).unwrap().count(), 0);
        assert_eq!(SnapError::from(fs::read(&path).unwrap_err()).reason(), "enoent");
    }
}
