//! Table tests over fixtures built here: Korean text encoded with encoding_rs, so every byte
//! sequence is known.

use super::*;

const KOREAN: &str = "이재용·올트먼 내일 회동…오픈AI, 삼성에 투자 요청할 듯";

fn euc_kr(text: &str) -> Vec<u8> {
    let (bytes, _, unmappable) = encoding_rs::EUC_KR.encode(text);
    assert!(!unmappable, "fixture text must be encodable");
    bytes.into_owned()
}

fn rss(encoding_decl: Option<&str>, title: &str) -> String {
    let decl = match encoding_decl {
        Some(label) => format!("<?xml version=\"1.0\" encoding=\"{label}\"?>"),
        None => "<?xml version=\"1.0\"?>".to_owned(),
    };
    format!("{decl}<rss version=\"2.0\"><channel><title>{title}</title></channel></rss>")
}

struct Case {
    name: &'static str,
    bytes: Vec<u8>,
    content_type: Option<&'static str>,
    encoding: &'static str,
    reason: Reason,
    title: &'static str,
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "EUC-KR declared in the prolog only",
            bytes: euc_kr(&rss(Some("euc-kr"), KOREAN)),
            content_type: Some("text/xml"),
            encoding: "EUC-KR",
            reason: Reason::Prolog,
            title: KOREAN,
        },
        Case {
            name: "EUC-KR declared in the HTTP header only",
            bytes: euc_kr(&rss(None, KOREAN)),
            content_type: Some("application/rss+xml; charset=EUC-KR"),
            encoding: "EUC-KR",
            reason: Reason::Http,
            title: KOREAN,
        },
        Case {
            name: "a CP949-only syllable under an euc-kr label",
            bytes: euc_kr(&rss(Some("euc-kr"), "똠방각하 뷁")),
            content_type: None,
            encoding: "EUC-KR",
            reason: Reason::Prolog,
            title: "똠방각하 뷁",
        },
        Case {
            name: "the Windows name CP949 in the prolog",
            bytes: euc_kr(&rss(Some("CP949"), KOREAN)),
            content_type: None,
            encoding: "EUC-KR",
            reason: Reason::Prolog,
            title: KOREAN,
        },
        Case {
            name: "header says UTF-8, prolog says EUC-KR, bytes are EUC-KR: the prolog decodes",
            bytes: euc_kr(&rss(Some("euc-kr"), KOREAN)),
            content_type: Some("text/xml; charset=utf-8"),
            encoding: "EUC-KR",
            reason: Reason::Prolog,
            title: KOREAN,
        },
        Case {
            name: "header says EUC-KR on a document converted to UTF-8 whose prolog says so",
            bytes: rss(Some("utf-8"), KOREAN).into_bytes(),
            content_type: Some("text/xml; charset=\"euc-kr\""),
            encoding: "UTF-8",
            reason: Reason::Prolog,
            title: KOREAN,
        },
        Case {
            name: "labels disagree and both decode cleanly: the prolog is preferred",
            bytes: euc_kr(&rss(Some("iso-8859-1"), "abc")),
            content_type: Some("text/xml; charset=euc-kr"),
            encoding: "windows-1252",
            reason: Reason::Prolog,
            title: "abc",
        },
        Case {
            name: "a BOM wins over both labels",
            bytes: [
                &[0xEF, 0xBB, 0xBF][..],
                rss(Some("euc-kr"), KOREAN).as_bytes(),
            ]
            .concat(),
            content_type: Some("text/xml; charset=euc-kr"),
            encoding: "UTF-8",
            reason: Reason::Bom,
            title: KOREAN,
        },
        Case {
            name: "no label, valid UTF-8",
            bytes: rss(None, KOREAN).into_bytes(),
            content_type: Some("application/xml"),
            encoding: "UTF-8",
            reason: Reason::Utf8,
            title: KOREAN,
        },
        Case {
            name: "no label, EUC-KR bytes: detected",
            bytes: euc_kr(&rss(None, &KOREAN.repeat(4))),
            content_type: None,
            encoding: "EUC-KR",
            reason: Reason::Detected,
            title: "",
        },
        Case {
            name: "UTF-16LE with a BOM",
            bytes: {
                let mut v = vec![0xFF, 0xFE];
                for unit in rss(Some("utf-16"), KOREAN).encode_utf16() {
                    v.extend_from_slice(&unit.to_le_bytes());
                }
                v
            },
            content_type: Some("text/xml; charset=euc-kr"),
            encoding: "UTF-16LE",
            reason: Reason::Bom,
            title: KOREAN,
        },
        Case {
            name: "UTF-16BE without a BOM, told by the spelling of '<'",
            bytes: rss(Some("utf-16"), KOREAN)
                .encode_utf16()
                .flat_map(u16::to_be_bytes)
                .collect(),
            content_type: None,
            encoding: "UTF-16BE",
            reason: Reason::BytePattern,
            title: KOREAN,
        },
        Case {
            name: "UTF-32LE with a BOM",
            bytes: [0xFF, 0xFE, 0, 0]
                .into_iter()
                .chain(
                    rss(None, KOREAN)
                        .chars()
                        .flat_map(|c| (c as u32).to_le_bytes()),
                )
                .collect(),
            content_type: None,
            encoding: "UTF-32LE",
            reason: Reason::Bom,
            title: KOREAN,
        },
        Case {
            name: "a UTF-16 label on ASCII-compatible bytes is ignored",
            bytes: rss(Some("utf-16"), KOREAN).into_bytes(),
            content_type: None,
            encoding: "UTF-8",
            reason: Reason::Utf8,
            title: KOREAN,
        },
    ]
}

