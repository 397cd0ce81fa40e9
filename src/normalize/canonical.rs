//! Canonical links: the form under which the same article from two feeds compares equal.

use url::Url;

/// Query parameters that only track the reader. Any parameter starting with `utm_` is one too.
const TRACKING: &[&str] = &[
    "fbclid",
    "gclid",
    "dclid",
    "gbraid",
    "wbraid",
    "msclkid",
    "yclid",
    "twclid",
    "ttclid",
    "mc_cid",
    "mc_eid",
    "igshid",
    "ref_src",
    "ref_url",
    "_hsenc",
    "_hsmi",
    "mkt_tok",
    "oly_anon_id",
    "oly_enc_id",
    "vero_id",
    "wickedid",
    "__twitter_impression",
];

/// The canonical form of `raw`, resolved against `base` when relative: scheme and host
/// lowercased, default port and fragment dropped, tracking parameters removed, the other
/// query parameters kept in their order and spelling. `None` for anything but http(s).
pub fn canonical_link(raw: &str, base: Option<&Url>) -> Option<String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    let mut url = match Url::parse(raw) {
        Ok(url) => url,
        Err(url::ParseError::RelativeUrlWithoutBase) => base?.join(raw).ok()?,
        Err(_) => return None,
    };
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        return None;
    }
    url.set_fragment(None);
    if let Some(query) = url.query() {
        let kept: Vec<&str> = query
            .split('&')
            .filter(|pair| !pair.is_empty() && !is_tracking(pair.split('=').next().unwrap_or("")))
            .collect();
        let kept = kept.join("&");
        url.set_query((!kept.is_empty()).then_some(kept.as_str()));
    }
    Some(url.into())
}

fn is_tracking(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name.starts_with("utm_") || TRACKING.contains(&name.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_canonicalized() {
        let base = Url::parse("https://www.mk.co.kr/rss/40300001/").unwrap();
        let cases = [
            (
                "HTTPS://WWW.MK.CO.KR:443/news/it/1?utm_source=rss&id=7#top",
                Some("https://www.mk.co.kr/news/it/1?id=7"),
            ),
            ("http://a.kr:80/x?b=2&a=1", Some("http://a.kr/x?b=2&a=1")),
            ("http://a.kr:8080/x", Some("http://a.kr:8080/x")),
            (
                "https://a.kr/x?fbclid=1&utm_medium=f&gclid=2",
                Some("https://a.kr/x"),
            ),
            (
                "https://a.kr/x?ref=home&UTM_Campaign=z&mc_cid=1&mc_eid=2&igshid=3&ref_src=4",
                Some("https://a.kr/x?ref=home"),
            ),
            ("/news/it/11", Some("https://www.mk.co.kr/news/it/11")),
            (
                "  https://a.kr/기사?id=1  ",
                Some("https://a.kr/%EA%B8%B0%EC%82%AC?id=1"),
            ),
            ("mailto:a@b.kr", None),
            ("javascript:alert(1)", None),
            ("", None),
            ("http://", None),
        ];
        for (input, expected) in cases {
            assert_eq!(
                canonical_link(input, Some(&base)).as_deref(),
                expected,
                "{input}"
            );
        }
        assert_eq!(canonical_link("/relative", None), None);
    }

    #[test]
    fn canonicalization_is_idempotent() {
        for input in [
            "HTTPS://A.kr:443/x?utm_a=1&b=2#f",
            "http://a.kr/x?&&b=2&",
            "https://a.kr/%7Euser?q=a%20b",
        ] {
            let once = canonical_link(input, None).unwrap();
            assert_eq!(canonical_link(&once, None).unwrap(), once, "{input}");
        }
    }
}
