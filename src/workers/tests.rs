//! The worker pools with real threads: jobs, groups, panics carried back, stopping.

use super::*;
use std::time::Duration;

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
    assert!(
        matches!(&err, WorkerError::Panicked(m) if m.contains("feed-rs fell over")),
        "{err:?}"
    );
    // The worker that caught the panic still serves.
    assert_eq!(workers.run(|| 7).await, Ok(7));
}

#[tokio::test]
async fn a_batcher_hands_its_work_the_items_that_wait_together_and_answers_each() {
    // The first group's work holds the thread until the other items are queued.
    let (release, hold) = std::sync::mpsc::channel::<()>();
    let hold = Mutex::new(hold);
    let groups = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&groups);
    let batcher = Batcher::new("test-batcher", 4, Duration::ZERO, move |items: Vec<u32>| {
        if items == [0] {
            let _ = hold.lock().unwrap().recv();
        }
        seen.lock().unwrap().push(items.clone());
        if items.contains(&13) {
            panic!("item 13 is unlucky");
        }
        items.iter().map(|n| n * 10).collect()
    });
    let first = tokio::spawn({
        let batcher = batcher.clone();
        async move { batcher.run(0).await }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let rest: Vec<_> = (1..=6)
        .map(|n| {
            let batcher = batcher.clone();
            tokio::spawn(async move { batcher.run(n).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(50)).await;
    release.send(()).unwrap();
    assert_eq!(first.await.unwrap(), Ok(0));
    let mut answers = Vec::new();
    for answer in rest {
        answers.push(answer.await.unwrap().unwrap());
    }
    assert_eq!(
        answers,
        [10, 20, 30, 40, 50, 60],
        "each item gets its own result"
    );
    let groups = groups.lock().unwrap().clone();
    assert_eq!(groups[0], [0]);
    // The six that waited went in groups of at most four, not one by one.
    assert_eq!(groups.len(), 3, "{groups:?}");
    assert!(groups[1..].iter().all(|g| g.len() <= 4), "{groups:?}");

    // A panic answers every item of its group with the message; the thread goes on.
    let (a, b) = futures_util::future::join(batcher.run(12), batcher.run(13)).await;
    assert!(
        matches!(&b, Err(WorkerError::Panicked(m)) if m.contains("item 13 is unlucky")),
        "{b:?}"
    );
    assert!(
        a == Ok(120) || a.as_ref().is_err_and(|e| e.to_string().contains("unlucky")),
        "{a:?}"
    );
    assert_eq!(batcher.run(2).await, Ok(20));
}

#[tokio::test]
async fn a_batcher_lingers_for_items_that_arrive_soon_after_the_first() {
    let groups = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&groups);
    let batcher = Batcher::new(
        "test-linger",
        8,
        Duration::from_millis(300),
        move |items: Vec<u32>| {
            seen.lock().unwrap().push(items.len());
            items
        },
    );
    let late = {
        let batcher = batcher.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            batcher.run(2).await
        })
    };
    assert_eq!(batcher.run(1).await, Ok(1));
    assert_eq!(late.await.unwrap(), Ok(2));
    assert_eq!(
        *groups.lock().unwrap(),
        [2],
        "one group: the second came within the wait"
    );
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[tokio::test]
async fn cpu_workers_run_at_a_lower_priority_and_a_batcher_does_not() {
    // SAFETY: as in `lower_priority`.
    let priority =
        || unsafe { libc::getpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t) };
    let ours = priority();
    let cpu = Workers::new(1).run(priority).await.unwrap();
    assert_eq!(cpu, (ours + NICENESS).min(19));
    let writer = Batcher::new("test-writer", 4, Duration::ZERO, move |items: Vec<()>| {
        let name = std::thread::current().name().map(str::to_owned);
        items.iter().map(|_| (name.clone(), priority())).collect()
    });
    let (name, writers) = writer.run(()).await.unwrap();
    assert_eq!(name.as_deref(), Some("test-writer-0"));
    assert_eq!(writers, ours);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopped_pools_finish_what_was_queued_join_their_threads_and_refuse_more() {
    let deadline = || Instant::now() + Duration::from_secs(10);
    let workers = Workers::new(2);
    assert_eq!(workers.run(|| 1).await, Ok(1));
    assert!(tokio::task::block_in_place(|| workers.stop(deadline())));
    assert!(matches!(workers.run(|| 2).await, Err(WorkerError::Gone(_))));

    // A commit queued before the stop is done, not cut short.
    let batcher = Batcher::new(
        "test-stop",
        4,
        Duration::from_millis(20),
        |items: Vec<u32>| {
            std::thread::sleep(Duration::from_millis(50));
            items
        },
    );
    assert_eq!(batcher.run(1).await, Ok(1));
    let queued = {
        let batcher = batcher.clone();
        tokio::spawn(async move { batcher.run(7).await })
    };
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert!(tokio::task::block_in_place(|| batcher.stop(deadline())));
    assert_eq!(queued.await.unwrap(), Ok(7));
    assert!(matches!(batcher.run(8).await, Err(WorkerError::Gone(_))));
}
