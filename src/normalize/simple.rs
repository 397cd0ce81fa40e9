//! The sanitizer's fast path: the markup most feeds send (paragraphs, emphasis, lists, links
//! and images), checked and rewritten in one linear scan instead of an HTML parse, a DOM walk
//! and a serialization in ammonia.
//!
//! It answers only for fragments it understands completely, and then exactly as ammonia's
//! defaults would: the same elements, the attributes ammonia keeps (others dropped), URLs with
//! an allowed scheme kept as written, relative ones resolved against the base, and
//! `rel="noopener noreferrer"` on links, a plain `&` (`R&D`) escaped. Anything else (an
//! element outside [`ELEMENTS`], a comment, a stray `<` or `>`, an `&` a parser might read as a
//! reference it does not know, an unquoted or repeated attribute, a URL it would have to judge,
//! nesting an HTML parser would rearrange) answers `None`, and ammonia takes the fragment.
//! Pure; owns no policy of its own beyond that subset.

use url::Url;

use crate::html::decode_reference;

/// Elements the fast path writes: ammonia allows all of them by default, none loads a script
/// or a frame, and none makes an HTML parser move content around (no tables, no forms).
const ELEMENTS: &[&str] = &[
    "a",
    "b",
    "blockquote",
    "br",
    "code",
    "div",
    "em",
    "figcaption",
    "figure",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "img",
    "li",
    "ol",
    "p",
    "pre",
    "s",
    "small",
    "span",
    "strong",
    "sub",
    "sup",
    "u",
    "ul",
];

/// Elements without content or end tag.
const VOID: &[&str] = &["br", "hr", "img"];

/// Elements whose start tag closes an open `<p>` in an HTML parser (`<p>a<div>` is two
/// siblings, not a nesting): the fast path declines rather than rearrange.
const CLOSES_P: &[&str] = &[
    "blockquote",
    "div",
    "figcaption",
    "figure",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "li",
    "ol",
    "p",
    "pre",
    "ul",
];

/// Deepest nesting the fast path follows; deeper fragments go to ammonia (and its depth
/// guard).
const MAX_DEPTH: usize = 64;

/// Bytes that end a run of text: markup, references, and what parsers rewrite (NUL, CR).
/// Never inside a multi-byte UTF-8 sequence, so a byte search is a character search.
fn is_special(b: u8) -> bool {
    matches!(b, b'<' | b'>' | b'&' | b'\0' | b'\r')
}

/// The element of [`ELEMENTS`] a tag name spells, in any case.
fn element(name: &str) -> Option<&'static str> {
    if name.is_empty() || name.len() > 10 {
        return None;
    }
    let mut lower = [0u8; 10];
    lower[..name.len()].copy_from_slice(name.as_bytes());
    lower.make_ascii_lowercase();
    let lower = &lower[..name.len()];
    ELEMENTS.iter().copied().find(|e| e.as_bytes() == lower)
}

/// Whether ammonia keeps attribute `attr` on `element` (its default generic and per-element
/// attributes, for the elements above).
fn keeps(element: &str, attr: &str) -> bool {
    matches!(attr, "lang" | "title")
        || matches!(
            (element, attr),
            ("a", "href" | "hreflang")
                | ("img", "align" | "alt" | "height" | "src" | "width")
                | ("hr", "align" | "size" | "width")
                | ("blockquote", "cite")
                | ("ol", "start")
        )
}

/// Whether `attr` on `element` holds a URL ammonia checks and resolves.
fn is_url(element: &str, attr: &str) -> bool {
    matches!((element, attr), ("a", "href") | ("img", "src"))
}

/// `html` sanitized as ammonia's defaults would, with relative URLs resolved against `base`;
/// `None` when the fragment is not in the subset this fast path understands.
pub(super) fn clean(html: &str, base: Option<&Url>) -> Option<String> {
    let mut out = String::with_capacity(html.len() + html.len() / 8);
    let mut open: Vec<&'static str> = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.bytes().position(is_special) {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        match rest.as_bytes()[0] {
            // Parsers read CR LF and a lone CR as LF.
            b'\r' => {
                out.push('\n');
                rest = rest.strip_prefix("\r\n").unwrap_or(&rest[1..]);
            }
            b'&' => match reference(rest) {
                Some((_, len)) => {
                    out.push_str(&rest[..len]);
                    rest = &rest[len..];
                }
                None if is_plain_ampersand(rest) => {
                    out.push_str("&amp;");
                    rest = &rest[1..];
                }
                None => return None,
            },
            b'<' => rest = tag(rest, &mut open, &mut out, base)?,
            // A stray `>`, or a NUL (which parsers drop or replace).
            _ => return None,
        }
    }
    out.push_str(rest);
    open.is_empty().then_some(out)
}

