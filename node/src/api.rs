//! The local HTTP API. STUB: the API helper fills it in.
#![allow(unused_variables, missing_docs)]

use crate::command::Handle;
use crate::store::Store;
use std::sync::Arc;

pub fn router(handle: Handle, store: Arc<Store>) -> axum::Router {
    todo!()
}

pub async fn serve(
    listener: tokio::net::TcpListener,
    handle: Handle,
    store: Arc<Store>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) {
    todo!()
}
