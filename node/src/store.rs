//! The node's durable store (redb). STUB: signatures only; the store helper fills it in.
#![allow(unused_variables, missing_docs)]

use chord::id::Id;
use chord::store::Record;
use std::path::Path;

/// Why the store failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The quota (`--max-bytes`) or the disk is full; code `quota`.
    #[error("{0}")]
    Full(String),
    /// Anything else (I/O, a corrupt file); code `storage`.
    #[error("{0}")]
    Failed(String),
}

impl StoreError {
    /// The API code: `quota` or `storage`.
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::Full(_) => "quota",
            StoreError::Failed(_) => "storage",
        }
    }
}

pub struct Store {}

impl Store {
    pub fn open(dir: &Path, max_bytes: Option<u64>) -> Result<Store, StoreError> {
        todo!()
    }
    pub fn node_id(&self) -> Result<Option<Id>, StoreError> {
        todo!()
    }
    pub fn set_node_id(&self, id: &Id) -> Result<(), StoreError> {
        todo!()
    }
    pub fn put_chunk(&self, digest: &Id, index: u32, bytes: &[u8]) -> Result<(), StoreError> {
        todo!()
    }
    pub fn get_chunk(&self, digest: &Id, index: u32) -> Result<Option<Vec<u8>>, StoreError> {
        todo!()
    }
    pub fn mark_complete(&self, digest: &Id, size: u64) -> Result<(), StoreError> {
        todo!()
    }
    pub fn delete_blob(&self, digest: &Id) -> Result<(), StoreError> {
        todo!()
    }
    pub fn complete_blobs(&self) -> Result<Vec<(Id, u64)>, StoreError> {
        todo!()
    }
    pub fn put_record(&self, record: &Record) -> Result<(), StoreError> {
        todo!()
    }
    pub fn delete_record(&self, key: &Id) -> Result<(), StoreError> {
        todo!()
    }
    pub fn records(&self) -> Result<Vec<Record>, StoreError> {
        todo!()
    }
    pub fn put_get_chunk(&self, get: u64, index: u32, bytes: &[u8]) -> Result<(), StoreError> {
        todo!()
    }
    pub fn get_get_chunk(&self, get: u64, index: u32) -> Result<Option<Vec<u8>>, StoreError> {
        todo!()
    }
    pub fn drop_get(&self, get: u64) -> Result<(), StoreError> {
        todo!()
    }
    pub fn new_upload(&self) -> Result<u64, StoreError> {
        todo!()
    }
    pub fn put_upload_chunk(&self, upload: u64, index: u32, bytes: &[u8]) -> Result<(), StoreError> {
        todo!()
    }
    pub fn finish_upload(&self, upload: u64, digest: &Id, size: u64) -> Result<(), StoreError> {
        todo!()
    }
    pub fn drop_upload(&self, upload: u64) -> Result<(), StoreError> {
        todo!()
    }
    pub fn bytes_used(&self) -> u64 {
        todo!()
    }
}
