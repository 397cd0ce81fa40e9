//! sosik (소식, "news"): a feed aggregation daemon.
//!
//! The library holds every stage; `main.rs` is a thin CLI over it. Data flows one way:
//!
//! ```text
//! schedule -> fetch -> decode -> parse -> normalize -> dedupe -> store   (ingest side)
//! store -> filter -> render -> serve                                     (publish side)
//! ```
//!
//! See ARCHITECTURE.md for the codemap and the invariants each module keeps.

pub mod app;
pub mod config;
pub mod decode;
pub mod dedupe;
pub mod fetch;
pub mod filter;
pub mod html;
pub mod metrics;
pub mod model;
pub mod normalize;
pub mod parse;
pub mod pipeline;
pub mod publish;
pub mod render;
pub mod schedule;
pub mod serve;
pub mod store;
pub mod workers;

/// The message of a caught panic: the `&str` or `String` it was raised with.
pub fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic without a message".to_owned())
}
