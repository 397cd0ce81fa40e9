//! Worker threads of our own, for the two kinds of work a poll hands off the async runtime:
//! the CPU work per document (decode, parse, normalize, encode) on a few niced threads
//! ([`Workers`]), and the store's commits on one writer thread that takes whatever polls wait
//! for it as one group ([`Batcher`]).
//!
//! Reading documents is the bulk of a poll's CPU time and can wait; the store's single writer
//! and the HTTP server cannot. Niced (Linux), the readers take whatever CPU is left, so a large
//! poll neither starves the writer it feeds nor the feeds being served. Owns only the threads;
//! knows nothing of what it runs. The threads start at the first job. [`Workers::stop`] and
//! [`Batcher::stop`] end them in the shutdown order: queued work is answered
//! [`WorkerError::Gone`], the threads are joined within a deadline.
//!
//! A job's panic is caught on its thread only to carry it back, as [`WorkerError::Panicked`],
//! to the unit of work that sent it (a poll, whose boundary records it as that source's
//! error): this is transport, not a panic boundary of its own.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

type Job = Box<dyn FnOnce() + Send>;

/// Why a job handed to a worker gave no result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WorkerError {
    /// The job panicked: the panic's message. A bug in the job, caught.
    #[error("{0}")]
    Panicked(String),
    /// The worker is gone, stopping, or never started: the job did not run to its end. Not the
    /// job's fault (the process is stopping).
    #[error("{0}")]
    Gone(String),
}

/// What a worker thread takes from its queue.
enum Message<T> {
    Work(T),
    /// End the thread.
    Stop,
}

/// How much lower than the rest of the process the workers run (a `nice` increment).
const NICENESS: i32 = 10;

/// Threads started, to be stopped and joined once.
#[derive(Default)]
struct Threads {
    handles: Mutex<Vec<JoinHandle<()>>>,
    stopping: AtomicBool,
}

impl Threads {
    fn keep(&self, handle: JoinHandle<()>) {
        lock(&self.handles).push(handle);
    }

    /// Marks the pool stopping; the handles to join, once (empty for later calls).
    fn begin_stop(&self) -> Vec<JoinHandle<()>> {
        self.stopping.store(true, Ordering::SeqCst);
        std::mem::take(&mut *lock(&self.handles))
    }

    fn stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }
}

/// Waits for `handles` until `deadline`; whether all of them ended. A thread still busy then
/// (a document that takes long to parse) is left to end with the process.
fn join_until(handles: Vec<JoinHandle<()>>, deadline: Instant) -> bool {
    let mut all = true;
    for handle in handles {
        while !handle.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        if handle.is_finished() {
            let _ = handle.join();
        } else {
            all = false;
        }
    }
    all
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// A fixed pool of worker threads, started at the first job (a daemon that only serves never
/// starts them). Cheap to clone; [`Workers::stop`] ends them.
#[derive(Clone)]
pub struct Workers {
    jobs: mpsc::Sender<Message<Job>>,
    queue: Arc<Mutex<mpsc::Receiver<Message<Job>>>>,
    threads: usize,
    /// How many threads started: set by the first job.
    started: Arc<OnceLock<usize>>,
    running: Arc<Threads>,
}

impl std::fmt::Debug for Workers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Workers")
            .field("threads", &self.threads)
            .field("started", &self.started.get())
            .finish_non_exhaustive()
    }
}

impl Workers {
    /// A pool of `threads` CPU workers (at least one), niced, named `sosik-cpu-N`.
    pub fn new(threads: usize) -> Workers {
        let (jobs, queue) = mpsc::channel();
        Workers {
            jobs,
            queue: Arc::new(Mutex::new(queue)),
            threads: threads.max(1),
            started: Arc::default(),
            running: Arc::default(),
        }
    }

