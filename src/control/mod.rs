//! The control socket: how the CLI reaches a running daemon. `<store.path>/control.sock`, a
//! Unix socket of mode 0600 that also checks each peer's user (the daemon's own, or root), so
//! it is never on the network and never answers another user. HTTP/1.1 over it, one route:
//! `POST /v1/run` with a [`Request`] as JSON, answered with an [`Answer`] (what the command
//! prints and its exit code), which the daemon produces with the same printing code as the
//! offline command ([`crate::commands`]).
//!
//! Only a daemon that holds the store's lock binds the socket, so a socket file found at start
//! is a killed daemon's: it is replaced. A CLI that finds no socket, or one nobody answers
//! (refused), opens the store itself.

mod client;
mod server;

use std::path::{Path, PathBuf};

pub use client::{ControlError, ask};
pub use server::{bind, serve};

#[doc(no_inline)]
pub use crate::commands::{Answer, Request};

/// The socket's file name inside the store's directory.
pub const SOCKET: &str = "control.sock";

/// The one route.
const ROUTE: &str = "/v1/run";

/// Where the daemon on the store at `store` listens.
pub fn socket_path(store: &Path) -> PathBuf {
    store.join(SOCKET)
}
