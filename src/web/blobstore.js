// The tab's blob store: IndexedDB database `chord-node-<node id>` with three object stores.
//   records  key: the record's key (hex)           value: the record (see src/web/blobstore.rs)
//   chunks   key: "<digest hex>/<index, 8 digits>"  value: Uint8Array (128 KiB, the last shorter)
//   blobs    key: digest hex                        value: { size } once every chunk is stored
// Thin glue on purpose: every call is one transaction; the Rust driver decides what to do.

const VERSION = 1;

function req(r) {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}

function done(tx) {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error ?? new DOMException('transaction aborted', 'AbortError'));
  });
}

export async function openStore(name) {
  const open = indexedDB.open(name, VERSION);
  open.onupgradeneeded = () => {
    const db = open.result;
    for (const s of ['records', 'chunks', 'blobs']) {
      if (!db.objectStoreNames.contains(s)) db.createObjectStore(s);
    }
  };
  const db = await req(open);
  // Another tab deleting or upgrading this database: let it.
  db.onversionchange = () => db.close();
  return db;
}

const chunkKey = (digest, index) => `${digest}/${String(index).padStart(8, '0')}`;

export async function putChunk(db, digest, index, bytes) {
  const tx = db.transaction('chunks', 'readwrite');
  tx.objectStore('chunks').put(bytes, chunkKey(digest, index));
  await done(tx);
}

export async function getChunk(db, digest, index) {
  const tx = db.transaction('chunks', 'readonly');
  const v = await req(tx.objectStore('chunks').get(chunkKey(digest, index)));
  return v instanceof Uint8Array ? v : v instanceof ArrayBuffer ? new Uint8Array(v) : undefined;
}

export async function deleteBlob(db, digest) {
  const tx = db.transaction(['chunks', 'blobs'], 'readwrite');
  tx.objectStore('chunks').delete(IDBKeyRange.bound(`${digest}/`, `${digest}/\uffff`));
  tx.objectStore('blobs').delete(digest);
  await done(tx);
}

export async function markComplete(db, digest, size) {
  const tx = db.transaction('blobs', 'readwrite');
  tx.objectStore('blobs').put({ size }, digest);
  await done(tx);
}

export async function listBlobs(db) {
  const tx = db.transaction('blobs', 'readonly');
  const store = tx.objectStore('blobs');
  const [keys, values] = await Promise.all([req(store.getAllKeys()), req(store.getAll())]);
  return keys.map((digest, i) => ({ digest, size: values[i].size }));
}

export async function putRecord(db, key, record) {
  const tx = db.transaction('records', 'readwrite');
  tx.objectStore('records').put(record, key);
  await done(tx);
}

export async function deleteRecord(db, key) {
  const tx = db.transaction('records', 'readwrite');
  tx.objectStore('records').delete(key);
  await done(tx);
}

export async function listRecords(db) {
  const tx = db.transaction('records', 'readonly');
  return await req(tx.objectStore('records').getAll());
}

export function closeStore(db) {
  db.close();
}
