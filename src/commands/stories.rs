//! `sosik items`, `sosik render` and `sosik export`: what the store and the publisher hold.

use std::io::Write;

use anyhow::bail;
use serde_json::json;

use super::{Ctx, local_time, rfc3339};
use crate::model::Story;
use crate::publish::{Told, with_copies};
use crate::store::StoreError;

/// Prints the stored stories, newest first (of an output, a source, or all), at most `limit`:
/// with `--output`, the output's items (each merged story once, naming its other copies);
/// otherwise every stored copy, naming the other copies of its story.
pub fn print_items(
    ctx: &Ctx,
    output: Option<&str>,
    source: Option<&str>,
    limit: Option<usize>,
    json: bool,
    out: &mut dyn Write,
) -> anyhow::Result<u8> {
    let (config, store) = (&ctx.config, &ctx.store);
    let limit = limit.unwrap_or(usize::MAX);
    let told: Box<dyn Iterator<Item = Result<Told, StoreError>>> = match (output, source) {
        // What the output shows, as the publisher selects it, without its limit: `items`
        // lists everything unless `--limit`.
        (Some(name), _) => {
            if config.output(name).is_none() {
                bail!("no output {name:?} in {}", config.file.display())
            }
            Box::new(ctx.publisher.told(name)?)
        }
        (None, Some(id)) => {
            let Some(src) = config.source(id) else {
                bail!("no source {id:?} in {}", config.file.display())
            };
            Box::new(
                store
                    .newest_for_source(&src.id)
                    .map(|s| with_copies(store, s?)),
            )
        }
        (None, None) => Box::new(store.newest().map(|s| with_copies(store, s?))),
    };
    for told in told.take(limit) {
        let Told { story, copies } = told?;
        if json {
            let mut line = story_json(&story);
            let copies: Vec<_> = (copies.iter())
                .map(|c| json!({"link": c.link, "source": c.source.as_str()}))
                .collect();
            line["copies"] = serde_json::Value::Array(copies);
            writeln!(out, "{line}")?;
        } else {
            let sources: Vec<&str> = story.sources.iter().map(|s| s.id.as_str()).collect();
            writeln!(
                out,
                "{}  [{}]  {}  {}",
                local_time(story.published, None),
                sources.join(","),
                story.title,
                story.link.as_deref().unwrap_or("-")
            )?;
        }
    }
    Ok(0)
}

/// A story as `items --json` prints it (without its copies).
pub fn story_json(story: &Story) -> serde_json::Value {
    let sources: Vec<&str> = story.sources.iter().map(|s| s.id.as_str()).collect();
    json!({
        "id": story.identity.republished_guid().0,
        "link": story.link,
        "title": story.title,
        "published": rfc3339(story.published),
        "updated": rfc3339(story.updated),
        "categories": story.categories,
        "authors": story.authors,
        "sources": sources,
    })
}

/// Prints the output `name` in `format`, byte for byte what HTTP serves.
pub fn print_render(
    ctx: &Ctx,
    name: &str,
    format: &str,
    out: &mut dyn Write,
) -> anyhow::Result<u8> {
    let format: crate::render::Format = format
        .parse()
        .map_err(|_| anyhow::anyhow!("--format must be rss, atom or json, not {format:?}"))?;
    let rendered = ctx.publisher.render(name, format)?;
    out.write_all(&rendered.bytes)?;
    Ok(0)
}

/// Prints the sources as the OPML 2.0 that `/sources.opml` serves.
pub fn print_export(ctx: &Ctx, out: &mut dyn Write) -> anyhow::Result<u8> {
    out.write_all(ctx.publisher.sources_opml()?.as_bytes())?;
    Ok(0)
}
