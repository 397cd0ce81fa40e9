//! The per-source cap and retention.

use super::*;

#[test]
fn the_cap_keeps_the_newest_per_source_and_spares_shared_stories() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let a: Vec<Story> = (1..=5)
        .map(|d| story("a", d, &format!("a{d}"), d))
        .collect();
    commit(&store, "a", &a, at(5));
    commit(&store, "b", &[story("b", 1, "a1", 1)], at(5));
    let removed = store
        .enforce_cap(&SourceId::new("a").unwrap(), 2, &HashSet::new())
        .unwrap();
    assert_eq!(removed, 3);
    // a1 is still carried by b, so it stays, listed for b only.
    assert_eq!(titles(&store), vec!["a5", "a4", "a1"]);
    assert_eq!(titles_for(&store, "a").len(), 2);
}

#[test]
fn retention_forgets_old_stories_but_not_ones_still_in_a_feed() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    commit(
        &store,
        "a",
        &[
            story("a", 1, "old", 1),
            story("a", 2, "kept", 1),
            story("a", 3, "young", 20),
        ],
        at(20),
    );
    let protect: HashSet<_> = [story("a", 2, "", 1).key()].into();
    let removed = store
        .prune_older_than(at(25), Duration::from_secs(10 * 86_400), &protect)
        .unwrap();
    assert_eq!(removed, 1);
    assert_eq!(titles(&store), vec!["young", "kept"]);
    assert_eq!(titles_for(&store, "a").len(), 2);
}
