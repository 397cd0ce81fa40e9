//! Interval arithmetic as tables, and the loop under tokio's paused clock, so hours of polling
//! pass in milliseconds.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::TimeZone;

use super::*;

const MIN: Duration = Duration::from_secs(300);
const MAX: Duration = Duration::from_secs(86_400);

fn noon() -> DateTime<Utc> {
    // A Friday.
    Utc.with_ymd_and_hms(2026, 11, 27, 12, 0, 0).unwrap()
}

fn secs(from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
    (to - from).num_seconds()
}

fn policy() -> Policy {
    Policy::new(MIN, MAX)
}

fn exact() -> Policy {
    Policy {
        jitter: 0.0,
        ..policy()
    }
}

#[test]
fn the_interval_is_kept_within_bounds() {
    let mut rng = fastrand::Rng::with_seed(1);
    let none = Hints::default();
    for (interval, expected) in [(600, 600), (10, 300), (200_000, 86_400)] {
        let at = after_success(
            &exact(),
            Duration::from_secs(interval),
            &none,
            noon(),
            &mut rng,
        );
        assert_eq!(secs(noon(), at), expected, "interval {interval}s");
    }
}

#[test]
fn jitter_stays_within_ten_percent_and_spreads() {
    let mut rng = fastrand::Rng::with_seed(7);
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..1000 {
        let wait = secs(
            noon(),
            after_success(
                &policy(),
                Duration::from_secs(3600),
                &Hints::default(),
                noon(),
                &mut rng,
            ),
        );
        assert!((3240..=3960).contains(&wait), "{wait}");
        seen.insert(wait / 60);
    }
    assert!(seen.len() > 10, "jitter spreads polls: {seen:?}");
}

#[test]
fn each_publisher_hint_raises_the_interval() {
    let mut rng = fastrand::Rng::with_seed(1);
    let interval = Duration::from_secs(600);
    let cases = [
        ("no hints", Hints::default(), 600),
        (
            "max-age shorter than the interval",
            Hints {
                max_age: Some(Duration::from_secs(60)),
                ..Default::default()
            },
            600,
        ),
        (
            "max-age",
            Hints {
                max_age: Some(Duration::from_secs(1800)),
                ..Default::default()
            },
            1800,
        ),
        (
            "expires",
            Hints {
                expires: Some(noon() + chrono::Duration::hours(2)),
                ..Default::default()
            },
            7200,
        ),
        (
            "expires in the past",
            Hints {
                expires: Some(noon() - chrono::Duration::hours(2)),
                ..Default::default()
            },
            600,
        ),
        (
            "ttl",
            Hints::from_channel(Some(45), None, None, &[], &[]),
            2700,
        ),
        (
            "sy:updatePeriod hourly x2",
            Hints::from_channel(None, Some("hourly"), Some(2), &[], &[]),
            1800,
        ),
        (
            "sy:updatePeriod daily",
            Hints::from_channel(None, Some("Daily"), None, &[], &[]),
            86_400,
        ),
        (
            "sy:updatePeriod yearly is capped",
            Hints::from_channel(None, Some("yearly"), None, &[], &[]),
            86_400,
        ),
        (
            "the longest hint wins",
            Hints {
                max_age: Some(Duration::from_secs(900)),
                ..Hints::from_channel(Some(20), None, None, &[], &[])
            },
            1200,
        ),
    ];
    for (name, hints, expected) in cases {
        let at = after_success(&exact(), interval, &hints, noon(), &mut rng);
        assert_eq!(secs(noon(), at), expected, "{name}");
    }
}