    /// Starts the threads; returns how many started.
    fn start(&self) -> usize {
        let mut started = 0;
        for n in 0..self.threads {
            let queue = Arc::clone(&self.queue);
            let spawned = std::thread::Builder::new()
                .name(format!("sosik-cpu-{n}"))
                .spawn(move || {
                    lower_priority(NICENESS);
                    loop {
                        // The lock is held only to take one job.
                        let message = lock(&queue).recv();
                        match message {
                            Ok(Message::Work(job)) => job(),
                            Ok(Message::Stop) | Err(_) => return,
                        }
                    }
                });
            match spawned {
                Ok(handle) => {
                    self.running.keep(handle);
                    started += 1;
                }
                Err(e) => tracing::error!(error = %e, "cannot start a CPU worker thread"),
            }
        }
        started
    }

    /// Runs `work` on a worker and waits for it without blocking the async runtime; a panic in
    /// `work` comes back as [`WorkerError::Panicked`].
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, WorkerError> {
        let gone = |what: &str| WorkerError::Gone(format!("the CPU workers {what}"));
        if self.running.stopping() {
            return Err(gone("are stopping"));
        }
        let (done, answer) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let result = catch_unwind(AssertUnwindSafe(work))
                .map_err(|p| WorkerError::Panicked(crate::panic_message(&*p)));
            let _ = done.send(result);
        });
        if *self.started.get_or_init(|| self.start()) == 0 {
            // No thread could start: the blocking pool does the work instead.
            drop(tokio::task::spawn_blocking(job));
        } else {
            self.jobs
                .send(Message::Work(job))
                .map_err(|_| gone("are gone"))?;
        }
        answer.await.map_err(|_| gone("stopped before answering"))?
    }

    /// Ends the threads, each after the job it is running; jobs still queued are dropped
    /// (their callers hear [`WorkerError::Gone`]). Joins them until `deadline`; whether all
    /// ended. Blocking.
    pub fn stop(&self, deadline: Instant) -> bool {
        let handles = self.running.begin_stop();
        for _ in 0..handles.len() {
            let _ = self.jobs.send(Message::Stop);
        }
        let joined = join_until(handles, deadline);
        // Whatever was queued behind the stops will never run: dropped, it answers Gone.
        while lock(&self.queue).try_recv().is_ok() {}
        joined
    }
}

/// One thread, at the process's own priority, that takes its queued items in groups: all
/// those waiting when it is free (up to a maximum), handed to one call of its work. For the
/// store's writer, where one batch of many polls costs sled far less than one batch each.
/// Started at the first item; [`Batcher::stop`] ends it.
pub struct Batcher<T, R> {
    items: mpsc::Sender<Message<Item<T, R>>>,
    shared: Arc<BatcherShared<T, R>>,
}

type Item<T, R> = (T, tokio::sync::oneshot::Sender<Result<R, WorkerError>>);
type ItemQueue<T, R> = mpsc::Receiver<Message<Item<T, R>>>;
type GroupWork<T, R> = dyn Fn(Vec<T>) -> Vec<R> + Send + Sync;

struct BatcherShared<T, R> {
    /// Taken by the thread when it starts.
    queue: Mutex<Option<ItemQueue<T, R>>>,
    work: Arc<GroupWork<T, R>>,
    name: &'static str,
    max: usize,
    linger: Duration,
    started: OnceLock<bool>,
    running: Threads,
}

impl<T, R> Clone for Batcher<T, R> {
    fn clone(&self) -> Self {
        Batcher {
            items: self.items.clone(),
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<T, R> std::fmt::Debug for Batcher<T, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batcher")
            .field("name", &self.shared.name)
            .field("max", &self.shared.max)
            .finish_non_exhaustive()
    }
}

impl<T: Send + 'static, R: Send + 'static> Batcher<T, R> {
    /// A batcher whose thread is named `name-0`, giving `work` up to `max` items at a time:
    /// those that arrive within `linger` of a group's first. `work` answers one result per
    /// item, in order.
    pub fn new(
        name: &'static str,
        max: usize,
        linger: Duration,
        work: impl Fn(Vec<T>) -> Vec<R> + Send + Sync + 'static,
    ) -> Batcher<T, R> {
        let (items, queue) = mpsc::channel();
        Batcher {
            items,
            shared: Arc::new(BatcherShared {
                queue: Mutex::new(Some(queue)),
                work: Arc::new(work),
                name,
                max: max.max(1),
                linger,
                started: OnceLock::new(),
                running: Threads::default(),
            }),
        }
    }

