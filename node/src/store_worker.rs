//! The driver's side of the [`Store`]: one thread that carries out the peer's
//! blob commands and record saves in the order they were given (a record's
//! save and its later delete never swap), and answers reads and writes
//! through the driver's channel. The store's calls block (each write is a
//! durable transaction), so they never run on the driver's task.

use crate::store::Store;
use chord::id::Id;
use chord::peer::{BlobCommand, Input};
use chord::store::Record;
use chord::transfer::Sink;
use std::sync::{mpsc, Arc};
use tokio::sync::mpsc::UnboundedSender;

/// A job for the store thread.
#[derive(Debug)]
pub enum Job {
    /// One of the peer's blob commands.
    Blob(BlobCommand),
    /// Save (or, with `None`, delete) the record under `key`.
    Persist(Id, Option<Record>),
    /// Forget a blob get's scratch chunks.
    DropGet(u64),
}

/// The store thread's handle. Dropping it ends the thread once its queue is done.
pub struct StoreWorker {
    tx: mpsc::Sender<Job>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl StoreWorker {
    /// Starts the thread; answers go to `answers` as peer inputs.
    pub fn start(store: Arc<Store>, answers: UnboundedSender<Input>) -> StoreWorker {
        let (tx, rx) = mpsc::channel::<Job>();
        let thread = std::thread::Builder::new()
            .name("chord-store".into())
            .spawn(move || {
                for job in rx {
                    if let Some(input) = run(&store, job) {
                        if answers.send(input).is_err() {
                            break;
                        }
                    }
                }
            })
            .expect("spawning the store thread");
        StoreWorker { tx, thread: Some(thread) }
    }

    /// Queues `job`.
    pub fn push(&self, job: Job) {
        let _ = self.tx.send(job);
    }

    /// Waits until every queued job is done (at shutdown).
    pub fn finish(mut self) {
        let (tx, _) = mpsc::channel();
        self.tx = tx;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Carries out one job; reads and writes answer the peer.
fn run(store: &Store, job: Job) -> Option<Input> {
    match job {
        Job::Blob(BlobCommand::Read { to, pull, digest, index }) => {
            let bytes = store.get_chunk(&digest, index).unwrap_or_else(|e| {
                tracing::warn!(error = %e, "reading a chunk failed");
                None
            });
            Some(Input::BlobRead { to, pull, index, bytes })
        }
        Job::Blob(BlobCommand::Write { pull, sink, digest, index, bytes }) => {
            let result = match sink {
                Sink::Caller(req) => store.put_get_chunk(req.get(), index, &bytes),
                Sink::Store => store.put_chunk(&digest, index, &bytes),
            };
            Some(Input::BlobWritten { pull, index, result: result.map_err(|e| e.to_string()) })
        }
        Job::Blob(BlobCommand::Discard { sink: Sink::Caller(req), .. }) => log(store.drop_get(req.get())),
        Job::Blob(BlobCommand::Discard { sink: Sink::Store, digest } | BlobCommand::Delete { digest }) => log(store.delete_blob(&digest)),
        Job::Blob(BlobCommand::Complete { digest, size }) => log(store.mark_complete(&digest, size)),
        Job::Persist(key, record) => log(match record {
            Some(r) => store.put_record(&r),
            None => store.delete_record(&key),
        }),
        Job::DropGet(get) => log(store.drop_get(get)),
    }
}

fn log(r: Result<(), crate::store::StoreError>) -> Option<Input> {
    if let Err(e) = r {
        tracing::warn!(error = %e, "the store failed");
    }
    None
}