#[test]
fn skipped_hours_and_days_move_the_poll_to_the_next_allowed_hour() {
    let mut rng = fastrand::Rng::with_seed(1);
    let interval = Duration::from_secs(600);
    // 12:10 falls in skipped hours 12 and 13: the poll moves to 14:00.
    let hours = Hints::from_channel(None, None, None, &[12, 13], &[]);
    let at = after_success(&exact(), interval, &hours, noon(), &mut rng);
    assert_eq!(at, Utc.with_ymd_and_hms(2026, 11, 27, 14, 0, 0).unwrap());
    // Friday skipped: Saturday 00:00.
    let days = Hints::from_channel(None, None, None, &[], &["friday".to_owned()]);
    let at = after_success(&exact(), interval, &days, noon(), &mut rng);
    assert_eq!(at, Utc.with_ymd_and_hms(2026, 11, 28, 0, 0, 0).unwrap());
    // Skipping everything is ignored rather than never polling.
    let all: Vec<u8> = (0..24).collect();
    let at = after_success(
        &exact(),
        interval,
        &Hints::from_channel(None, None, None, &all, &[]),
        noon(),
        &mut rng,
    );
    assert_eq!(secs(noon(), at), 600);
    // The ceiling wins over a long skip.
    let tight = Policy {
        max: Duration::from_secs(3600),
        ..exact()
    };
    let at = after_success(&tight, interval, &days, noon(), &mut rng);
    assert_eq!(secs(noon(), at), 3600);
}

#[test]
fn failures_back_off_exponentially_up_to_the_ceiling_and_honour_retry_after() {
    let mut rng = fastrand::Rng::with_seed(1);
    let i = Duration::from_secs(600);
    let wait = |errors, retry, rng: &mut fastrand::Rng| {
        secs(
            noon(),
            after_failure(&exact(), i, errors, retry, noon(), rng),
        )
    };
    assert_eq!(wait(1, None, &mut rng), 600);
    assert_eq!(wait(2, None, &mut rng), 1200);
    assert_eq!(wait(3, None, &mut rng), 2400);
    assert_eq!(wait(8, None, &mut rng), 76_800);
    assert_eq!(
        wait(40, None, &mut rng),
        86_400,
        "never past the ceiling, never given up"
    );
    assert_eq!(wait(1, Some(Duration::from_secs(7200)), &mut rng), 7200);
    assert_eq!(
        wait(1, Some(Duration::from_secs(5)), &mut rng),
        600,
        "a short Retry-After does not undercut backoff"
    );
    assert_eq!(
        wait(1, Some(Duration::from_secs(999_999)), &mut rng),
        86_400,
        "Retry-After is capped"
    );
    // With jitter, backoff still grows.
    let mut jittered = fastrand::Rng::with_seed(3);
    let a = secs(
        noon(),
        after_failure(&policy(), i, 3, None, noon(), &mut jittered),
    );
    assert!((2160..=2640).contains(&a), "{a}");
}

/// A fake source's answer in the loop tests: the next poll, computed like the pipeline does.
struct Report(Option<DateTime<Utc>>);

impl Scheduled for Report {
    fn next_poll(&self) -> Option<DateTime<Utc>> {
        self.0
    }
}

type Log = Arc<Mutex<Vec<(usize, DateTime<Utc>)>>>;

/// A shutdown token cancelled after `after` of (paused) time.
fn cancelled_after(after: Duration) -> CancellationTokenForTests {
    let shutdown = CancellationTokenForTests::new();
    let stop = shutdown.clone();
    tokio::spawn(async move {
        tokio::time::sleep(after).await;
        stop.cancel();
    });
    shutdown
}

