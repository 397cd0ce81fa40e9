//! Storage faults (issue 19): what kind of failure a sled error is (a full disk, a permission
//! refused, the store gone from under the daemon, corruption), and the store's fault state,
//! which changes only when the kind of failure does, so each change is logged once.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

/// What kind of storage failure an error is: what `/healthz`, the log and
/// `sosik_store_errors_total{kind}` call it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FaultKind {
    /// No space left (ENOSPC), or the quota reached (EDQUOT).
    Full,
    /// Writing was refused: EACCES, EPERM, or a read-only file system (EROFS).
    Permission,
    /// The store's files or directory are gone (ENOENT).
    Gone,
    /// sled found its own files damaged.
    Corrupt,
    /// Any other I/O failure.
    Io,
}

impl FaultKind {
    /// Every kind, for series created at start.
    pub const ALL: [FaultKind; 5] = [
        FaultKind::Full,
        FaultKind::Permission,
        FaultKind::Gone,
        FaultKind::Corrupt,
        FaultKind::Io,
    ];

    /// The kind's label: `full`, `permission`, `gone`, `corrupt`, `io`.
    pub fn label(self) -> &'static str {
        match self {
            FaultKind::Full => "full",
            FaultKind::Permission => "permission",
            FaultKind::Gone => "gone",
            FaultKind::Corrupt => "corrupt",
            FaultKind::Io => "io",
        }
    }

    /// The kind in words, as the error sentence says it.
    fn words(self) -> &'static str {
        match self {
            FaultKind::Full => "the disk is full",
            FaultKind::Permission => "writing is not permitted",
            FaultKind::Gone => "the store's files are gone",
            FaultKind::Corrupt => "the store is corrupt",
            FaultKind::Io => "an I/O error",
        }
    }

    /// The kind of an I/O error, by its OS error number first, then its kind.
    fn of_io(error: &std::io::Error) -> FaultKind {
        match error.raw_os_error() {
            Some(libc_codes::ENOSPC | libc_codes::EDQUOT) => return FaultKind::Full,
            Some(libc_codes::EACCES | libc_codes::EPERM | libc_codes::EROFS) => {
                return FaultKind::Permission;
            }
            Some(libc_codes::ENOENT) => return FaultKind::Gone,
            _ => {}
        }
        match error.kind() {
            std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded => FaultKind::Full,
            std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem => {
                FaultKind::Permission
            }
            std::io::ErrorKind::NotFound => FaultKind::Gone,
            _ => FaultKind::Io,
        }
    }
}

/// A fault in words: its kind, then its cause (just the cause for an unclassified one: "an
/// I/O error" before it says nothing).
pub(super) fn sentence(kind: FaultKind, reason: &str) -> String {
    match kind {
        FaultKind::Io => reason.to_owned(),
        kind => format!("{kind}: {reason}"),
    }
}

impl Fault {
    /// The fault in words, as `/healthz` and the log say it.
    pub fn sentence(&self) -> String {
        sentence(self.kind, &self.reason)
    }
}

impl std::fmt::Display for FaultKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.words())
    }
}

/// The Linux error numbers the kinds are read from (the same on every Linux architecture
/// sosik builds for), so classifying needs no libc on other targets.
mod libc_codes {
    pub const EPERM: i32 = 1;
    pub const ENOENT: i32 = 2;
    pub const EACCES: i32 = 13;
    pub const ENOSPC: i32 = 28;
    pub const EROFS: i32 = 30;
    pub const EDQUOT: i32 = 122;
}

/// A sled error as a fault: its kind, and its cause said once. Once a write failed, sled
/// hands out copies of that error with the original's debug text as their message
/// (`Os { code: 28, kind: StorageFull, message: "…" }`), and its text could come twice over;
/// an error with an OS number is said as the OS says that number, and nothing else.
pub(super) fn classify(error: &sled::Error) -> (FaultKind, String) {
    match error {
        sled::Error::Io(io) => {
            let code = io.raw_os_error().or_else(|| os_code_in(&io.to_string()));
            let Some(code) = code else {
                return (FaultKind::of_io(io), io.to_string());
            };
            let os = std::io::Error::from_raw_os_error(code);
            (FaultKind::of_io(&os), os.to_string())
        }
        sled::Error::Corruption { .. } => (FaultKind::Corrupt, error.to_string()),
        other => (FaultKind::Io, other.to_string()),
    }
}

/// The OS error number in the debug text of an `io::Error` (`Os { code: 28, … }`).
fn os_code_in(text: &str) -> Option<i32> {
    let rest = text.split_once("Os { code: ")?.1;
    let digits = rest.split(|c: char| !c.is_ascii_digit()).next()?;
    digits.parse().ok()
}

