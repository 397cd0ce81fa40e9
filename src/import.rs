//! Reading the OPML that feed readers export, leniently: every `<outline>` with an `xmlUrl`
//! is a feed; the folders around it (outlines without one) become its tags; its `title`, else
//! its `text`, its title. A missing `text` or `version`, a `type="rss"` on a folder, attribute
//! names in any case, and any charset our feed decoder reads (a BOM, the XML declaration,
//! detection) are all accepted: readers write all of these. Pure: bytes in, feeds out.

use quick_xml::events::{BytesStart, Event};

use crate::decode::decode;

/// One feed an OPML document lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpmlFeed {
    /// Its `xmlUrl`.
    pub url: String,
    /// Its `title`, else its `text`; `None` when both are missing or blank.
    pub title: Option<String>,
    /// The titles of the folders it sits in, outermost first.
    pub folders: Vec<String>,
}

/// Why an OPML document could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The bytes are not text in a charset we read.
    #[error("it cannot be decoded: {0}")]
    Decode(#[from] crate::decode::DecodeError),
    /// The text is not XML, or not OPML.
    #[error("it is not an OPML document: {0}")]
    NotOpml(String),
}

/// The feeds of an OPML document, in document order.
pub fn read_opml(bytes: &[u8]) -> Result<Vec<OpmlFeed>, ImportError> {
    let text = decode(bytes, None, None)?.text;
    let mut reader = quick_xml::Reader::from_str(&text);
    let mut feeds = Vec::new();
    // One entry per open outline: its folder title, or `None` for a feed with children.
    let mut open: Vec<Option<String>> = Vec::new();
    let mut saw_opml = false;
    loop {
        let event = reader.read_event().map_err(|e| {
            ImportError::NotOpml(format!("{e} at byte {}", reader.buffer_position()))
        })?;
        match event {
            Event::Start(tag) | Event::Empty(tag) if is(&tag, "opml") => saw_opml = true,
            Event::Start(tag) if is(&tag, "outline") => {
                let outline = Outline::of(&tag);
                open.push(outline.folder_title());
                outline.push_feed(&open[..open.len() - 1], &mut feeds);
            }
            Event::Empty(tag) if is(&tag, "outline") => {
                Outline::of(&tag).push_feed(&open, &mut feeds);
            }
            Event::End(tag)
                if tag
                    .local_name()
                    .into_inner()
                    .eq_ignore_ascii_case("outline") =>
            {
                open.pop();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !saw_opml {
        return Err(ImportError::NotOpml("it has no <opml> element".to_owned()));
    }
    Ok(feeds)
}

fn is(tag: &BytesStart<'_>, name: &str) -> bool {
    tag.local_name().into_inner().eq_ignore_ascii_case(name)
}

/// The attributes of one `<outline>` that matter here.
struct Outline {
    xml_url: Option<String>,
    title: Option<String>,
    text: Option<String>,
}

impl Outline {
    fn of(tag: &BytesStart<'_>) -> Outline {
        let mut outline = Outline {
            xml_url: None,
            title: None,
            text: None,
        };
        for attribute in tag.attributes().flatten() {
            let Ok(value) = attribute.normalized_value(quick_xml::XmlVersion::Implicit1_0) else {
                continue;
            };
            let value = value.trim().to_owned();
            let name = attribute.key.local_name().into_inner().to_ascii_lowercase();
            let slot = match name.as_str() {
                "xmlurl" => &mut outline.xml_url,
                "title" => &mut outline.title,
                "text" => &mut outline.text,
                _ => continue,
            };
            if !value.is_empty() {
                *slot = Some(value);
            }
        }
        outline
    }

    /// The title to show: `title`, else `text`.
    fn name(&self) -> Option<String> {
        self.title.clone().or_else(|| self.text.clone())
    }

    /// A folder's title for the outlines inside it; `None` for a feed (whatever its `type`).
    fn folder_title(&self) -> Option<String> {
        if self.xml_url.is_some() {
            return None;
        }
        self.name()
    }

    fn push_feed(&self, open: &[Option<String>], feeds: &mut Vec<OpmlFeed>) {
        if let Some(url) = &self.xml_url {
            feeds.push(OpmlFeed {
                url: url.clone(),
                title: self.name(),
                folders: open.iter().flatten().cloned().collect(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_folders_become_tags_and_leniency_holds() {
        let doc = r#"<?xml version="1.0" encoding="euc-kr"?>
<opml><head><title>구독</title></head><body>
  <outline text="경제" type="rss">
    <outline text="매일경제 전체" xmlUrl="https://www.mk.co.kr/rss/40300001/"/>
    <outline title="IT" text="ignored">
      <outline xmlurl="https://rss.etnews.com/Section901.xml"/>
    </outline>
  </outline>
  <outline TEXT="Top" XMLURL="https://a.example/feed"/>
  <outline text="no feed here"/>
</body></opml>"#;
        let (bytes, _, _) = encoding_rs::EUC_KR.encode(doc);
        let feeds = read_opml(&bytes).unwrap();
        let shown: Vec<(&str, Option<&str>, Vec<&str>)> = feeds
            .iter()
            .map(|f| {
                let folders = f.folders.iter().map(String::as_str).collect();
                (f.url.as_str(), f.title.as_deref(), folders)
            })
            .collect();
        assert_eq!(
            shown,
            [
                (
                    "https://www.mk.co.kr/rss/40300001/",
                    Some("매일경제 전체"),
                    vec!["경제"]
                ),
                (
                    "https://rss.etnews.com/Section901.xml",
                    None,
                    vec!["경제", "IT"]
                ),
                ("https://a.example/feed", Some("Top"), vec![]),
            ]
        );
    }

    #[test]
    fn what_is_not_opml_says_so() {
        for bad in [
            &b"not xml at all <<<"[..],
            b"<html><body></body></html>",
            b"<opml><body><outline",
        ] {
            let err = read_opml(bad).unwrap_err();
            assert!(
                err.to_string().starts_with("it is not an OPML document"),
                "{err}"
            );
        }
        assert!(
            read_opml(b"<opml version=\"2.0\"><body/></opml>")
                .unwrap()
                .is_empty()
        );
    }
}