/// Runs the loop for `hours` of paused time over sources with these intervals; `fail` makes
/// every poll of a source fail. Returns the poll log.
async fn simulate(
    intervals: &[u64],
    fail: &[usize],
    due: Vec<Option<DateTime<Utc>>>,
    hours: u64,
) -> Vec<(usize, DateTime<Utc>)> {
    let clock = Clock::anchored(noon());
    let log: Log = Arc::default();
    let errors: Arc<Mutex<HashMap<usize, u32>>> = Arc::default();
    let shutdown = cancelled_after(Duration::from_secs(hours * 3600 - 1));
    let intervals = intervals.to_vec();
    let fail = fail.to_vec();
    let poll_log = log.clone();
    run(
        due,
        clock,
        shutdown,
        Duration::from_secs(5),
        MIN,
        move |i| {
            let (log, errors, intervals, fail) = (
                poll_log.clone(),
                errors.clone(),
                intervals.clone(),
                fail.clone(),
            );
            async move {
                let now = clock.now();
                log.lock().unwrap().push((i, now));
                let mut rng = fastrand::Rng::with_seed(i as u64);
                let interval = Duration::from_secs(intervals[i]);
                if fail.contains(&i) {
                    let mut errors = errors.lock().unwrap();
                    let n = errors.entry(i).or_default();
                    *n += 1;
                    Report(Some(after_failure(
                        &policy(),
                        interval,
                        *n,
                        None,
                        now,
                        &mut rng,
                    )))
                } else {
                    Report(Some(after_success(
                        &policy(),
                        interval,
                        &Hints::default(),
                        now,
                        &mut rng,
                    )))
                }
            }
        },
        |_, _| {},
        || {},
    )
    .await;
    log.lock().unwrap().clone()
}

use tokio_util::sync::CancellationToken as CancellationTokenForTests;

fn gaps(log: &[(usize, DateTime<Utc>)], source: usize) -> Vec<i64> {
    let times: Vec<_> = log
        .iter()
        .filter(|(i, _)| *i == source)
        .map(|(_, t)| *t)
        .collect();
    times.windows(2).map(|w| secs(w[0], w[1])).collect()
}

#[tokio::test(start_paused = true)]
async fn each_source_is_polled_at_its_own_interval_with_jitter() {
    let log = simulate(&[600, 3600], &[], vec![Some(noon()), Some(noon())], 12).await;
    let fast = gaps(&log, 0);
    let slow = gaps(&log, 1);
    assert!(
        (60..=80).contains(&fast.len()),
        "about 72 polls in 12 h: {}",
        fast.len()
    );
    assert!(fast.iter().all(|g| (540..=661).contains(g)), "{fast:?}");
    assert!((10..=13).contains(&slow.len()), "{}", slow.len());
    assert!(slow.iter().all(|g| (3240..=3961).contains(g)), "{slow:?}");
}

#[tokio::test(start_paused = true)]
async fn a_failing_source_backs_off_while_others_keep_their_pace() {
    let log = simulate(&[600, 600], &[1], vec![Some(noon()), Some(noon())], 24).await;
    let failing = gaps(&log, 1);
    assert!(
        failing.windows(2).take(6).all(|w| w[1] > w[0]),
        "gaps grow: {failing:?}"
    );
    assert!(failing.iter().all(|g| *g <= 86_400 + 1), "{failing:?}");
    assert!(gaps(&log, 0).iter().all(|g| (540..=661).contains(g)));
}

#[tokio::test(start_paused = true)]
async fn persisted_due_times_are_kept_after_a_restart() {
    // Source 0 is due in 40 minutes, source 1 is overdue, source 2 is gone (never due).
    let due = vec![
        Some(noon() + chrono::Duration::minutes(40)),
        Some(noon() - chrono::Duration::hours(3)),
        None,
    ];
    let log = simulate(&[3600, 3600, 600], &[], due, 1).await;
    let first = |i| log.iter().find(|(s, _)| *s == i).map(|(_, t)| *t);
    assert_eq!(
        first(1),
        Some(noon()),
        "an overdue source is polled at once"
    );
    assert_eq!(
        first(0),
        Some(noon() + chrono::Duration::minutes(40)),
        "no stampede: a source waits for its time"
    );
    assert_eq!(first(2), None, "a gone source is not polled");
}

