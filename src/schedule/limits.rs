//! Concurrency limits for fetches: a global one and one per host, as miniflux's
//! `POLLING_LIMIT_PER_HOST` does, so one slow publisher never takes every slot and no
//! publisher sees more than a few of our connections at once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use url::Url;

/// The two semaphores every fetch passes.
#[derive(Debug, Clone)]
pub struct Limits {
    global: Arc<Semaphore>,
    per_host: usize,
    hosts: Arc<Mutex<HashMap<String, Arc<Semaphore>>>>,
}

/// Held while a fetch runs; dropping it frees both slots.
#[derive(Debug)]
pub struct Permits {
    host: Option<OwnedSemaphorePermit>,
    _global: OwnedSemaphorePermit,
}

impl Permits {
    /// Frees the host slot and keeps the global one: the connection to the host is done, but
    /// the poll (parsing, storing) still counts against the global limit, which bounds how
    /// many fetched documents are in memory at once.
    pub fn release_host(&mut self) {
        self.host = None;
    }
}

impl Limits {
    /// `global` fetches in flight at once, `per_host` to any one host.
    pub fn new(global: usize, per_host: usize) -> Limits {
        Limits {
            global: Arc::new(Semaphore::new(global.max(1))),
            per_host: per_host.max(1),
            hosts: Arc::default(),
        }
    }

    /// Waits for a host slot, then a global one (in that order, so a source waiting on a
    /// busy host does not hold a global slot other hosts could use).
    pub async fn acquire(&self, url: &Url) -> Permits {
        let host = match url.host_str() {
            Some(host) => {
                let semaphore = {
                    let mut hosts = self.hosts.lock().unwrap_or_else(|e| e.into_inner());
                    hosts
                        .entry(host.to_ascii_lowercase())
                        .or_insert_with(|| Arc::new(Semaphore::new(self.per_host)))
                        .clone()
                };
                Some(
                    semaphore
                        .acquire_owned()
                        .await
                        .expect("limit semaphores are never closed"),
                )
            }
            None => None,
        };
        let global = self
            .global
            .clone()
            .acquire_owned()
            .await
            .expect("limit semaphores are never closed");
        Permits {
            host,
            _global: global,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn no_host_ever_sees_more_than_its_limit() {
        let limits = Limits::new(8, 2);
        let in_flight: Arc<HashMap<&str, AtomicUsize>> = Arc::new(
            [("a.kr", AtomicUsize::new(0)), ("b.kr", AtomicUsize::new(0))]
                .into_iter()
                .collect(),
        );
        let peak = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for i in 0..20 {
            let host = if i % 2 == 0 { "a.kr" } else { "b.kr" };
            let (limits, in_flight, peak) = (limits.clone(), in_flight.clone(), peak.clone());
            tasks.push(tokio::spawn(async move {
                let url = Url::parse(&format!("https://{host}/rss/{i}")).unwrap();
                let _permits = limits.acquire(&url).await;
                let now = in_flight[host].fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(100)).await;
                in_flight[host].fetch_sub(1, Ordering::SeqCst);
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(peak.load(Ordering::SeqCst), 2);
    }
}
