//! Worker threads of our own, for the two kinds of work a poll hands off the async runtime:
//! the CPU work per document (decode, parse, normalize, encode) on a few niced threads, and the
//! store's commits on one writer thread that takes them back to back.
//!
//! Reading documents is the bulk of a poll's CPU time and can wait; the store's single writer
//! and the HTTP server cannot. Niced (Linux), the readers take whatever CPU is left, so a large
//! poll neither starves the writer it feeds nor the feeds being served. Owns only the threads;
//! knows nothing of what it runs. A job that panics answers with the panic's message; the
//! threads start at the first job and exit when the pool is dropped.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex, OnceLock, mpsc};

type Job = Box<dyn FnOnce() + Send>;

/// How much lower than the rest of the process the workers run (a `nice` increment).
const NICENESS: i32 = 10;

/// A fixed pool of worker threads, started at the first job (a daemon that only serves never
/// starts them). Cheap to clone; the threads stop after the last clone goes.
#[derive(Debug, Clone)]
pub struct Workers {
    jobs: mpsc::Sender<Job>,
    queue: Arc<Mutex<mpsc::Receiver<Job>>>,
    threads: usize,
    name: &'static str,
    niceness: i32,
    /// How many threads started: set by the first job.
    started: Arc<OnceLock<usize>>,
}

impl Workers {
    /// A pool of `threads` CPU workers (at least one), niced, named `sosik-cpu-N`.
    pub fn new(threads: usize) -> Workers {
        Workers::with(threads, "sosik-cpu", NICENESS)
    }

    /// One thread at the process's own priority, named `name-0`: for work that must run one
    /// job at a time, back to back (the store's writer).
    pub fn single(name: &'static str) -> Workers {
        Workers::with(1, name, 0)
    }

    fn with(threads: usize, name: &'static str, niceness: i32) -> Workers {
        let (jobs, queue) = mpsc::channel::<Job>();
        Workers {
            jobs,
            queue: Arc::new(Mutex::new(queue)),
            threads: threads.max(1),
            name,
            niceness,
            started: Arc::default(),
        }
    }

    /// Starts the threads; returns how many started.
    fn start(&self) -> usize {
        let mut started = 0;
        for n in 0..self.threads {
            let queue = Arc::clone(&self.queue);
            let niceness = self.niceness;
            let spawned = std::thread::Builder::new()
                .name(format!("{}-{n}", self.name))
                .spawn(move || {
                    if niceness != 0 {
                        lower_priority(niceness);
                    }
                    loop {
                        // The lock is held only to take one job.
                        let job = queue.lock().unwrap_or_else(|e| e.into_inner()).recv();
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                });
            match spawned {
                Ok(_) => started += 1,
                Err(e) => tracing::error!(error = %e, "cannot start a CPU worker thread"),
            }
        }
        started
    }

    /// Runs `work` on a worker and waits for it without blocking the async runtime; a panic in
    /// `work` comes back as its message.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, String> {
        let (done, answer) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let result =
                catch_unwind(AssertUnwindSafe(work)).map_err(|p| crate::panic_message(&*p));
            let _ = done.send(result);
        });
        if *self.started.get_or_init(|| self.start()) == 0 {
            // No thread could start: the blocking pool does the work instead.
            drop(tokio::task::spawn_blocking(job));
        } else {
            self.jobs
                .send(job)
                .map_err(|_| "the CPU workers are gone".to_owned())?;
        }
        answer
            .await
            .map_err(|_| "a CPU worker stopped before answering".to_owned())?
    }
}

/// Lowers the calling thread's priority by `niceness`; best effort (Linux only).
fn lower_priority(niceness: i32) {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `gettid` and `setpriority` take no pointers; on Linux a thread id names one
    // thread for PRIO_PROCESS, so only this thread is affected.
    unsafe {
        let tid = libc::gettid();
        let current = libc::getpriority(libc::PRIO_PROCESS, tid as libc::id_t);
        let _ = libc::setpriority(
            libc::PRIO_PROCESS,
            tid as libc::id_t,
            current.saturating_add(niceness),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn jobs_run_and_panics_come_back_as_messages() {
        let workers = Workers::new(2);
        let answers = futures_util::future::join_all((0..8).map(|n| workers.run(move || n * 2)));
        let answers: Vec<_> = answers.await.into_iter().map(Result::unwrap).collect();
        assert_eq!(answers, (0..8).map(|n| n * 2).collect::<Vec<_>>());
        let err = workers
            .run(|| -> u32 { panic!("feed-rs fell over") })
            .await
            .unwrap_err();
        assert!(err.contains("feed-rs fell over"), "{err}");
        // The worker that caught the panic still serves.
        assert_eq!(workers.run(|| 7).await, Ok(7));
    }

    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[tokio::test]
    async fn cpu_workers_run_at_a_lower_priority_and_a_single_worker_does_not() {
        // SAFETY: as in `lower_priority`.
        let priority =
            || unsafe { libc::getpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t) };
        let ours = priority();
        let cpu = Workers::new(1).run(priority).await.unwrap();
        assert_eq!(cpu, (ours + NICENESS).min(19));
        let writer = Workers::single("test-writer");
        let name = writer
            .run(|| std::thread::current().name().map(str::to_owned))
            .await
            .unwrap();
        assert_eq!(name.as_deref(), Some("test-writer-0"));
        assert_eq!(writer.run(priority).await.unwrap(), ours);
    }
}
