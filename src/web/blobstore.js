// The tab's blob store: IndexedDB database `chord-node-<node id>` with four object stores.
//   records  key: the record's key (hex)           value: the record (see src/web/blobstore.rs)
//   chunks   key: "<digest hex>/<index, 8 digits>"  value: Uint8Array (128 KiB, the last shorter)
//   blobs    key: digest hex                        value: { size } once every chunk is stored
//   gets     key: "<request>/<index, 8 digits>"     value: Blob, one chunk of a get in progress
// Thin glue on purpose: every call is one transaction; the Rust driver decides what to do.
//
// A get streams its chunks into `gets` as Blobs (which the browser keeps out of the JS heap, on
// disk) and answers with one Blob made of them, so a 1 GiB get never sits in JS memory. Its
// entries are deleted as soon as that Blob is made (the Blob keeps the data it refers to alive),
// or when the get fails or is cancelled; a page gone mid-get leaves entries that the next opening
// of the database clears (a get never outlives its page). They are not a cached copy: the store
// accounts only `chunks`.

const VERSION = 2;

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
    for (const s of ['records', 'chunks', 'blobs', 'gets']) {
      if (!db.objectStoreNames.contains(s)) db.createObjectStore(s);
    }
  };
  const db = await req(open);
  // Another tab deleting or upgrading this database: let it.
  db.onversionchange = () => db.close();
  // Chunks of gets a previous page of this node never finished.
  const tx = db.transaction('gets', 'readwrite');
  tx.objectStore('gets').clear();
  await done(tx);
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

const getRange = (get) => IDBKeyRange.bound(`${get}/`, `${get}/\uffff`);

// `bytes` may be a view of wasm memory: it is copied into a Blob before anything else happens.
export async function putGetChunk(db, get, index, bytes) {
  const blob = new Blob([bytes]);
  const tx = db.transaction('gets', 'readwrite');
  tx.objectStore('gets').put(blob, chunkKey(get, index));
  await done(tx);
}

// One Blob of the get's `count` chunks, in order; their entries are deleted in the same transaction.
export async function takeGet(db, get, count) {
  const tx = db.transaction('gets', 'readwrite');
  const store = tx.objectStore('gets');
  const parts = req(store.getAll(getRange(get)));
  store.delete(getRange(get));
  const [list] = await Promise.all([parts, done(tx)]);
  if (list.length !== count) throw new Error(`${count - list.length} of the file's ${count} chunks are missing from storage`);
  return new Blob(list);
}

export async function dropGet(db, get) {
  const tx = db.transaction('gets', 'readwrite');
  tx.objectStore('gets').delete(getRange(get));
  await done(tx);
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
