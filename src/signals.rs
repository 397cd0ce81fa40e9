//! The signals the daemon answers (SIGTERM and SIGINT shut it down; SIGHUP reloads the
//! config; SIGUSR1 and SIGUSR2 are logged and ignored), caught from the start of `app::run`.

use tokio_util::sync::CancellationToken;

/// The signals the daemon answers, caught from the moment [`Signals::listen`] runs: at the
/// very start of [`crate::app::run`], so a signal sent while a large store opens is not met by its default
/// action. SIGTERM and SIGINT shut down. The other signals whose default action ends a process
/// and that an operator or a service manager may send (SIGHUP, SIGUSR1, SIGUSR2) are logged
/// and otherwise ignored: left to their default they ended the daemon at once with no shutdown
/// and no store flush, and a SIGHUP exit counts as clean to systemd, so `Restart=on-failure`
/// did not bring it back (issue 12). SIGHUP reloads the config (issue 14).
pub(crate) struct Signals {
    #[cfg(unix)]
    caught: [Option<tokio::signal::unix::Signal>; 5],
}

impl Signals {
    #[cfg(unix)]
    const NAMES: [&str; 5] = ["SIGTERM", "SIGINT", "SIGHUP", "SIGUSR1", "SIGUSR2"];

    /// Starts catching the signals.
    pub(crate) fn listen() -> Signals {
        #[cfg(unix)]
        {
            use tokio::signal::unix::SignalKind;
            let kinds = [
                SignalKind::terminate(),
                SignalKind::interrupt(),
                SignalKind::hangup(),
                SignalKind::user_defined1(),
                SignalKind::user_defined2(),
            ];
            Signals {
                caught: std::array::from_fn(|i| listen(kinds[i], Self::NAMES[i])),
            }
        }
        #[cfg(not(unix))]
        Signals {}
    }

    /// Waits for SIGTERM or SIGINT, then cancels `shutdown`; each SIGHUP is sent to `hup`
    /// (the daemon reloads its config); SIGUSR1 and SIGUSR2 are logged.
    pub(crate) async fn watch(
        self,
        shutdown: CancellationToken,
        hup_to: tokio::sync::mpsc::UnboundedSender<()>,
    ) {
        #[cfg(unix)]
        {
            let [mut term, mut int, mut hup, mut usr1, mut usr2] = self.caught;
            let reload = hup_to;
            loop {
                tokio::select! {
                    () = next(&mut term) => break,
                    () = next(&mut int) => break,
                    () = next(&mut hup) => {
                        tracing::info!(signal = "SIGHUP", "reloading the config");
                        let _ = reload.send(());
                    }
                    () = next(&mut usr1) => {
                        tracing::warn!(signal = "SIGUSR1", "signal ignored; still running");
                    }
                    () = next(&mut usr2) => {
                        tracing::warn!(signal = "SIGUSR2", "signal ignored; still running");
                    }
                }
            }
        }
        #[cfg(not(unix))]
        {
            let _ = hup_to;
            let _ = tokio::signal::ctrl_c().await;
        }
        tracing::info!("shutting down");
        shutdown.cancel();
    }
}

/// Catches `kind` from now on; `None` (logged) when it cannot, and the signal keeps its
/// default action.
#[cfg(unix)]
fn listen(
    kind: tokio::signal::unix::SignalKind,
    name: &'static str,
) -> Option<tokio::signal::unix::Signal> {
    tokio::signal::unix::signal(kind)
        .inspect_err(|e| tracing::error!(error = %e, signal = name, "cannot listen for a signal"))
        .ok()
}

/// The next delivery of `signal`; never, for a signal not caught.
#[cfg(unix)]
async fn next(signal: &mut Option<tokio::signal::unix::Signal>) {
    // `recv` answers `None` only once the runtime is gone: nothing more will come.
    if let Some(signal) = signal
        && signal.recv().await.is_some()
    {
        return;
    }
    std::future::pending().await
}
