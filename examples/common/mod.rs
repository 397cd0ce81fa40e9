//! Helpers the benchmark examples share: reading the corpus and timing runs.

#![allow(dead_code)] // each example uses its own part of these

use std::path::Path;
use std::time::{Duration, Instant};

/// Every `*.xml` in `dir`, by name, with its stem.
pub fn read_feeds(dir: &Path) -> std::io::Result<Vec<(String, Vec<u8>)>> {
    let mut paths: Vec<_> = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    paths.retain(|p| p.extension().is_some_and(|e| e == "xml"));
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let stem = p
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            Ok((stem, std::fs::read(&p)?))
        })
        .collect()
}

/// UTF-8 text with an XML declaration feed-rs reads correctly: a document declared `euc-kr`
/// is decoded as EUC-KR and its declaration rewritten; the others are checked as UTF-8.
pub fn to_utf8(bytes: &[u8]) -> String {
    let head = &bytes[..bytes.len().min(100)];
    let declared_euc_kr = head
        .windows(16)
        .any(|w| w.eq_ignore_ascii_case(b"encoding=\"euc-kr"));
    if declared_euc_kr {
        let (text, _) = encoding_rs::EUC_KR.decode_without_bom_handling(bytes);
        text.replacen("encoding=\"euc-kr\"", "encoding=\"UTF-8\"", 1)
    } else {
        String::from_utf8(bytes.to_vec()).expect("UTF-8 feeds are valid UTF-8")
    }
}

/// feed-rs with its defaults over every text; the number of items read.
pub fn feed_rs_parse_all(texts: &[String]) -> usize {
    texts
        .iter()
        .map(|text| {
            feed_rs::parser::parse(text.as_bytes())
                .expect("the corpus parses")
                .entries
                .len()
        })
        .sum()
}

/// Runs `work` `runs` times and returns the median duration.
pub fn median(runs: usize, mut work: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..runs.max(1))
        .map(|_| {
            let started = Instant::now();
            work();
            started.elapsed()
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}
