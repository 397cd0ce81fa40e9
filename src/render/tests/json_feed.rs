//! JSON Feed 1.1 schema rules, checked by hand with serde_json (no JSON-schema crate).

use std::collections::HashSet;
use std::path::Path;

use serde_json::Value;

use super::*;

/// Keys JSON Feed 1.1 defines (schema-v1.1.json); anything else must be an `_extension`.
const JSON_TOP_KEYS: &[&str] = &[
    "version",
    "title",
    "home_page_url",
    "feed_url",
    "description",
    "user_comment",
    "next_url",
    "icon",
    "favicon",
    "author",
    "authors",
    "language",
    "expired",
    "hubs",
    "items",
];
const JSON_ITEM_KEYS: &[&str] = &[
    "id",
    "url",
    "external_url",
    "title",
    "content_html",
    "content_text",
    "summary",
    "image",
    "banner_image",
    "date_published",
    "date_modified",
    "author",
    "authors",
    "tags",
    "language",
    "attachments",
];

/// The JSON Feed 1.1 rules checked by hand; every broken rule is one message.
fn json_feed_violations(doc: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    let mut check = |ok: bool, what: String| {
        if !ok {
            errors.push(what)
        }
    };
    let is_extension = |key: &str, value: &Value| {
        let mut chars = key.chars();
        chars.next() == Some('_')
            && chars.next().is_some_and(|c| c.is_ascii_alphabetic())
            && !key.contains('.')
            && value.is_object()
    };
    let is_url = |v: &Value| v.as_str().is_some_and(|s| url::Url::parse(s).is_ok());
    let is_date = |v: &Value| {
        v.as_str()
            .is_some_and(|s| DateTime::parse_from_rfc3339(s).is_ok())
    };
    let Some(top) = doc.as_object() else {
        return vec!["not an object".into()];
    };
    check(
        top.get("version").and_then(Value::as_str) == Some("https://jsonfeed.org/version/1.1"),
        "version".into(),
    );
    check(
        top.get("title").is_some_and(Value::is_string),
        "title".into(),
    );
    for (key, value) in top {
        check(
            JSON_TOP_KEYS.contains(&key.as_str()) || is_extension(key, value),
            format!("unknown key {key}"),
        );
    }
    for key in ["home_page_url", "feed_url"] {
        check(
            top.get(key).is_none_or(is_url),
            format!("{key} is not a URL"),
        );
    }
    let Some(items) = top.get("items").and_then(Value::as_array) else {
        check(false, "items is not an array".into());
        return errors;
    };
    let mut ids = HashSet::new();
    for (i, item) in items.iter().enumerate() {
        let Some(item) = item.as_object() else {
            check(false, format!("item {i} is not an object"));
            continue;
        };
        let id = item.get("id").and_then(Value::as_str);
        check(id.is_some(), format!("item {i} has no string id"));
        check(
            id.is_none_or(|id| ids.insert(id.to_owned())),
            format!("item {i}: id not unique"),
        );
        let has_content = ["content_html", "content_text"]
            .iter()
            .any(|k| item.get(*k).is_some_and(Value::is_string));
        check(has_content, format!("item {i} has no content"));
        for (key, value) in item {
            check(
                JSON_ITEM_KEYS.contains(&key.as_str()) || is_extension(key, value),
                format!("item {i}: unknown key {key}"),
            );
        }
        for key in ["date_published", "date_modified"] {
            check(
                item.get(key).is_none_or(is_date),
                format!("item {i}: {key} is not RFC 3339"),
            );
        }
        check(item.get("url").is_none_or(is_url), format!("item {i}: url"));
        let authors_ok = item.get("authors").is_none_or(|a| {
            a.as_array().is_some_and(|a| {
                a.iter()
                    .all(|p| p.get("name").is_some_and(Value::is_string))
            })
        });
        check(authors_ok, format!("item {i}: authors"));
        let tags_ok = item
            .get("tags")
            .is_none_or(|t| t.as_array().is_some_and(|t| t.iter().all(Value::is_string)));
        check(tags_ok, format!("item {i}: tags"));
    }
    errors
}

#[test]
fn json_feed_follows_the_schema_rules() {
    for stories in [stories(), vec![]] {
        let out = render_with(Format::Json, &meta(), &stories);
        let doc: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(
            json_feed_violations(&doc),
            Vec::<String>::new(),
            "{}",
            text(&out)
        );
        assert_eq!(doc["items"].as_array().unwrap().len(), stories.len());
    }
    let doc: Value =
        serde_json::from_slice(&render_with(Format::Json, &meta(), &stories())).unwrap();
    assert_eq!(doc["items"][0]["language"], "ko");
    assert_eq!(doc["items"][0]["date_modified"], "2025-02-03T01:30:00Z");
    assert_eq!(
        doc["items"][0]["_sosik"]["sources"],
        serde_json::json!(["mk-all", "blog"])
    );
    assert!(
        doc["items"][1].get("summary").is_none(),
        "no summary HTML, no summary"
    );
}

#[test]
fn json_checker_catches_broken_feeds() {
    let good = serde_json::json!({"version": "https://jsonfeed.org/version/1.1", "title": "t",
        "items": [{"id": "1", "content_text": "x"}]});
    assert!(json_feed_violations(&good).is_empty());
    let table = [
        (
            "/version",
            serde_json::json!("https://jsonfeed.org/version/2"),
        ),
        ("/title", Value::Null),
        ("/items/0/id", serde_json::json!(1)),
        ("/items/0/content_text", Value::Null),
        (
            "/items/0/date_published",
            serde_json::json!("2025-02-03 09:00"),
        ),
        ("/items/0/_bad.ext", serde_json::json!({})),
        (
            "/items",
            serde_json::json!([{"id": "1", "content_text": "x"}, {"id": "1", "content_text": "y"}]),
        ),
    ];
    for (pointer, value) in table {
        let mut bad = good.clone();
        let (parent, key) = pointer.rsplit_once('/').unwrap();
        bad.pointer_mut(parent)
            .unwrap()
            .as_object_mut()
            .unwrap()
            .insert(key.into(), value);
        assert!(
            !json_feed_violations(&bad).is_empty(),
            "{pointer} should be caught: {bad}"
        );
    }
}

#[test]
fn json_key_lists_match_the_published_schema() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/corpus/jsonfeed-schema/schema-v1.1.json");
    let Ok(schema) = std::fs::read(&path) else {
        eprintln!("skipped: {} is not there", path.display());
        return;
    };
    let schema: Value = serde_json::from_slice(&schema).unwrap();
    let keys = |v: &Value| -> HashSet<String> { v.as_object().unwrap().keys().cloned().collect() };
    let set = |k: &[&str]| -> HashSet<String> { k.iter().map(|s| s.to_string()).collect() };
    assert_eq!(keys(&schema["properties"]), set(JSON_TOP_KEYS));
    assert_eq!(
        keys(&schema["properties"]["items"]["items"]["properties"]),
        set(JSON_ITEM_KEYS)
    );
    assert_eq!(
        schema["required"],
        serde_json::json!(["version", "title", "items"])
    );
}