#[tokio::test(start_paused = true)]
async fn a_panicking_poll_is_caught_and_retried_later() {
    let clock = Clock::anchored(noon());
    let shutdown = cancelled_after(Duration::from_secs(3 * 3600));
    let calls = Arc::new(Mutex::new(Vec::new()));
    let panics = Arc::new(Mutex::new(0));
    let (c, p) = (calls.clone(), panics.clone());
    run(
        vec![Some(noon()), Some(noon())],
        clock,
        shutdown,
        Duration::from_secs(5),
        MIN,
        move |i| {
            let c = c.clone();
            async move {
                c.lock().unwrap().push((i, clock.now()));
                if i == 0 {
                    panic!("source 0 always panics");
                }
                Report(Some(clock.now() + chrono::Duration::hours(1)))
            }
        },
        move |_, result| {
            if let Err(message) = result {
                assert!(message.contains("always panics"));
                *p.lock().unwrap() += 1;
            }
        },
        || {},
    )
    .await;
    let calls = calls.lock().unwrap();
    let zero: Vec<_> = calls
        .iter()
        .filter(|(i, _)| *i == 0)
        .map(|(_, t)| *t)
        .collect();
    assert!(
        zero.len() >= 30,
        "retried every min_interval: {}",
        zero.len()
    );
    assert!(zero.windows(2).all(|w| secs(w[0], w[1]) == 300));
    let others = calls.iter().filter(|(i, _)| *i == 1).count();
    assert!(
        (3..=4).contains(&others),
        "the other source goes on hourly: {others}"
    );
    assert_eq!(*panics.lock().unwrap(), zero.len());
}

#[tokio::test(start_paused = true)]
async fn the_loop_reports_each_quiet_spell_once_after_a_round_of_polls() {
    let clock = Clock::anchored(noon());
    let shutdown = cancelled_after(Duration::from_secs(3 * 3600 + 60));
    // Three sources due together each hour; their polls take 1, 2 and 3 seconds, so a round
    // ends 3 s after it starts, with polls finishing one after another before that.
    let running = Arc::new(Mutex::new(0usize));
    // How many polls were running when each quiet spell was reported, and when.
    let idles: Log = Arc::default();
    let (r, seen) = (running.clone(), idles.clone());
    run(
        vec![Some(noon()); 3],
        clock,
        shutdown,
        Duration::from_secs(5),
        MIN,
        move |i| {
            let r = r.clone();
            async move {
                let started = clock.now();
                *r.lock().unwrap() += 1;
                tokio::time::sleep(Duration::from_secs(i as u64 + 1)).await;
                *r.lock().unwrap() -= 1;
                Report(Some(started + chrono::Duration::hours(1)))
            }
        },
        |_, _| {},
        move || {
            seen.lock()
                .unwrap()
                .push((*running.lock().unwrap(), clock.now()))
        },
    )
    .await;
    let idles = idles.lock().unwrap();
    // Rounds at 12:00, 13:00, 14:00 and 15:00: one quiet spell after each, none mid-round.
    assert_eq!(idles.len(), 4, "{idles:?}");
    for (n, (running, at)) in idles.iter().enumerate() {
        assert_eq!(*running, 0, "quiet while a poll ran: {idles:?}");
        let round = noon() + chrono::Duration::hours(n as i64);
        let quiet = 3 + runner::QUIET.as_secs() as i64;
        assert_eq!(secs(round, *at), quiet, "{idles:?}");
    }
}

/// A poll of a source, by key, and when it started.
type Polled = (String, DateTime<Utc>);

/// Runs the controlled loop over sources "a" and "b" (due hourly from noon, each poll taking
/// 10 s of paused time and logged) for `hours`, while `script` sends control messages.
async fn controlled(
    hours: u64,
    script: impl FnOnce(
        tokio::sync::mpsc::UnboundedSender<Control<String, Report>>,
    ) -> tokio::task::JoinHandle<()>,
) -> Vec<(String, DateTime<Utc>)> {
    let clock = Clock::anchored(noon());
    let shutdown = cancelled_after(Duration::from_secs(hours * 3600 - 1));
    let log: Arc<Mutex<Vec<Polled>>> = Arc::default();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let scripted = script(tx);
    let polls = log.clone();
    let timing = Timing {
        clock,
        grace: Duration::from_secs(5),
        retry_after_panic: MIN,
    };
    let hooks = Hooks {
        // "gone" cannot be polled (it left the config).
        poll: move |k: &String| {
            (k != "gone").then(|| {
                let (k, log) = (k.clone(), polls.clone());
                async move {
                    let started = clock.now();
                    log.lock().unwrap().push((k, started));
                    tokio::time::sleep(Duration::from_secs(10)).await;
                    Report(Some(started + chrono::Duration::hours(1)))
                }
            })
        },
        on_done: |_: &String, _: Result<&Report, &str>| {},
        on_idle: || {},
    };
    let due = vec![
        ("a".to_owned(), Some(noon())),
        ("b".to_owned(), Some(noon())),
    ];
    run_controlled(due, timing, shutdown, rx, hooks).await;
    scripted.await.unwrap();
    log.lock().unwrap().clone()
}

