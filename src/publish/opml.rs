//! The sources as OPML 2.0: what `/sources.opml` serves and `sosik export` prints.

use super::{PublishError, Publisher, published_url};

impl Publisher {
    /// OPML 2.0 of the configured sources, titled as the feeds title them, with the
    /// configured URL and the tags as `category`. `htmlUrl` is left out: the store does not
    /// keep a feed's site link. A source without a publishable URL (a `file:` path on this
    /// machine) is a plain outline with its title and tags and no `type` or `xmlUrl`: still
    /// listed (so a config of `file:` sources, like the demo's, still gives the outlines OPML
    /// requires), subscribing to nothing, since importers take only outlines with an
    /// `xmlUrl`. What `/sources.opml` serves and `sosik export` prints. Blocking.
    pub fn sources_opml(&self) -> Result<String, PublishError> {
        let info = self.source_info()?;
        let mut document = opml::OPML {
            head: Some(opml::Head {
                title: Some("sosik sources".to_owned()),
                ..opml::Head::default()
            }),
            ..opml::OPML::default()
        };
        for source in &self.config().sources {
            let xml_url = published_url(&source.url);
            let title = info
                .get(&source.id)
                .map_or_else(|| source.id.to_string(), |i| i.title.clone());
            // OPML categories are comma-separated: a comma inside a tag would split it.
            let tags: Vec<String> = source.tags.iter().map(|t| t.replace(',', " ")).collect();
            document.body.outlines.push(opml::Outline {
                text: title.clone(),
                title: Some(title),
                r#type: xml_url.is_some().then(|| "rss".to_owned()),
                xml_url,
                category: (!tags.is_empty()).then(|| tags.join(",")),
                ..opml::Outline::default()
            });
        }
        let xml = document
            .to_string()
            .map_err(|e| PublishError::Opml(e.to_string()))?;
        Ok(format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{xml}\n"
        ))
    }
}