/// The store's current fault, as `/healthz` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// What kind of failure.
    pub kind: FaultKind,
    /// The failure's cause, said once.
    pub reason: String,
    /// When the store first failed this way.
    pub since: DateTime<Utc>,
}

/// Hears of every storage error (the daemon counts them in `sosik_store_errors_total`).
pub type FaultObserver = Arc<dyn Fn(FaultKind) + Send + Sync>;

/// The fault state shared by every clone of a store: the current fault, if any, and who
/// hears of each error.
#[derive(Default)]
pub(super) struct Faults {
    current: Mutex<Option<Fault>>,
    observer: Mutex<Option<FaultObserver>>,
    /// Tests only: the failing disk the writes meet (see [`Faults::write_allowed`]).
    #[cfg(test)]
    injected: Mutex<Option<Injected>>,
}

/// Tests only: a disk that fails every write from the `after + 1`th on with the OS error
/// `code`, as sled 0.34 does once one write failed, until the test heals it.
#[cfg(test)]
#[derive(Debug, Clone, Copy)]
pub(crate) struct Injected {
    pub(crate) after: usize,
    pub(crate) code: i32,
}

impl Faults {
    /// Tests only: from now on, the writes meet `disk` (`None`: a healthy one).
    #[cfg(test)]
    pub(super) fn inject(&self, disk: Option<Injected>) {
        *self.injected.lock().unwrap() = disk;
    }

    /// The write path's one hook: whether the next write may go to sled. Always, outside
    /// tests; in tests, not once the injected disk has failed.
    pub(super) fn write_allowed(&self) -> Result<(), sled::Error> {
        #[cfg(test)]
        if let Some(disk) = self.injected.lock().unwrap().as_mut() {
            if disk.after == 0 {
                return Err(sled::Error::Io(std::io::Error::from_raw_os_error(
                    disk.code,
                )));
            }
            disk.after -= 1;
        }
        Ok(())
    }

    fn current(&self) -> std::sync::MutexGuard<'_, Option<Fault>> {
        self.current.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The current fault.
    pub(super) fn get(&self) -> Option<Fault> {
        self.current().clone()
    }

    /// Sets who hears of each error.
    pub(super) fn observe(&self, observer: FaultObserver) {
        *self.observer.lock().unwrap_or_else(|e| e.into_inner()) = Some(observer);
    }

    /// Records one error of `kind`: counted every time, logged only when the store was
    /// healthy or failing another way.
    pub(super) fn failed(&self, kind: FaultKind, reason: &str) {
        let observer = self
            .observer
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if let Some(observer) = observer {
            observer(kind);
        }
        let mut current = self.current();
        if current.as_ref().is_some_and(|f| f.kind == kind) {
            return;
        }
        tracing::error!(
            kind = kind.label(),
            %reason,
            "the store cannot write ({kind}); serving what it holds, polls fail until it can"
        );
        *current = Some(Fault {
            kind,
            reason: reason.to_owned(),
            since: Utc::now(),
        });
    }

    /// Records that the store works again; logged once, when it had failed.
    pub(super) fn cleared(&self) {
        let mut current = self.current();
        if let Some(fault) = current.take() {
            tracing::info!(kind = fault.kind.label(), since = %fault.since, "the store writes again");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// sled's copies of its first write error carry the original only as debug text; the
    /// kind and the sentence are read from the OS number in it.
    #[test]
    fn faults_are_typed_and_said_once() {
        let copied = std::io::Error::other(format!("{:?}", std::io::Error::from_raw_os_error(28)));
        let cases = [
            (std::io::Error::from_raw_os_error(28), FaultKind::Full),
            (copied, FaultKind::Full),
            (std::io::Error::from_raw_os_error(122), FaultKind::Full),
            (std::io::Error::from_raw_os_error(13), FaultKind::Permission),
            (std::io::Error::from_raw_os_error(30), FaultKind::Permission),
            (std::io::Error::from_raw_os_error(2), FaultKind::Gone),
            (std::io::Error::from_raw_os_error(5), FaultKind::Io),
        ];
        for (io, kind) in cases {
            let shown = format!("{io:?}");
            let (got, reason) = classify(&sled::Error::Io(io));
            assert_eq!(got, kind, "{shown}");
            assert!(
                reason.ends_with(" (os error ") || reason.contains("(os error "),
                "{reason}"
            );
            assert!(!reason.contains("Os {"), "{reason}");
        }
        let (kind, reason) = classify(&sled::Error::Io(std::io::Error::from_raw_os_error(28)));
        assert_eq!(
            (kind, reason.as_str()),
            (FaultKind::Full, "No space left on device (os error 28)")
        );
    }
}
