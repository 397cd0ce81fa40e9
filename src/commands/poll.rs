//! `sosik poll`: the table of what each poll did, and the line that sums it up.

use std::io::Write;
use std::sync::Arc;

use crate::app::PollRun;
use crate::pipeline::{PollOutcome, PollReport};

/// Prints the polls' table and summary (the close's failure on `err`); exit code 0 when every
/// poll succeeded and the store was written, else 1.
pub fn print_poll(run: &PollRun, out: &mut dyn Write, err: &mut dyn Write) -> anyhow::Result<u8> {
    let reports = &run.reports;
    print_poll_table(out, reports)?;
    let failed = reports.iter().filter(|r| !r.outcome.is_success()).count();
    let (new, updated) = reports.iter().fold((0, 0), |(n, u), r| match &r.outcome {
        PollOutcome::Stored { counts, .. } => (n + counts.new, u + counts.updated),
        _ => (n, u),
    });
    writeln!(
        out,
        "{} sources: {} ok, {} failed; {new} new, {updated} updated; {} stories stored{}",
        reports.len(),
        reports.len() - failed,
        failed,
        run.stored,
        if run.forgotten > 0 {
            format!(" ({} past retention forgotten)", run.forgotten)
        } else {
            String::new()
        }
    )?;
    if let Some(error) = &run.close_error {
        writeln!(err, "error: {error}")?;
    }
    Ok(if failed == 0 && run.close_error.is_none() {
        0
    } else {
        1
    })
}

fn print_poll_table(out: &mut dyn Write, reports: &[Arc<PollReport>]) -> std::io::Result<()> {
    let width = reports
        .iter()
        .map(|r| r.source.as_str().len())
        .max()
        .unwrap_or(6)
        .max(6);
    writeln!(
        out,
        "{:width$}  {:<8} {:>5} {:>8} {:>6} {:>7}  DETAIL",
        "SOURCE", "RESULT", "NEW", "UPDATED", "ITEMS", "TIME"
    )?;
    for r in reports {
        let time = format!("{:.2}s", r.elapsed.as_secs_f64());
        let source = r.source.as_str();
        match &r.outcome {
            PollOutcome::Stored {
                status,
                counts,
                items,
                encoding,
            } => writeln!(
                out,
                "{source:width$}  {:<8} {:>5} {:>8} {:>6} {time:>7}  {encoding}",
                format!("ok {status}"),
                counts.new,
                counts.updated,
                items,
            )?,
            PollOutcome::NotModified => {
                let detail = "not modified";
                writeln!(
                    out,
                    "{source:width$}  {:<8} {:>5} {:>8} {:>6} {time:>7}  {detail}",
                    "ok 304", "-", "-", "-"
                )?
            }
            PollOutcome::Gone => {
                let detail = "the feed is gone (410); polling stopped";
                writeln!(
                    out,
                    "{source:width$}  {:<8} {:>5} {:>8} {:>6} {time:>7}  {detail}",
                    "gone", "-", "-", "-"
                )?
            }
            PollOutcome::Failed(e) => writeln!(
                out,
                "{source:width$}  {:<8} {:>5} {:>8} {:>6} {time:>7}  {e}",
                "failed", "-", "-", "-"
            )?,
        }
    }
    Ok(())
}
