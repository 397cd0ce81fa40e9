//! The near-duplicate rule measured on our labelled pairs (`tests/data/merge/pairs.jsonl`,
//! written for this project: the same event told by two outlets, and hard negatives that look
//! alike but are different events). A wrong merge hides news, so precision on the negatives
//! must be 100%; recall on the positives at least 85%. The figures are printed for the README.

use std::collections::BTreeMap;

use sosik::similar::{Fingerprint, Likeness, Weights};

#[derive(serde::Deserialize)]
struct Pair {
    id: String,
    label: String,
    kind: String,
    lang: String,
    a: Copy,
    b: Copy,
}

#[derive(serde::Deserialize)]
struct Copy {
    title: String,
    summary: String,
}

fn pairs() -> Vec<Pair> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/merge/pairs.jsonl");
    let text = std::fs::read_to_string(path).expect("the labelled pairs");
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[test]
fn the_merge_rule_keeps_every_hard_negative_apart_and_finds_most_rewrites() {
    let pairs = pairs();
    let prints: Vec<(Fingerprint, Fingerprint)> = pairs
        .iter()
        .map(|p| {
            (
                Fingerprint::of(&p.a.title, &p.a.summary),
                Fingerprint::of(&p.b.title, &p.b.summary),
            )
        })
        .collect();
    // Rarity over every copy in the set, as the daemon counts it over the stories in its window.
    let mut weights = Weights::default();
    for (a, b) in &prints {
        weights.add(&a.grams);
        weights.add(&b.grams);
    }
    // kind -> (pairs, judged same)
    let mut table: BTreeMap<(String, String), (usize, usize)> = BTreeMap::new();
    let mut wrong = Vec::new();
    let (mut positives, mut found, mut negatives, mut merged) = (0, 0, 0, 0);
    for (pair, (a, b)) in pairs.iter().zip(&prints) {
        let likeness = Likeness::of(a, b, &weights);
        let same = likeness.same_event();
        if std::env::var_os("SOSIK_DUMP_LIKENESS").is_some() {
            eprintln!(
                "DUMP,{},{},{},{},{:.3},{:.3},{:.3},{},{},{:.3}",
                pair.id,
                pair.label,
                pair.kind,
                pair.lang,
                likeness.text,
                likeness.overlap,
                likeness.title,
                likeness.shared_figures,
                likeness.conflict,
                likeness.novel
            );
        }
        let row = table
            .entry((pair.label.clone(), format!("{} {}", pair.kind, pair.lang)))
            .or_default();
        row.0 += 1;
        row.1 += usize::from(same);
        if pair.label == "same" {
            positives += 1;
            found += usize::from(same);
        } else {
            negatives += 1;
            merged += usize::from(same);
        }
        if same != (pair.label == "same") {
            wrong.push(format!(
                "{} {} {} {}: score {:.2} (overlap {:.2}, novel {:.2}, shared figures {}), conflict {}",
                pair.id,
                pair.label,
                pair.kind,
                pair.lang,
                likeness.score(),
                likeness.overlap,
                likeness.novel,
                likeness.shared_figures,
                likeness.conflict
            ));
        }
    }
    println!("label      kind                pairs  judged same");
    for ((label, kind), (n, same)) in &table {
        println!("{label:10} {kind:20} {n:5}  {same:5}");
    }
    let recall = found as f64 / positives as f64;
    println!(
        "recall {found}/{positives} = {:.1}%; hard negatives merged {merged}/{negatives}",
        recall * 100.0
    );
    println!("misjudged:\n{}", wrong.join("\n"));
    assert!(positives >= 150 && negatives >= 150, "the set is too small");
    assert_eq!(merged, 0, "hard negatives merged:\n{}", wrong.join("\n"));
    assert!(recall >= 0.85, "recall {recall:.3}:\n{}", wrong.join("\n"));
}
