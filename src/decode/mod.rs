//! Bytes to UTF-8 text: choosing the charset by SPEC.md's rules and converting.
//!
//! Owns charset selection (BOM, HTTP `charset`, the XML prolog's `encoding`, UTF-8 validity,
//! then chardetng's detection) and hands the parser UTF-8 text whose prolog no longer names
//! another encoding: feed-rs only sees bytes, misreads labels such as `CP949`, and panics on
//! some non-UTF-8 prologs (CRATES.md). It never parses XML beyond the prolog.

mod prolog;

use std::borrow::Cow;

use encoding_rs::Encoding;

/// A document converted to UTF-8.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    /// The text, without BOM, its XML declaration rewritten to say UTF-8.
    pub text: String,
    /// Name of the encoding used (WHATWG names, e.g. `EUC-KR` for windows-949, plus `UTF-32LE`
    /// and `UTF-32BE`, which the Encoding Standard leaves out).
    pub encoding: &'static str,
    /// How the encoding was chosen, for `inspect` and logs.
    pub reason: Reason,
    /// Whether some bytes were invalid in that encoding and became U+FFFD.
    pub lossy: bool,
}

/// Why an encoding was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// A byte order mark.
    Bom,
    /// The byte pattern of `<` in UTF-16/32 without a BOM (XML 1.0 appendix F).
    BytePattern,
    /// The HTTP `Content-Type` charset.
    Http,
    /// The XML declaration's `encoding`.
    Prolog,
    /// No label: the bytes are valid UTF-8.
    Utf8,
    /// No usable label, not UTF-8: guessed by chardetng.
    Detected,
}

/// Why a document could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Zero bytes, or only whitespace.
    #[error("the document is empty")]
    Empty,
}

/// Converts `bytes` to UTF-8 following SPEC.md's charset rules.
///
/// `content_type` is the HTTP `Content-Type` header, if any; `tld` the feed host's top-level
/// domain (e.g. `kr`), which sharpens detection when nothing declares a charset.
pub fn decode(
    bytes: &[u8],
    content_type: Option<&str>,
    tld: Option<&str>,
) -> Result<Decoded, DecodeError> {
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(DecodeError::Empty);
    }
    // 1. A BOM wins over every label.
    if let Some((wide, bom_len)) = utf32_bom(bytes) {
        return Ok(finish(
            decode_utf32(&bytes[bom_len..], wide),
            wide.name(),
            Reason::Bom,
        ));
    }
    if let Some((encoding, bom_len)) = Encoding::for_bom(bytes) {
        return Ok(with(encoding, &bytes[bom_len..], Reason::Bom));
    }
    // 2. UTF-16/32 announce themselves by how `<` is spelled; labels cannot be read otherwise.
    if let Some(wide) = utf32_pattern(bytes) {
        return Ok(finish(
            decode_utf32(bytes, wide),
            wide.name(),
            Reason::BytePattern,
        ));
    }
    if let Some(encoding) = utf16_pattern(bytes) {
        return Ok(with(encoding, bytes, Reason::BytePattern));
    }
    // 3. Labels. A UTF-16 label on ASCII-compatible bytes is wrong by construction (the
    // document was converted and the label kept), so it is no candidate.
    let http = content_type
        .and_then(charset_param)
        .and_then(|l| ascii_compatible_label(&l));
    let declared = prolog::declared_encoding(bytes).and_then(|l| ascii_compatible_label(&l));
    match (http, declared) {
        (Some(h), Some(p)) if h == p => Ok(with(p, bytes, Reason::Prolog)),
        (Some(h), None) => Ok(with(h, bytes, Reason::Http)),
        (None, Some(p)) => Ok(with(p, bytes, Reason::Prolog)),
        (Some(h), Some(p)) => {
            if clean(p, bytes) {
                Ok(with(p, bytes, Reason::Prolog))
            } else if clean(h, bytes) {
                Ok(with(h, bytes, Reason::Http))
            } else {
                Ok(with(p, bytes, Reason::Prolog))
            }
        }
        (None, None) => {
            if std::str::from_utf8(bytes).is_ok() {
                return Ok(with(encoding_rs::UTF_8, bytes, Reason::Utf8));
            }
            let mut detector =
                chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Deny);
            detector.feed(bytes, true);
            // chardetng asserts on anything but a lowercase ASCII label without dots.
            let tld = tld.map(str::to_ascii_lowercase).filter(|t| {
                !t.is_empty() && t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            });
            let guess = detector.guess(
                tld.as_deref().map(str::as_bytes),
                chardetng::Utf8Detection::Deny,
            );
            Ok(with(guess, bytes, Reason::Detected))
        }
    }
}

