//! The running daemon as the control socket and SIGHUP reach it: its config (swapped whole by
//! a reload), its ingest, publisher and metrics, and the scheduler's control channel. The
//! commands a CLI sends run here with the same printing as offline ([`crate::commands`]).

use std::sync::Arc;

use arc_swap::ArcSwap;
use chrono::Utc;
use tokio::sync::{mpsc, oneshot};

use super::{AppError, PollRun, reload, select_sources};
use crate::commands::{Answer, Ctx, Request};
use crate::config::{Config, ConfigError, Origin, Problem};
use crate::metrics::Metrics;
use crate::model::SourceId;
use crate::pipeline::{Ingest, IngestError, PollOutcome, PollReport};
use crate::publish::Publisher;
use crate::schedule::Control;

/// The scheduler's control channel.
pub(crate) type ScheduleControl = mpsc::UnboundedSender<Control<SourceId, PollReport>>;

/// The running daemon's shared parts. Cheap to share in an `Arc`.
pub struct Daemon {
    config: ArcSwap<Config>,
    ingest: Ingest,
    publisher: Publisher,
    metrics: Arc<Metrics>,
    schedule: ScheduleControl,
    /// One reload at a time: two would diff against the same running config.
    reloading: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Daemon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Daemon").finish_non_exhaustive()
    }
}

impl Daemon {
    pub(crate) fn new(
        config: Arc<Config>,
        ingest: Ingest,
        publisher: Publisher,
        metrics: Arc<Metrics>,
        schedule: ScheduleControl,
    ) -> Daemon {
        Daemon {
            config: ArcSwap::new(config),
            ingest,
            publisher,
            metrics,
            schedule,
            reloading: tokio::sync::Mutex::new(()),
        }
    }

    /// The config the daemon runs on now.
    pub fn config(&self) -> Arc<Config> {
        self.config.load_full()
    }

    /// Runs a command a CLI sent, printing what the CLI would print offline.
    pub async fn answer(self: &Arc<Self>, request: Request) -> Answer {
        match request {
            Request::Poll { ids } => {
                let (mut out, mut err) = (Vec::new(), Vec::new());
                let printed = match self.poll(&ids).await {
                    Ok(run) => crate::commands::print_poll(&run, &mut out, &mut err),
                    Err(e) => Err(e.into()),
                };
                Answer::of(out, err, printed)
            }
            Request::Reload => match self.reload().await {
                Ok(changes) => Answer {
                    code: 0,
                    stdout: changes.to_string(),
                    stderr: String::new(),
                },
                Err(e) => Answer {
                    code: 1,
                    stdout: String::new(),
                    stderr: (e.problems.iter())
                        .map(|p| format!("error: {p}\n"))
                        .collect(),
                },
            },
            read => {
                let ctx = Ctx {
                    config: self.config(),
                    store: self.ingest.store().clone(),
                    publisher: self.publisher.clone(),
                };
                let ran = tokio::task::spawn_blocking(move || {
                    let mut out = Vec::new();
                    let result = ctx.read(&read, &mut out).expect("a read-only command");
                    Answer::of(out, Vec::new(), result)
                });
                ran.await.unwrap_or_else(|e| Answer {
                    code: 2,
                    stdout: String::new(),
                    stderr: format!("error: the command failed inside the daemon: {e}\n"),
                })
            }
        }
    }

