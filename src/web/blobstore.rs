//! The tab's blob store in IndexedDB (`blobstore.js`): chunks of blobs and
//! the records this tab holds, under its node id, so that a reload keeps
//! them. Errors come back as sentences for the user (a full quota says so).

use super::js::js_message;
use crate::codes::QUOTA_FULL;
use crate::id::Id;
use crate::message::ReqId;
use crate::store::{Record, Version};
use js_sys::{Object, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

#[wasm_bindgen(module = "/src/web/blobstore.js")]
extern "C" {
    #[wasm_bindgen(js_name = openStore)]
    fn open_store(name: &str) -> js_sys::Promise;
    #[wasm_bindgen(js_name = putChunk)]
    fn put_chunk(db: &JsValue, digest: &str, index: u32, bytes: &Uint8Array) -> js_sys::Promise;
    #[wasm_bindgen(js_name = getChunk)]
    fn get_chunk(db: &JsValue, digest: &str, index: u32) -> js_sys::Promise;
    #[wasm_bindgen(js_name = putGetChunk)]
    fn put_get_chunk(db: &JsValue, req: &str, index: u32, bytes: &[u8]) -> js_sys::Promise;
    #[wasm_bindgen(js_name = takeGet)]
    fn take_get(db: &JsValue, req: &str, count: u32) -> js_sys::Promise;
    #[wasm_bindgen(js_name = dropGet)]
    fn drop_get(db: &JsValue, req: &str) -> js_sys::Promise;
    #[wasm_bindgen(js_name = deleteBlob)]
    fn delete_blob(db: &JsValue, digest: &str) -> js_sys::Promise;
    #[wasm_bindgen(js_name = markComplete)]
    fn mark_complete(db: &JsValue, digest: &str, size: f64) -> js_sys::Promise;
    #[wasm_bindgen(js_name = listBlobs)]
    fn list_blobs(db: &JsValue) -> js_sys::Promise;
    #[wasm_bindgen(js_name = putRecord)]
    fn put_record(db: &JsValue, key: &str, record: &JsValue) -> js_sys::Promise;
    #[wasm_bindgen(js_name = deleteRecord)]
    fn delete_record(db: &JsValue, key: &str) -> js_sys::Promise;
    #[wasm_bindgen(js_name = listRecords)]
    fn list_records(db: &JsValue) -> js_sys::Promise;
    #[wasm_bindgen(js_name = closeStore)]
    fn close_store(db: &JsValue);
}

/// An open IndexedDB database of one node. Clones share it.
#[derive(Clone)]
pub struct BlobStore {
    db: JsValue,
}

/// Why a store operation failed, in words for the user.
pub fn storage_error(e: &JsValue) -> String {
    let name = Reflect::get(e, &"name".into()).ok().and_then(|n| n.as_string()).unwrap_or_default();
    if name == "QuotaExceededError" {
        format!("this browser's {QUOTA_FULL}; free some space or delete site data")
    } else {
        format!("the browser's storage (IndexedDB) failed: {}", js_message(e))
    }
}

impl BlobStore {
    /// Opens (creating if needed) the store of node `id`.
    pub async fn open(id: &Id) -> Result<BlobStore, String> {
        let db = JsFuture::from(open_store(&format!("chord-node-{}", id.to_hex()))).await.map_err(|e| storage_error(&e))?;
        Ok(BlobStore { db })
    }

    /// Stores one chunk.
    pub async fn put_chunk(&self, digest: &Id, index: u32, bytes: &Uint8Array) -> Result<(), String> {
        JsFuture::from(put_chunk(&self.db, &digest.to_hex(), index, bytes)).await.map(|_| ()).map_err(|e| storage_error(&e))
    }

    /// Reads one chunk; `None` if it is not there.
    pub async fn get_chunk(&self, digest: &Id, index: u32) -> Option<Vec<u8>> {
        let v = JsFuture::from(get_chunk(&self.db, &digest.to_hex(), index)).await.ok()?;
        v.dyn_into::<Uint8Array>().ok().map(|a| a.to_vec())
    }

    /// Reads one chunk as a JS array (not copied into wasm memory).
    pub async fn get_chunk_js(&self, digest: &Id, index: u32) -> Option<Uint8Array> {
        let v = JsFuture::from(get_chunk(&self.db, &digest.to_hex(), index)).await.ok()?;
        v.dyn_into::<Uint8Array>().ok()
    }

    /// Stores chunk `index` of get `req` as a `Blob` (see `blobstore.js`):
    /// the bytes are copied out of wasm memory before this returns, and never
    /// into the JS heap.
    pub fn put_get_chunk(&self, req: ReqId, index: u32, bytes: &[u8]) -> impl std::future::Future<Output = Result<(), String>> {
        let p = put_get_chunk(&self.db, &req.to_string(), index, bytes);
        async move { JsFuture::from(p).await.map(|_| ()).map_err(|e| storage_error(&e)) }
    }

    /// The `count` chunks of get `req` as one `Blob`, their entries deleted.
    pub async fn take_get(&self, req: ReqId, count: u32) -> Result<web_sys::Blob, String> {
        let v = JsFuture::from(take_get(&self.db, &req.to_string(), count)).await.map_err(|e| storage_error(&e))?;
        v.dyn_into().map_err(|_| "the browser could not assemble the file".to_string())
    }

    /// Deletes what get `req` stored (it failed or was cancelled).
    pub async fn drop_get(&self, req: ReqId) {
        if let Err(e) = JsFuture::from(drop_get(&self.db, &req.to_string())).await {
            web_sys::console::warn_1(&format!("chord: {}", storage_error(&e)).into());
        }
    }

    /// Deletes every chunk of a blob.
    pub async fn delete_blob(&self, digest: &Id) -> Result<(), String> {
        JsFuture::from(delete_blob(&self.db, &digest.to_hex())).await.map(|_| ()).map_err(|e| storage_error(&e))
    }

    /// Marks a blob complete (every chunk stored and verified).
    pub async fn mark_complete(&self, digest: &Id, size: u64) -> Result<(), String> {
        JsFuture::from(mark_complete(&self.db, &digest.to_hex(), size as f64)).await.map(|_| ()).map_err(|e| storage_error(&e))
    }

    /// The complete blobs: digest and size.
    pub async fn blobs(&self) -> Result<Vec<(Id, u64)>, String> {
        let list = JsFuture::from(list_blobs(&self.db)).await.map_err(|e| storage_error(&e))?;
        let mut out = Vec::new();
        for item in js_sys::Array::from(&list).iter() {
            let digest = Reflect::get(&item, &"digest".into()).ok().and_then(|d| d.as_string());
            let size = Reflect::get(&item, &"size".into()).ok().and_then(|s| s.as_f64());
            if let (Some(Ok(digest)), Some(size)) = (digest.map(|d| Id::from_hex(&d)), size) {
                out.push((digest, size as u64));
            }
        }
        Ok(out)
    }

    /// Saves a record (replacing the one under its key).
    pub async fn put_record(&self, record: &Record) -> Result<(), String> {
        let obj = record_to_js(record);
        JsFuture::from(put_record(&self.db, &record.key.to_hex(), &obj)).await.map(|_| ()).map_err(|e| storage_error(&e))
    }

    /// Deletes the record under `key`.
    pub async fn delete_record(&self, key: &Id) -> Result<(), String> {
        JsFuture::from(delete_record(&self.db, &key.to_hex())).await.map(|_| ()).map_err(|e| storage_error(&e))
    }

    /// Every saved record that still reads back intact.
    pub async fn records(&self) -> Result<Vec<Record>, String> {
        let list = JsFuture::from(list_records(&self.db)).await.map_err(|e| storage_error(&e))?;
        Ok(js_sys::Array::from(&list).iter().filter_map(|v| record_from_js(&v)).filter(|r| r.is_intact()).collect())
    }

    /// Closes the database.
    pub fn close(&self) {
        close_store(&self.db);
    }
}

fn record_to_js(r: &Record) -> JsValue {
    let o = Object::new();
    let set = |k: &str, v: JsValue| {
        // Setting a property on a fresh plain object cannot fail.
        let _ = Reflect::set(&o, &k.into(), &v);
    };
    set("key", r.key.to_hex().into());
    set("name", r.name.clone().into());
    set("size", (r.size as f64).into());
    set("digest", r.digest.to_hex().into());
    set("seq", (r.version.seq as f64).into());
    set("writer", r.version.writer.to_hex().into());
    set("value", Uint8Array::from(r.value.as_slice()).into());
    o.into()
}

fn record_from_js(v: &JsValue) -> Option<Record> {
    let s = |k: &str| Reflect::get(v, &k.into()).ok()?.as_string();
    let n = |k: &str| Reflect::get(v, &k.into()).ok()?.as_f64();
    let id = |k: &str| Id::from_hex(&s(k)?).ok();
    let value = Reflect::get(v, &"value".into()).ok()?.dyn_into::<Uint8Array>().ok()?.to_vec();
    Some(Record {
        key: id("key")?,
        version: Version { seq: n("seq")? as u64, writer: id("writer")? },
        digest: id("digest")?,
        size: n("size")? as u64,
        name: s("name")?,
        value,
    })
}
