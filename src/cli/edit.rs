//! The commands that change the config file (`add`, `import`, `remove`): each a library call
//! (`discover`, `import`, `config::edit`), formatted here; a running daemon then reloads.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Result, bail};

use sosik::config::Config;

pub async fn import(config: &Config, file: &std::path::Path, tags: &[String]) -> Result<ExitCode> {
    use sosik::config::edit::{ConfigFile, NewSource, slug_of};
    let shown = file.display();
    let bytes = std::fs::read(file).map_err(|e| anyhow::anyhow!("cannot read {shown}: {e}"))?;
    let feeds = sosik::import::read_opml(&bytes)
        .map_err(|e| anyhow::anyhow!("cannot import {shown}: {e}"))?;
    if feeds.is_empty() {
        bail!("{shown} lists no feeds (no <outline> with an xmlUrl)");
    }
    let mut edit = ConfigFile::open(&config.file)?;
    let mut out = std::io::stdout().lock();
    let mut added: Vec<String> = Vec::new();
    let mut skipped = 0;
    for feed in feeds {
        let why_not = match url::Url::parse(&feed.url) {
            Err(e) => Some(format!("not a URL ({e})")),
            Ok(u) if !matches!(u.scheme(), "http" | "https") => Some("not an http(s) URL".into()),
            Ok(_) => edit
                .source_with_url(&feed.url)
                .map(|id| format!("already configured as {id}")),
        };
        if let Some(why) = why_not {
            writeln!(out, "skipped  {}  ({why})", feed.url)?;
            skipped += 1;
            continue;
        }
        let id = edit.unique_id(&slug_of(&feed.url), &added);
        let mut all_tags = feed.folders.clone();
        all_tags.extend(tags.iter().cloned());
        all_tags.dedup();
        edit.add_source(&NewSource {
            id: id.clone(),
            url: feed.url.clone(),
            title: feed.title.clone(),
            tags: all_tags,
            interval: None,
        });
        writeln!(out, "added    {id}  {}", feed.url)?;
        added.push(id);
    }
    if !added.is_empty() {
        edit.save().map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    writeln!(
        out,
        "{} added, {skipped} skipped; {}",
        added.len(),
        config.file.display()
    )?;
    drop(out);
    if !added.is_empty() {
        super::tell_daemon(config).await?;
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn remove(config: &Config, id: &str) -> Result<ExitCode> {
    let mut edit = sosik::config::edit::ConfigFile::open(&config.file)?;
    if config.source(id).is_none() || !edit.remove_source(id) {
        eprintln!("error: no source {id:?} in {}", config.file.display());
        return Ok(ExitCode::from(1));
    }
    edit.save().map_err(|e| anyhow::anyhow!("{e}"))?;
    println!(
        "removed {id} from {}; its stories stay until retention",
        config.file.display()
    );
    super::tell_daemon(config).await?;
    Ok(ExitCode::SUCCESS)
}

/// `sosik add`'s arguments.
#[derive(Debug, clap::Args)]
pub struct AddArgs {
    /// A feed's URL, or a page that links to its feeds.
    url: String,
    /// The source's id (default: a slug of the feed's host).
    #[arg(long)]
    id: Option<String>,
    /// The source's title (default: the feed's own).
    #[arg(long)]
    title: Option<String>,
    /// Tag the source with this (repeatable).
    #[arg(long = "tag", value_name = "TAG")]
    tags: Vec<String>,
    /// Poll it this often (`30m`, `2h`; default: poll.interval).
    #[arg(long)]
    interval: Option<String>,
    /// When the page has several feeds: add the Nth of the list.
    #[arg(long, value_name = "N")]
    pick: Option<usize>,
}

pub async fn add(config: &Config, args: AddArgs) -> Result<ExitCode> {
    use sosik::config::edit::{ConfigFile, NewSource, slug_of};
    let failed = |message: String| {
        eprintln!("error: {message}");
        Ok(ExitCode::from(1))
    };
    let url = match url::Url::parse(&args.url) {
        Ok(url) if matches!(url.scheme(), "http" | "https") => url,
        _ => return failed(format!("{} is not an http(s) URL", args.url)),
    };
    let fetcher = sosik::fetch::Fetcher::new(sosik::pipeline::fetch_settings(config))?;
    let max_items = config.store.max_items_per_source;
    let found = match sosik::discover::find_feeds(&fetcher, &url, max_items).await {
        Ok(found) => found,
        Err(e) => return failed(format!("cannot fetch {url}: {e}")),
    };
    let feed = match (found.feeds.as_slice(), args.pick) {
        ([], _) => {
            let paths = sosik::discover::COMMON_PATHS.join(", ");
            return failed(format!(
                "no feed found at {url} (looked for <link rel=alternate> and {paths})"
            ));
        }
        ([one], None | Some(1)) => one,
        (many, Some(n)) if (1..=many.len()).contains(&n) => &many[n - 1],
        (many, pick) => {
            let mut out = std::io::stdout().lock();
            for (n, feed) in many.iter().enumerate() {
                let title = feed.title.as_deref().unwrap_or("no title");
                writeln!(out, "{}  {}  ({title})", n + 1, feed.url)?;
            }
            return failed(match pick {
                Some(n) => format!("--pick {n}: {url} has {} feeds", many.len()),
                None => format!("{url} has {} feeds: choose one with --pick N", many.len()),
            });
        }
    };
    let mut edit = ConfigFile::open(&config.file)?;
    let configured = [&feed.url, &feed.final_url]
        .into_iter()
        .find_map(|u| edit.source_with_url(u.as_str()));
    if let Some(id) = configured {
        return failed(format!("{} is already configured as {id}", feed.url));
    }
    let id = match args.id {
        Some(id) if edit.source_ids().contains(&id) => {
            return failed(format!("a source {id:?} is already configured"));
        }
        Some(id) => id,
        None => edit.unique_id(&slug_of(feed.url.as_str()), &[]),
    };
    edit.add_source(&NewSource {
        id: id.clone(),
        url: feed.url.to_string(),
        title: args.title.or_else(|| feed.title.clone()),
        tags: args.tags,
        interval: args.interval,
    });
    edit.save().map_err(|e| anyhow::anyhow!("{e}"))?;
    println!("added {id} {}", feed.url);
    super::tell_daemon(config).await?;
    Ok(ExitCode::SUCCESS)
}
