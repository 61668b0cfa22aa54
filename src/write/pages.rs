//! Where encoded Parquet pages wait until their column chunk is written: in memory up to a
//! budget shared by every chunk of one output, in a temporary file past it, so that the memory
//! a row group's encoded columns take doesn't grow with the row group.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use parquet::arrow::arrow_writer::{PageKey, PageStore, PageStoreArgs, PageStoreFactory};
use parquet::errors::Result;

/// Bytes of encoded pages an output keeps in memory before it spills them (a row group as
/// `datasets` writes them held ~120 MiB of pages on two workers).
pub(super) const PAGES_IN_MEMORY: usize = 32 << 20;

/// Makes a [`SpillingStore`] for each column chunk of one output.
#[derive(Debug)]
pub(super) struct SpillingStores {
    /// Where temporary files go (`None`: the system's temporary folder).
    dir: Option<PathBuf>,
    budget: usize,
    /// Bytes of pages in memory, over every store.
    resident: Arc<AtomicUsize>,
}

impl SpillingStores {
    /// Stores that keep up to `budget` bytes in memory, spilling to files in `dir`.
    pub(super) fn new(dir: Option<PathBuf>, budget: usize) -> SpillingStores {
        SpillingStores {
            dir,
            budget,
            resident: Arc::new(AtomicUsize::new(0)),
        }
    }
}

impl SpillingStores {
    fn store(&self) -> SpillingStore {
        SpillingStore {
            dir: self.dir.clone(),
            budget: self.budget,
            resident: Arc::clone(&self.resident),
            blobs: Vec::new(),
            file: None,
            end: 0,
        }
    }
}

impl PageStoreFactory for SpillingStores {
    fn create(&self, _args: &PageStoreArgs<'_>) -> Result<Box<dyn PageStore>> {
        Ok(Box::new(self.store()))
    }
}

enum Blob {
    Memory(Bytes),
    /// Offset and length in the store's file.
    Spilled(u64, usize),
    Taken,
}

/// A column chunk's pages: in memory while the output's budget allows, else in a temporary
/// file of the chunk's own (made when first needed, gone when the store is).
struct SpillingStore {
    dir: Option<PathBuf>,
    budget: usize,
    resident: Arc<AtomicUsize>,
    blobs: Vec<Blob>,
    file: Option<File>,
    end: u64,
}

impl PageStore for SpillingStore {
    fn put(&mut self, value: Bytes) -> Result<PageKey> {
        let len = value.len();
        let held = self.resident.fetch_add(len, Ordering::Relaxed);
        let blob = if held + len <= self.budget {
            Blob::Memory(value)
        } else {
            self.resident.fetch_sub(len, Ordering::Relaxed);
            let file = match &mut self.file {
                Some(file) => file,
                None => self
                    .file
                    .insert(crate::io::anonymous_file(self.dir.as_deref())?),
            };
            file.seek(SeekFrom::Start(self.end))?;
            file.write_all(&value)?;
            let blob = Blob::Spilled(self.end, len);
            self.end += len as u64;
            blob
        };
        self.blobs.push(blob);
        Ok(PageKey::new(self.blobs.len() as u64 - 1))
    }

    fn take(&mut self, key: PageKey) -> Result<Bytes> {
        let blob = self
            .blobs
            .get_mut(key.get() as usize)
            .map(|b| std::mem::replace(b, Blob::Taken));
        match blob {
            Some(Blob::Memory(bytes)) => {
                self.resident.fetch_sub(bytes.len(), Ordering::Relaxed);
                Ok(bytes)
            }
            Some(Blob::Spilled(offset, len)) => {
                let file = self.file.as_mut().expect("spilled pages have a file");
                file.seek(SeekFrom::Start(offset))?;
                let mut buf = vec![0; len];
                file.read_exact(&mut buf)?;
                Ok(Bytes::from(buf))
            }
            _ => Err(parquet::errors::ParquetError::General(format!(
                "page {} was taken already or never stored",
                key.get()
            ))),
        }
    }

    fn memory_size(&self) -> usize {
        self.blobs
            .iter()
            .map(|b| match b {
                Blob::Memory(bytes) => bytes.len(),
                _ => 0,
            })
            .sum()
    }
}

impl Drop for SpillingStore {
    fn drop(&mut self) {
        // Pages never taken (an error cut the chunk short) leave the shared count.
        let held = self.memory_size();
        self.resident.fetch_sub(held, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_past_the_budget_go_to_a_file_and_come_back_whole() {
        let stores = SpillingStores::new(None, 10);
        let mut a = stores.store();
        let mut b = stores.store();
        let k1 = a.put(Bytes::from_static(b"123456")).unwrap();
        let k2 = b.put(Bytes::from_static(b"abcdef")).unwrap(); // over the shared budget
        let k3 = a.put(Bytes::from_static(b"7890")).unwrap(); // fits again: 6 + 4
        assert_eq!(stores.resident.load(Ordering::Relaxed), 10);
        assert_eq!(a.memory_size(), 10);
        assert_eq!(b.memory_size(), 0);
        assert_eq!(&b.take(k2).unwrap()[..], b"abcdef");
        assert_eq!(&a.take(k3).unwrap()[..], b"7890");
        assert_eq!(&a.take(k1).unwrap()[..], b"123456");
        assert_eq!(stores.resident.load(Ordering::Relaxed), 0);
        let error = a.take(k1).unwrap_err().to_string();
        assert_eq!(
            error,
            "Parquet error: page 0 was taken already or never stored"
        );
        // A store dropped with pages in it gives their bytes back.
        let mut c = stores.store();
        c.put(Bytes::from_static(b"xyz")).unwrap();
        assert_eq!(stores.resident.load(Ordering::Relaxed), 3);
        drop(c);
        assert_eq!(stores.resident.load(Ordering::Relaxed), 0);
    }
}