/// Reads the tag at the start of `s` (which begins with `<`), writes its clean form to `out`
/// and returns what follows it.
fn tag<'a>(
    s: &'a str,
    open: &mut Vec<&'static str>,
    out: &mut String,
    base: Option<&Url>,
) -> Option<&'a str> {
    let (closing, after) = match s[1..].strip_prefix('/') {
        Some(after) => (true, after),
        None => (false, &s[1..]),
    };
    let name_len = after.bytes().take_while(u8::is_ascii_alphanumeric).count();
    let element = element(&after[..name_len])?;
    let mut rest = &after[name_len..];
    if closing {
        rest = rest.trim_start_matches(is_space).strip_prefix('>')?;
        if VOID.contains(&element) || open.pop() != Some(element) {
            return None;
        }
        out.push_str("</");
        out.push_str(element);
        out.push('>');
        return Some(rest);
    }
    if rearranged(element, open) {
        return None;
    }
    out.push('<');
    out.push_str(element);
    rest = attributes(rest, element, out, base)?;
    if element == "a" {
        out.push_str(" rel=\"noopener noreferrer\"");
    }
    out.push('>');
    if element == "pre" && rest.starts_with(['\n', '\r']) {
        // A parser drops a newline right after `<pre>`.
        return None;
    }
    if !VOID.contains(&element) {
        if open.len() == MAX_DEPTH {
            return None;
        }
        open.push(element);
    }
    Some(rest)
}

/// Reads the attributes of an opening `element` tag up to its `>` or `/>`, writes those kept
/// (URLs made absolute against `base`) to `out`, and returns what follows the tag.
#[inline]
fn attributes<'a>(
    mut rest: &'a str,
    element: &str,
    out: &mut String,
    base: Option<&Url>,
) -> Option<&'a str> {
    let mut seen: Vec<&str> = Vec::new();
    loop {
        let trimmed = rest.trim_start_matches(is_space);
        if let Some(after) = trimmed.strip_prefix('>') {
            return Some(after);
        }
        if let Some(after) = trimmed.strip_prefix("/>") {
            return Some(after);
        }
        // Attributes are separated by whitespace.
        if trimmed.len() == rest.len() {
            return None;
        }
        let (name, value, after) = attribute(trimmed)?;
        if seen.iter().any(|n| n.eq_ignore_ascii_case(name)) {
            // The first of two wins in a parser; not worth following here.
            return None;
        }
        seen.push(name);
        let name = name.to_ascii_lowercase();
        if keeps(element, &name) {
            let value = decoded(value)?;
            let value = if is_url(element, &name) {
                url_value(&value, base)?
            } else {
                value
            };
            out.push(' ');
            out.push_str(&name);
            out.push_str("=\"");
            push_attribute_value(out, &value);
            out.push('"');
        }
        rest = after;
    }
}

/// Whether an HTML parser would close or move elements when `element` opens inside `open`
/// (an open `<p>` closed by a block, `<a>` in `<a>`, `<li>` in `<li>`, a heading in a
/// heading). Conservative: some nestings it declines are ones a parser would keep.
fn rearranged(element: &str, open: &[&str]) -> bool {
    let in_list_item = || {
        open.iter()
            .rev()
            .take_while(|e| !matches!(**e, "ul" | "ol"))
            .any(|e| *e == "li")
    };
    open.contains(&"p") && CLOSES_P.contains(&element)
        || element == "a" && open.contains(&"a")
        || element == "li" && in_list_item()
        || is_heading(element) && open.iter().any(|e| is_heading(e))
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0C')
}

fn is_heading(element: &str) -> bool {
    matches!(element, "h1" | "h2" | "h3" | "h4" | "h5" | "h6")
}