fn polls_of(log: &[(String, DateTime<Utc>)], k: &str) -> Vec<i64> {
    let of = log.iter().filter(|(s, _)| s == k);
    of.map(|(_, t)| secs(noon(), *t)).collect()
}

#[tokio::test(start_paused = true)]
async fn a_poll_asked_for_runs_now_and_answers_with_its_report() {
    let answered = Arc::new(Mutex::new(None));
    let seen = answered.clone();
    let log = controlled(2, move |tx| {
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(1800)).await;
            let (answer, report) = tokio::sync::oneshot::channel();
            tx.send(Control::PollNow("a".into(), answer)).unwrap();
            let report = report.await.unwrap();
            *seen.lock().unwrap() = Some(report.0);
        })
    })
    .await;
    // Polled at noon, when asked at 12:30, then an hour after that poll (its report's time).
    assert_eq!(polls_of(&log, "a"), vec![0, 1800, 5400]);
    assert_eq!(polls_of(&log, "b"), vec![0, 3600]);
    let at = answered.lock().unwrap().flatten().expect("answered");
    assert_eq!(
        secs(noon(), at),
        1800 + 3600,
        "the answer is that poll's report"
    );
}

#[tokio::test(start_paused = true)]
async fn a_poll_asked_for_while_one_runs_joins_it_instead_of_polling_twice() {
    let answers = Arc::new(Mutex::new(Vec::new()));
    let seen = answers.clone();
    let log = controlled(1, move |tx| {
        tokio::spawn(async move {
            // "a" is being polled from noon to 10 s past: ask twice meanwhile.
            tokio::time::sleep(Duration::from_secs(3)).await;
            let mut waits = Vec::new();
            for _ in 0..2 {
                let (answer, report) = tokio::sync::oneshot::channel();
                tx.send(Control::PollNow("a".into(), answer)).unwrap();
                waits.push(report);
            }
            for report in waits {
                let report = report.await.unwrap();
                seen.lock().unwrap().push(report.0);
            }
        })
    })
    .await;
    assert_eq!(
        polls_of(&log, "a"),
        vec![0],
        "never two polls of one source at once"
    );
    let answers = answers.lock().unwrap();
    assert_eq!(answers.len(), 2);
    assert!(answers.iter().all(|at| secs(noon(), at.unwrap()) == 3600));
}

#[tokio::test(start_paused = true)]
async fn forgotten_sources_stop_and_added_ones_start_at_their_time() {
    let dropped = Arc::new(Mutex::new(None));
    let seen = dropped.clone();
    let log = controlled(3, move |tx| {
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(600)).await;
            tx.send(Control::Forget("b".into())).unwrap();
            let at = noon() + chrono::Duration::seconds(900);
            tx.send(Control::Due("c".into(), Some(at))).unwrap();
            // A source that cannot be polled: the asker hears no answer.
            let (answer, report) = tokio::sync::oneshot::channel();
            tx.send(Control::PollNow("gone".into(), answer)).unwrap();
            let unanswered = report.await.is_err();
            *seen.lock().unwrap() = Some(unanswered);
        })
    })
    .await;
    assert_eq!(polls_of(&log, "a"), vec![0, 3600, 7200]);
    assert_eq!(
        polls_of(&log, "b"),
        vec![0],
        "forgotten after its first poll"
    );
    assert_eq!(polls_of(&log, "c"), vec![900, 4500, 8100]);
    assert_eq!(*dropped.lock().unwrap(), Some(true));
}