    /// Queues `item` and waits for its result without blocking the async runtime; a panic in
    /// the work comes back as [`WorkerError::Panicked`] to every item of that group.
    pub async fn run(&self, item: T) -> Result<R, WorkerError> {
        let name = self.shared.name;
        let gone = |what: &str| WorkerError::Gone(format!("the {name} thread {what}"));
        if self.shared.running.stopping() {
            return Err(gone("is stopping"));
        }
        let (done, answer) = tokio::sync::oneshot::channel();
        if *self.shared.started.get_or_init(|| self.start()) {
            self.items
                .send(Message::Work((item, done)))
                .map_err(|_| gone("is gone"))?;
        } else {
            // No thread could start: the blocking pool does the work, one item at a time.
            let work = Arc::clone(&self.shared.work);
            drop(tokio::task::spawn_blocking(move || {
                answer_group(&*work, &mut vec![(item, done)]);
            }));
        }
        answer.await.map_err(|_| gone("stopped before answering"))?
    }

    /// Starts the thread; whether it started.
    fn start(&self) -> bool {
        let Some(queue) = lock(&self.shared.queue).take() else {
            return false;
        };
        let (work, max) = (Arc::clone(&self.shared.work), self.shared.max);
        let linger = self.shared.linger;
        let spawned = std::thread::Builder::new()
            .name(format!("{}-0", self.shared.name))
            .spawn(move || take_groups(&queue, &*work, max, linger));
        match spawned {
            Ok(handle) => {
                self.shared.running.keep(handle);
                true
            }
            Err(e) => {
                tracing::error!(error = %e, name = self.shared.name, "cannot start a thread");
                false
            }
        }
    }

    /// Ends the thread once the groups queued before this call are done (a commit is never
    /// cut short); items sent later are answered [`WorkerError::Gone`]. Joins it until
    /// `deadline`; whether it ended. Blocking.
    pub fn stop(&self, deadline: Instant) -> bool {
        let handles = self.shared.running.begin_stop();
        if !handles.is_empty() {
            let _ = self.items.send(Message::Stop);
        }
        join_until(handles, deadline)
    }
}

/// The batcher's thread: groups until a stop. Items queued after the stop are dropped with the
/// queue, which answers them Gone.
fn take_groups<T, R>(
    queue: &ItemQueue<T, R>,
    work: &GroupWork<T, R>,
    max: usize,
    linger: Duration,
) {
    // One buffer for every group: items are large, and growing a fresh vector for each group
    // was a twentieth of the writer's time.
    let mut group = Vec::with_capacity(max);
    let mut stop = false;
    while let Ok(Message::Work(first)) = queue.recv() {
        // The group closes when it is full or `linger` after its first item.
        let closes = Instant::now() + linger;
        group.push(first);
        while group.len() < max {
            let left = closes.saturating_duration_since(Instant::now());
            match queue.recv_timeout(left) {
                Ok(Message::Work(item)) => group.push(item),
                Ok(Message::Stop) => {
                    stop = true;
                    break;
                }
                Err(_) => break,
            }
        }
        answer_group(work, &mut group);
        if stop {
            return;
        }
    }
}

/// Runs `work` over a group, emptying it, and sends each item its answer.
fn answer_group<T, R>(work: &GroupWork<T, R>, group: &mut Vec<Item<T, R>>) {
    let (items, replies): (Vec<T>, Vec<_>) = group.drain(..).unzip();
    let count = items.len();
    let message = match catch_unwind(AssertUnwindSafe(|| work(items))) {
        Ok(results) if results.len() == count => {
            for (reply, result) in replies.into_iter().zip(results) {
                let _ = reply.send(Ok(result));
            }
            return;
        }
        Ok(results) => format!("{} results for a group of {count}", results.len()),
        Err(panic) => crate::panic_message(&*panic),
    };
    for reply in replies {
        let _ = reply.send(Err(WorkerError::Panicked(message.clone())));
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
mod tests;
