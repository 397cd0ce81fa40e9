//! The XML declaration: reading its `encoding` from raw bytes, and rewriting it to UTF-8.

/// Bytes of the document searched for the declaration. It must come first, but some
/// publishers put whitespace or a comment-free blank line before it.
const SCAN: usize = 1024;

/// The `encoding` pseudo-attribute of the XML declaration, read from ASCII-compatible bytes.
pub(super) fn declared_encoding(bytes: &[u8]) -> Option<String> {
    let head = &bytes[..bytes.len().min(SCAN)];
    let (start, end) = declaration(head)?;
    let decl = std::str::from_utf8(&head[start..end]).ok()?;
    attribute(decl, "encoding").map(|(value, _)| value.to_owned())
}

/// Rewrites a declaration that names an encoding to name UTF-8, since the text now is UTF-8.
/// `None` when there is nothing to rewrite.
pub(super) fn rewrite_to_utf8(text: &str) -> Option<String> {
    let head = &text.as_bytes()[..text.len().min(SCAN)];
    let (start, end) = declaration(head)?;
    let decl = &text[start..end];
    let (value, range) = attribute(decl, "encoding")?;
    if value.eq_ignore_ascii_case("utf-8") {
        return None;
    }
    let mut out = String::with_capacity(text.len());
    out.push_str(&text[..start + range.start]);
    out.push_str("UTF-8");
    out.push_str(&text[start + range.end..]);
    Some(out)
}

/// Byte range of `<?xml … ?>` when it opens the document (after optional whitespace).
fn declaration(head: &[u8]) -> Option<(usize, usize)> {
    let start = head.iter().position(|b| !b.is_ascii_whitespace())?;
    if !head[start..].starts_with(b"<?xml") {
        return None;
    }
    let after = head.get(start + 5)?;
    if !after.is_ascii_whitespace() {
        return None;
    }
    let len = head[start..].windows(2).position(|w| w == b"?>")?;
    Some((start, start + len))
}

/// The value of `name="…"` (or `'…'`) inside a declaration, and the value's byte range.
fn attribute<'a>(decl: &'a str, name: &str) -> Option<(&'a str, std::ops::Range<usize>)> {
    let mut from = 0;
    while let Some(found) = decl[from..].find(name) {
        let at = from + found;
        from = at + name.len();
        let before_ok = decl[..at].ends_with(|c: char| c.is_ascii_whitespace());
        let rest = decl[from..].trim_start();
        if !before_ok || !rest.starts_with('=') {
            continue;
        }
        let rest = rest[1..].trim_start();
        let quote = rest.chars().next().filter(|q| *q == '"' || *q == '\'')?;
        let value_start = decl.len() - rest.len() + 1;
        let value_len = decl[value_start..].find(quote)?;
        let range = value_start..value_start + value_len;
        return Some((&decl[range.clone()], range));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_encoding_in_either_quote_style() {
        let cases: &[(&[u8], Option<&str>)] = &[
            (
                b"<?xml version=\"1.0\" encoding=\"euc-kr\"?><rss/>",
                Some("euc-kr"),
            ),
            (
                b"\n  <?xml version='1.0' encoding = 'CP949' ?><rss/>",
                Some("CP949"),
            ),
            (b"<?xml version=\"1.0\"?><rss/>", None),
            (b"<rss encoding=\"euc-kr\"/>", None),
            (b"<?xml-stylesheet href=\"a\"?><rss/>", None),
            (b"<?xml version=\"1.0\" encoding=\"euc-kr\"", None),
        ];
        for (input, expected) in cases {
            assert_eq!(
                declared_encoding(input).as_deref(),
                *expected,
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn rewrites_only_the_declaration() {
        let text = "<?xml version=\"1.0\" encoding=\"euc-kr\"?><rss><x encoding=\"euc-kr\"/></rss>";
        assert_eq!(
            rewrite_to_utf8(text).unwrap(),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss><x encoding=\"euc-kr\"/></rss>"
        );
        assert_eq!(
            rewrite_to_utf8("<?xml version=\"1.0\" encoding=\"utf-8\"?><a/>"),
            None
        );
        assert_eq!(rewrite_to_utf8("<a/>"), None);
    }
}