/// `name="value"` or `name='value'` at the start of `s`: the name, the raw value and what
/// follows. No `<` or `>` in the value, no space around `=`, no unquoted values.
fn attribute(s: &str) -> Option<(&str, &str, &str)> {
    let name_len = s
        .bytes()
        .take_while(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_')
        .count();
    if name_len == 0 {
        return None;
    }
    let (name, rest) = s.split_at(name_len);
    let rest = rest.strip_prefix('=')?;
    let quote = rest.chars().next().filter(|c| matches!(c, '"' | '\''))?;
    let rest = &rest[1..];
    let end = rest.find(quote)?;
    let value = &rest[..end];
    if value.contains(['<', '>']) {
        return None;
    }
    Some((name, value, &rest[end + 1..]))
}

/// An attribute value with its character references decoded and its line breaks read as LF;
/// `None` at an `&` whose reading is not plain.
fn decoded(raw: &str) -> Option<String> {
    let mut value = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(i) = rest.find(['&', '\r']) {
        value.push_str(&rest[..i]);
        rest = &rest[i..];
        if let Some(after) = rest.strip_prefix('\r') {
            value.push('\n');
            rest = after.strip_prefix('\n').unwrap_or(after);
        } else if let Some((c, len)) = reference(rest) {
            value.push(c);
            rest = &rest[len..];
        } else if is_plain_ampersand(rest) {
            value.push('&');
            rest = &rest[1..];
        } else {
            return None;
        }
    }
    value.push_str(rest);
    Some(value)
}

/// A link or image URL as ammonia leaves it: absolute with a scheme it allows, kept as
/// written; relative, resolved against `base`. Other schemes, a missing base and unparsable
/// URLs are left to ammonia.
fn url_value(value: &str, base: Option<&Url>) -> Option<String> {
    match Url::parse(value) {
        Ok(url) => matches!(url.scheme(), "http" | "https" | "mailto").then(|| value.to_owned()),
        Err(url::ParseError::RelativeUrlWithoutBase) => {
            base?.join(value).ok().map(|url| url.as_str().to_owned())
        }
        Err(_) => None,
    }
}

/// The character reference at the start of `s`, when an HTML parser reads it as written:
/// `&#128;` to `&#159;` mean windows-1252's characters there, so they are left to ammonia.
fn reference(s: &str) -> Option<(char, usize)> {
    decode_reference(s).filter(|(c, _)| !('\u{80}'..='\u{9F}').contains(c))
}

/// Names HTML reads as character references even without their `;` (the standard's legacy
/// list): `&copy2024` reads "©2024", so an `&` before one of them is not plain text.
const LEGACY_REFERENCES: &[&str] = &[
    "AElig", "AMP", "Aacute", "Acirc", "Agrave", "Aring", "Atilde", "Auml", "COPY", "Ccedil",
    "ETH", "Eacute", "Ecirc", "Egrave", "Euml", "GT", "Iacute", "Icirc", "Igrave", "Iuml", "LT",
    "Ntilde", "Oacute", "Ocirc", "Ograve", "Oslash", "Otilde", "Ouml", "QUOT", "REG", "THORN",
    "Uacute", "Ucirc", "Ugrave", "Uuml", "Yacute", "aacute", "acirc", "acute", "aelig", "agrave",
    "amp", "aring", "atilde", "auml", "brvbar", "ccedil", "cedil", "cent", "copy", "curren", "deg",
    "divide", "eacute", "ecirc", "egrave", "eth", "euml", "frac12", "frac14", "frac34", "gt",
    "iacute", "icirc", "iexcl", "igrave", "iquest", "iuml", "laquo", "lt", "macr", "micro",
    "middot", "nbsp", "not", "ntilde", "oacute", "ocirc", "ograve", "ordf", "ordm", "oslash",
    "otilde", "ouml", "para", "plusmn", "pound", "quot", "raquo", "reg", "sect", "shy", "sup1",
    "sup2", "sup3", "szlig", "thorn", "times", "uacute", "ucirc", "ugrave", "uml", "uuml",
    "yacute", "yen", "yuml",
];

/// Whether the `&` starting `s` is plain text to an HTML parser (`R&D`, `AT&T`, `a & b`):
/// followed by neither a number sign nor a name, or by a name that is no reference, has no
/// `;` and starts with none of [`LEGACY_REFERENCES`].
fn is_plain_ampersand(s: &str) -> bool {
    let after = &s[1..];
    let name = after.bytes().take_while(u8::is_ascii_alphanumeric).count();
    if name == 0 {
        return !after.starts_with('#');
    }
    !after[name..].starts_with(';')
        && !LEGACY_REFERENCES
            .iter()
            .any(|legacy| after[..name].starts_with(legacy))
}

/// Escapes an attribute value the way HTML serializers do: `&`, `"` and no-break spaces.
fn push_attribute_value(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\u{00A0}' => out.push_str("&nbsp;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests;