#[test]
fn charsets_are_chosen_by_the_spec_rules() {
    for case in cases() {
        let decoded = decode(&case.bytes, case.content_type, Some("kr"))
            .unwrap_or_else(|e| panic!("{}: {e}", case.name));
        assert_eq!(decoded.encoding, case.encoding, "{}", case.name);
        assert_eq!(decoded.reason, case.reason, "{}", case.name);
        if !case.title.is_empty() {
            assert!(
                decoded
                    .text
                    .contains(&format!("<title>{}</title>", case.title)),
                "{}: got {:?}",
                case.name,
                decoded.text
            );
            assert!(!decoded.lossy, "{}", case.name);
        } else {
            assert!(
                decoded.text.contains(KOREAN),
                "{}: got {:?}",
                case.name,
                decoded.text
            );
        }
        assert!(
            !decoded.text.starts_with('\u{feff}'),
            "{}: BOM left in the text",
            case.name
        );
        // The parser must never see a label for an encoding the text is no longer in.
        let head: String = decoded
            .text
            .chars()
            .take(60)
            .collect::<String>()
            .to_ascii_lowercase();
        assert!(
            !head.contains("euc-kr") && !head.contains("utf-16"),
            "{}: {head}",
            case.name
        );
    }
}

#[test]
fn strict_euc_kr_would_fail_on_the_cp949_syllable() {
    // Guards the fixture itself: 똠 is outside KS X 1001, so a decoder that read "euc-kr" as
    // the strict standard would lose it. encoding_rs's EUC-KR is windows-949.
    let bytes = euc_kr("똠");
    assert_eq!(bytes[0], 0x8C, "똠 is encoded in the UHC extension range");
}

#[test]
fn empty_documents_are_an_error() {
    assert_eq!(decode(b"", None, None), Err(DecodeError::Empty));
    assert_eq!(decode(b" \n\t", None, None), Err(DecodeError::Empty));
}

#[test]
fn windows_949_labels_are_recognised() {
    for label in [
        "euc-kr",
        "EUC-KR",
        "cp949",
        "ms949",
        "ks_c_5601-1987",
        "x-windows-949",
        " \"uhc\" ",
    ] {
        assert_eq!(
            encoding_for_label(label),
            Some(encoding_rs::EUC_KR),
            "{label}"
        );
    }
    assert_eq!(
        encoding_for_label("iso-2022-kr"),
        None,
        "the replacement encoding is no use"
    );
    assert_eq!(encoding_for_label("klingon"), None);
}

/// Regression (chardet conformance): `encoding="MacCyrillic"` is not a WHATWG label, so such
/// feeds went to detection and came out as windows-1251 mojibake ("Љак" for "Как").
#[test]
fn mac_cyrillic_prologs_are_understood() {
    for label in [
        "MacCyrillic",
        "mac-cyrillic",
        "x-mac-cyrillic",
        "x-MacCyrillic",
    ] {
        assert_eq!(
            encoding_for_label(label),
            Some(encoding_rs::X_MAC_CYRILLIC),
            "{label}"
        );
    }
    let (bytes, _, _) = encoding_rs::X_MAC_CYRILLIC.encode(
        "<?xml version=\"1.0\" encoding=\"MacCyrillic\"?><rss><channel><title>Как пережить новогоднюю ночь</title></channel></rss>",
    );
    let decoded = decode(&bytes, None, Some("ru")).unwrap();
    assert_eq!(decoded.encoding, "x-mac-cyrillic");
    assert!(decoded.text.contains("Как пережить"), "{}", decoded.text);
}
