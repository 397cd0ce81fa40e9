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
    source: String,
    hours: f64,
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
    let mut closest_negative = f64::MIN;
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
            if !likeness.conflict {
                closest_negative = closest_negative.max(likeness.score());
            }
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
        "recall {found}/{positives} = {:.1}%; hard negatives merged {merged}/{negatives}; the closest hard negative scores {closest_negative:.3} (merging from {})",
        recall * 100.0,
        sosik::similar::SAME_EVENT
    );
    println!("misjudged:\n{}", wrong.join("\n"));
    assert!(positives >= 150 && negatives >= 150, "the set is too small");
    assert_eq!(merged, 0, "hard negatives merged:\n{}", wrong.join("\n"));
    assert!(recall >= 0.85, "recall {recall:.3}:\n{}", wrong.join("\n"));
}

/// Every copy of the set through the index (`similar::index`), in the order the copies were
/// first seen, as the daemon meets them: each joins the cluster of its first candidate that tells the same event
/// (never a cluster that has a copy from its own source), else starts its own. The index's
/// rare-gram filing must find the copies the rule would merge, and nothing may be merged
/// across pairs, which are different events by construction.
#[test]
fn merging_in_arrival_order_through_the_index_finds_the_pairs_and_nothing_else() {
    use sosik::model::StoryKey;
    use sosik::similar::index::Index;
    use std::collections::{HashMap, HashSet};

    let pairs = pairs();
    // (first seen, pair, side, source, fingerprint)
    let mut copies = Vec::new();
    for (i, p) in pairs.iter().enumerate() {
        for (side, copy) in [(0u8, &p.a), (1, &p.b)] {
            let fp = Fingerprint::of(&copy.title, &copy.summary);
            let at = (copy.hours * 3600.0) as i64;
            copies.push((at, i, side, copy.source.clone(), fp));
        }
    }
    copies.sort_by_key(|c| (c.0, c.1, c.2));
    let key = |pair: usize, side: u8| {
        let mut k = [0u8; 16];
        k[..8].copy_from_slice(&(pair as u64).to_le_bytes());
        k[8] = side;
        StoryKey(k)
    };
    let mut index = Index::new(48 * 3600);
    let mut prints: HashMap<StoryKey, &Fingerprint> = HashMap::new();
    let mut cluster_of: HashMap<StoryKey, StoryKey> = HashMap::new();
    let mut sources_of: HashMap<StoryKey, HashSet<String>> = HashMap::new();
    let mut members: HashMap<StoryKey, Vec<StoryKey>> = HashMap::new();
    for (at, pair, side, source, fp) in &copies {
        let me = key(*pair, *side);
        index.count(fp);
        let mut joined = me;
        // As `pipeline::merge` does: candidates sharing two filed grams, the best three.
        let likely = index
            .candidates(source, *at, fp)
            .into_iter()
            .filter(|c| c.grams >= 2);
        for candidate in likely.take(3) {
            let cluster = cluster_of[&candidate.key];
            if sources_of[&cluster].contains(source) {
                continue;
            }
            // One event states one set of figures: no member may conflict with the newcomer.
            let agrees = members[&cluster]
                .iter()
                .all(|m| !prints[m].figures.conflict(&fp.figures));
            if agrees && Likeness::of(fp, prints[&candidate.key], index.weights()).same_event() {
                joined = cluster;
                break;
            }
        }
        cluster_of.insert(me, joined);
        members.entry(joined).or_default().push(me);
        sources_of.entry(joined).or_default().insert(source.clone());
        prints.insert(me, fp);
        index.insert(me, source, *at, fp);
    }
    let (mut positives, mut found, mut negatives_merged) = (0, 0, 0);
    let mut missed = Vec::new();
    for (i, p) in pairs.iter().enumerate() {
        let together = cluster_of[&key(i, 0)] == cluster_of[&key(i, 1)];
        if p.label == "same" {
            positives += 1;
            found += usize::from(together);
            if !together {
                missed.push(p.id.clone());
            }
        } else {
            negatives_merged += usize::from(together);
        }
    }
    let mut across = Vec::new();
    for (k, cluster) in &cluster_of {
        if k.0[..8] != cluster.0[..8] {
            let side = |k: &StoryKey| {
                let pair = &pairs[u64::from_le_bytes(k.0[..8].try_into().unwrap()) as usize];
                let copy = if k.0[8] == 0 { &pair.a } else { &pair.b };
                format!("{} {}", pair.id, copy.title)
            };
            across.push(format!("{} joined {}", side(k), side(cluster)));
        }
    }
    let recall = found as f64 / positives as f64;
    println!(
        "through the index: recall {found}/{positives} = {:.1}%; hard negatives merged {negatives_merged}; merged across pairs {}; {} bytes per story",
        recall * 100.0,
        across.len(),
        Index::bytes_per_story()
    );
    println!("missed: {}", missed.join(" "));
    assert_eq!(negatives_merged, 0);
    assert!(across.is_empty(), "merged across pairs: {across:?}");
    // The gram weights are a sketch counted as the copies arrive, and a candidate must share
    // two of the four grams it is filed under: below the pairwise rule's recall (84.0% against
    // 87.0% in the labelled set).
    assert!(recall >= 0.83, "recall {recall:.3}; missed {missed:?}");
}