    /// `sosik poll` beside the daemon: the sources polled by the scheduler now (a source in
    /// flight is not polled twice: its poll's report is the answer), then retention and a
    /// flush, as an offline poll ends with retention and the store's close.
    pub async fn poll(&self, ids: &[String]) -> Result<PollRun, AppError> {
        let config = self.config();
        let selected = select_sources(&config, ids)?;
        let mut answers = Vec::with_capacity(selected.len());
        for source in &selected {
            let (answer, report) = oneshot::channel();
            let _ = self
                .schedule
                .send(Control::PollNow(source.id.clone(), answer));
            answers.push((source.id.clone(), report));
        }
        let mut reports = Vec::with_capacity(answers.len());
        for (id, report) in answers {
            reports.push(report.await.unwrap_or_else(|_| {
                Arc::new(PollReport {
                    source: id,
                    outcome: PollOutcome::Failed(IngestError::WorkerGone(
                        "the daemon is shutting down and abandoned the poll".into(),
                    )),
                    next_poll: None,
                    consecutive_errors: 0,
                    elapsed: std::time::Duration::ZERO,
                })
            }));
        }
        let store = self.ingest.store().clone();
        let retention = config.store.retention;
        let finished = tokio::task::spawn_blocking(move || {
            let (forgotten, mut error) = super::poll::retain_after_poll(&store, retention);
            if let Err(e) = store.flush_blocking() {
                error = Some(e.to_string());
            }
            (forgotten, store.len(), error)
        });
        let (forgotten, stored, close_error) = finished.await.unwrap_or_else(|e| {
            let error = format!(
                "retention after the polls failed: {}",
                crate::join_message(e)
            );
            (0, self.ingest.store().len(), Some(error))
        });
        if forgotten > 0 {
            self.publisher.invalidate();
        }
        Ok(PollRun {
            reports,
            stored,
            forgotten,
            close_error,
        })
    }

    /// Reads and validates the config file again (environment overrides included) and
    /// applies it: sources added or re-enabled are polled now, removed or disabled ones are no
    /// longer, changed ones apply from their next poll, outputs at once; keys that need a
    /// restart keep their running values and are named. An invalid config changes nothing.
    pub async fn reload(&self) -> Result<reload::Changes, ConfigError> {
        let _one = self.reloading.lock().await;
        let running = self.config();
        let file = running.file.clone();
        let loaded = tokio::task::spawn_blocking(move || Config::load(&file)).await;
        let loaded = loaded.unwrap_or_else(|e| Err(problem(&running, "", e.to_string())));
        let result = loaded.and_then(|new| self.apply(&running, new));
        match &result {
            Ok(changes) => {
                self.metrics.config_reload("ok");
                tracing::info!(file = %changes.file, changes = %changes.summary(), "config reloaded");
            }
            Err(e) => {
                self.metrics.config_reload("error");
                for p in &e.problems {
                    tracing::error!("config reload refused, still running on the old config: {p}");
                }
            }
        }
        result
    }

    fn apply(&self, running: &Config, new: Config) -> Result<reload::Changes, ConfigError> {
        let (new, restart) = reload::keep_restart_keys(running, new);
        let new = Arc::new(new);
        let mut changes = reload::changes(running, &new);
        changes.needs_restart = restart;
        (self.ingest.reconfigure(new.clone()))
            .map_err(|e| problem(running, "poll", e.to_string()))?;
        self.publisher.reconfigure(new.clone());
        self.config.store(new.clone());
        let now = Utc::now();
        for source in &running.sources {
            let kept = new.source(source.id.as_str());
            if source.enabled && !kept.is_some_and(|s| s.enabled) {
                let _ = self.schedule.send(Control::Forget(source.id.clone()));
            }
            if kept.is_none() {
                self.metrics.forget_source(source.id.as_str());
            }
        }
        for source in &new.sources {
            let was = running.source(source.id.as_str());
            if source.enabled && !was.is_some_and(|s| s.enabled) {
                let _ = self
                    .schedule
                    .send(Control::Due(source.id.clone(), Some(now)));
            }
            if was.is_none() {
                self.metrics.seed_source(source.id.as_str(), 0);
            }
        }
        Ok(changes)
    }
}

/// A reload's failure that is not the file's: one problem, on `key`.
fn problem(config: &Config, key: &str, message: String) -> ConfigError {
    ConfigError {
        problems: vec![Problem {
            origin: Origin::File {
                path: config.file.display().to_string(),
                line: None,
            },
            key: key.to_owned(),
            message,
        }],
    }
}