/// Decodes with `encoding` (BOM already removed) and rewrites the prolog.
fn with(encoding: &'static Encoding, bytes: &[u8], reason: Reason) -> Decoded {
    let (text, lossy) = encoding.decode_without_bom_handling(bytes);
    finish((text, lossy), encoding.name(), reason)
}

fn finish((text, lossy): (Cow<'_, str>, bool), name: &'static str, reason: Reason) -> Decoded {
    let body = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let text = prolog::rewrite_to_utf8(body).unwrap_or_else(|| body.to_owned());
    Decoded {
        text,
        encoding: name,
        reason,
        lossy,
    }
}

fn clean(encoding: &'static Encoding, bytes: &[u8]) -> bool {
    encoding
        .decode_without_bom_handling_and_without_replacement(bytes)
        .is_some()
}

/// Resolves a charset label by the WHATWG Encoding Standard, plus the Windows and IANA names
/// Korean publishers actually write for windows-949, and the Java/Python names of Mac
/// Cyrillic (`MacCyrillic`), which the Standard does not list.
pub fn encoding_for_label(label: &str) -> Option<&'static Encoding> {
    let label = label.trim().trim_matches(|c| c == '"' || c == '\'');
    let lower = label.to_ascii_lowercase();
    let found = match lower.as_str() {
        "cp949" | "ms949" | "uhc" | "windows-949" | "x-windows-949" | "euc_kr" | "ks_c_5601"
        | "ksc5601" => Some(encoding_rs::EUC_KR),
        "maccyrillic" | "mac-cyrillic" | "mac_cyrillic" | "x-maccyrillic" => {
            Some(encoding_rs::X_MAC_CYRILLIC)
        }
        _ => Encoding::for_label(lower.as_bytes()),
    };
    // `replacement` turns every byte into U+FFFD: no use for a feed, treat as unknown.
    found.filter(|e| *e != encoding_rs::REPLACEMENT)
}

fn ascii_compatible_label(label: &str) -> Option<&'static Encoding> {
    encoding_for_label(label).filter(|e| e.is_ascii_compatible())
}

/// The `charset` parameter of a `Content-Type` value.
fn charset_param(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|param| {
        let (name, value) = param.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| value.trim().trim_matches('"').to_owned())
    })
}

#[derive(Debug, Clone, Copy)]
enum Utf32 {
    Le,
    Be,
}

impl Utf32 {
    fn name(self) -> &'static str {
        match self {
            Utf32::Le => "UTF-32LE",
            Utf32::Be => "UTF-32BE",
        }
    }
}

fn utf32_bom(bytes: &[u8]) -> Option<(Utf32, usize)> {
    match bytes.get(..4)? {
        [0xFF, 0xFE, 0, 0] => Some((Utf32::Le, 4)),
        [0, 0, 0xFE, 0xFF] => Some((Utf32::Be, 4)),
        _ => None,
    }
}

fn utf32_pattern(bytes: &[u8]) -> Option<Utf32> {
    match bytes.get(..4)? {
        [b'<' | b'{', 0, 0, 0] => Some(Utf32::Le),
        [0, 0, 0, b'<' | b'{'] => Some(Utf32::Be),
        _ => None,
    }
}

fn utf16_pattern(bytes: &[u8]) -> Option<&'static Encoding> {
    match bytes.get(..4)? {
        [b'<' | b'{', 0, c, 0] if *c != 0 => Some(encoding_rs::UTF_16LE),
        [0, b'<' | b'{', 0, c] if *c != 0 => Some(encoding_rs::UTF_16BE),
        _ => None,
    }
}

/// encoding_rs has no UTF-32 (the Encoding Standard dropped it); feeds in it still exist.
fn decode_utf32(bytes: &[u8], order: Utf32) -> (Cow<'static, str>, bool) {
    let mut out = String::with_capacity(bytes.len() / 4);
    let mut lossy = !bytes.len().is_multiple_of(4);
    for unit in bytes.chunks_exact(4) {
        let unit: [u8; 4] = unit.try_into().expect("chunks of four");
        let code = match order {
            Utf32::Le => u32::from_le_bytes(unit),
            Utf32::Be => u32::from_be_bytes(unit),
        };
        match char::from_u32(code) {
            Some(c) => out.push(c),
            None => {
                lossy = true;
                out.push('\u{FFFD}');
            }
        }
    }
    (Cow::Owned(out), lossy)
}

#[cfg(test)]
mod tests;
